"""Writing the report can fail (a closed standard output, a reader that went away, a full disk):
one line on stderr (none for a broken pipe) and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BATCH_MEAN = "import tensorflow as tf\n\n\ndef seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
LAYOUT = '{"version": 1, "outputs": [{"name": "seg", "tasks": [{"name": "m", "type": "binary", "units": 1}]}]}\n'

# Each command writes something to standard output.
COMMANDS = [
    ("lint", "loss.py"),
    ("lint", "--format", "json", "loss.py"),
    ("rules",),
    ("explain", "LCK101"),
    ("config",),
    ("schema",),
    ("gen", "layout.json", "-o", "-"),
]


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


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_closed_stdout_is_one_line_and_exit_2(tree, args):
    proc = _shell(tree, ">&-", *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1] == "losscheck: error: cannot write the output: standard output is closed", proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_full_disk_is_one_line_and_exit_2(tree, args):
    proc = _shell(tree, ">/dev/full", *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "losscheck: error: cannot write the output: No space left on device"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_broken_pipe_is_quiet_and_nonzero(tree, args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "losscheck", *args],
        cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tree),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (like `| head -0`)
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2
    assert stderr == "", stderr


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
