"""What losscheck writes. Writing can fail (a closed standard output, a reader that went away,
a full disk): one line on stderr (none for a broken pipe) and exit 2, never a traceback. And what
it says must be true and read well: the settings it shows, the rule messages it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BATCH_MEAN = "import tensorflow as tf\n\n\ndef seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
LAYOUT = '{"version": 1, "outputs": [{"name": "seg", "tasks": [{"name": "m", "type": "binary", "units": 1}]}]}\n'

# Each command writes something to standard output. The entry point's handler words the error
# for all of them; `gen` and `schema` may word their own (a generated module cut short by a
# broken pipe is worth a message there), so for them only the shared guarantee is checked.
LINT_COMMANDS = [
    ("lint", "loss.py"),
    ("lint", "--format", "json", "loss.py"),
    ("rules",),
    ("explain", "LCK101"),
    ("config",),
]
GEN_COMMANDS = [
    ("schema",),
    ("gen", "layout.json", "-o", "-"),
]
COMMANDS = LINT_COMMANDS + GEN_COMMANDS


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "loss.py").write_text(BATCH_MEAN)
    (tmp_path / "layout.json").write_text(LAYOUT)
    return tmp_path


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "LOSSCHECK_CACHE_DIR": str(tree / ".cache-test")}


def _shell(tree: Path, redirect: str, *args: str) -> subprocess.CompletedProcess:
    """Run losscheck through sh, so the redirection is the shell's own (`>&-`, `>/dev/full`)."""
    script = f'exec "$0" -m losscheck "$@" {redirect}'
    return subprocess.run(
        ["sh", "-c", script, sys.executable, *args],
        cwd=tree, check=False, capture_output=True, text=True, env=_env(tree), timeout=120,
    )


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args", LINT_COMMANDS, ids=lambda a: " ".join(a))
def test_closed_stdout_is_one_line_and_exit_2(tree, args):
    line = _one_error_line(_shell(tree, ">&-", *args))
    assert line == "losscheck: error: cannot write the output: standard output is closed"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", LINT_COMMANDS, ids=lambda a: " ".join(a))
def test_full_disk_is_one_line_and_exit_2(tree, args):
    line = _one_error_line(_shell(tree, ">/dev/full", *args))
    assert line == "losscheck: error: cannot write the output: No space left on device"


@pytest.mark.parametrize("args", LINT_COMMANDS, ids=lambda a: " ".join(a))
def test_broken_pipe_is_quiet_and_nonzero(tree, args):
    returncode, stderr = _broken_pipe(tree, *args)
    assert returncode == 2 and stderr == "", stderr


@pytest.mark.parametrize("args", GEN_COMMANDS, ids=lambda a: " ".join(a))
def test_gen_output_errors_are_one_line_and_exit_2(tree, args):
    for redirect in (">&-", ">/dev/full") if os.path.exists("/dev/full") else (">&-",):
        assert _one_error_line(_shell(tree, redirect, *args)).startswith("losscheck: error: ")
    returncode, stderr = _broken_pipe(tree, *args)
    assert returncode != 0 and "Traceback" not in stderr and len(stderr.splitlines()) <= 1, stderr


def _broken_pipe(tree: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "losscheck", *args],
        cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tree),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (like `| head -0`)
    stderr = proc.stderr.read().decode()
    return proc.wait(timeout=120), stderr


def test_broken_pipe_through_a_real_pipeline(tree):
    # `head -c 0` exits at once; the shell reports losscheck's own status through pipefail-free $PIPESTATUS
    proc = subprocess.run(
        ["bash", "-c", '"$0" -m losscheck lint loss.py | head -c 0; exit "${PIPESTATUS[0]}"', sys.executable],
        cwd=tree, check=False, capture_output=True, text=True, env=_env(tree), timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr == "", proc.stderr


def test_errors_from_other_writes_are_not_called_output_errors(tree):
    # a command that writes a file it cannot write says so, not "cannot write the output"
    (tree / "out").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "schema", "-o", "out"],
        cwd=tree, check=False, capture_output=True, text=True, env=_env(tree), timeout=120,
    )
    assert "cannot write the output" not in proc.stderr


# -- what the messages say ---------------------------------------------------------------------


def _losscheck(tree: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "losscheck", *args],
        cwd=tree, check=False, capture_output=True, text=True, env=_env(tree), timeout=120,
    )


def test_config_shows_the_real_default_output_format(tree):
    from losscheck.lint.reporters import FORMATS

    text = _losscheck(tree, "config").stdout
    assert 'output_format = "full"' in text, text
    data = json.loads(_losscheck(tree, "config", "--format", "json").stdout)
    assert data["output_format"] == "full" and data["output_format"] in FORMATS
    # the config file's value, and --format on lint, still win
    (tree / "pyproject.toml").write_text('[tool.losscheck]\noutput-format = "concise"\n')
    assert 'output_format = "concise"' in _losscheck(tree, "config").stdout
    shown = _losscheck(tree, "lint", "--format", "json", "--show-settings").stdout
    assert 'output_format = "json"' in shown


GATHER = """import keras
import tensorflow as tf


def pick(y_true, y_pred):
    chosen = tf.gather(y_pred, [0, 2])
    return tf.reduce_mean(tf.square(y_true - chosen), axis=-1)


def pick_axis0(y_true, y_pred):
    chosen = tf.gather(y_pred, [0, 2], axis=0)
    return tf.reduce_mean(tf.square(y_true - chosen), axis=-1)


def take_flat(y_true, y_pred):
    chosen = keras.ops.take(y_pred, [0, 2])
    return tf.reduce_mean(tf.square(y_true - chosen), axis=-1)


def arg_axis0(y_true, y_pred):
    hit = tf.cast(tf.equal(tf.argmax(y_true, axis=0), tf.argmax(y_pred, axis=-1)), tf.float32)
    return 1.0 - hit


def arg_flat(y_true, y_pred):
    hit = tf.cast(tf.equal(keras.ops.argmax(y_true), tf.argmax(y_pred, axis=-1)), tf.float32)
    return 1.0 - hit


def cat_default(y_true, y_pred):
    both = keras.ops.concatenate([y_pred[:, 0:1], y_pred[:, 2:3]])
    return tf.reduce_mean(tf.square(y_true - both), axis=-1)
"""


def test_wrong_axis_messages_read_as_sentences(tree):
    (tree / "axes.py").write_text(GATHER)
    proc = _losscheck(tree, "lint", "--no-cache", "--select", "LCK102", "--format", "json", "axes.py")
    messages = {r["line"]: r["message"] for r in json.loads(proc.stdout)}
    assert messages[6] == (
        "`tf.gather` without an axis gathers along axis 0 of `y_pred`, the batch axis: it picks samples "
        "of the batch, not channels. Pass `axis=-1` to pick channels."
    )
    assert messages[11] == (
        "`tf.gather` with axis=0 gathers along axis 0 of `y_pred`, the batch axis: it picks samples "
        "of the batch, not channels. Pass `axis=-1` to pick channels."
    )
    assert messages[16] == (
        "`keras.ops.take` without an axis flattens `y_pred` first, batch axis included: the indices pick "
        "single values of the whole batch, not channels. Pass `axis=-1` to pick channels."
    )
    assert messages[21].startswith("`tf.argmax` with axis=0 works along axis 0 of `y_true`, the batch axis:")
    assert messages[26].startswith("`keras.ops.argmax` without an axis flattens `y_true` first, batch axis included:")
    assert messages[31].startswith("`keras.ops.concatenate` without an axis stacks the channel slices")
    for message in messages.values():  # no two verbs in a row: "with no axis uses axis 0 gathers"
        assert "uses axis 0 gathers" not in message and "flattens the batch gathers" not in message


def test_a_long_report_reaches_a_pipe_whole_and_the_exit_code_is_kept(tmp_path):
    """The console entry ends the process without the interpreter's teardown (``cli.run``):
    everything written must still reach the reader, and the exit code must be the run's."""
    body = "".join(f"def loss_{i}(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n\n\n"
                   for i in range(600))
    (tmp_path / "many.py").write_text("import tensorflow as tf\n\n\n" + body)
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--output-format", "concise", "many.py"],
        cwd=tmp_path, check=False, capture_output=True, text=True, env=_env(tmp_path), timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    findings = [line for line in proc.stdout.splitlines() if " LCK101 " in line]
    assert len(findings) == 600 and len(proc.stdout) > 65_536  # more than a pipe holds at once
    assert proc.stdout.splitlines()[-1] == "Found 600 errors.", proc.stdout[-300:]


def test_the_quick_exit_waits_for_what_could_still_need_the_interpreter():
    import threading

    from losscheck.cli import _can_exit_at_once

    assert _can_exit_at_once()
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # not a daemon: a normal exit waits for it
    worker.start()
    try:
        assert not _can_exit_at_once()
    finally:
        release.set()
        worker.join()
    assert _can_exit_at_once()


@pytest.mark.parametrize(("command", "collector_on"), [("lint", False), ("migrate", True), ("server", True)])
def test_the_console_entry_turns_the_collector_off_for_lint_only(command, collector_on):
    """``lint`` runs with the collector off outside its parsing (which collects after each file
    itself); ``migrate`` lints file after file outside that block and ``server`` lives for a
    session, so they keep it."""
    script = ("import gc, sys\nfrom losscheck import cli\n"
              "cli.main = lambda argv=None: print(gc.isenabled()) or 0\n"
              f"sys.argv = ['losscheck', '{command}', 'x.py']\ncli.run()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(collector_on)


def test_the_quick_exit_still_flushes_log_handlers(tmp_path):
    """What the interpreter's exit would do for logging (``logging.shutdown``) still happens:
    a buffering handler's records reach their file."""
    log = tmp_path / "run.log"
    script = ("import logging, logging.handlers, sys\nfrom losscheck import cli\n"
              f"target = logging.FileHandler({str(log)!r})\n"
              "logging.getLogger().addHandler(logging.handlers.MemoryHandler(100, target=target))\n"
              "cli.main = lambda argv=None: logging.getLogger().warning('kept') or 0\n"
              "sys.argv = ['losscheck', 'lint', 'x.py']\ncli.run()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().strip() == "kept"
