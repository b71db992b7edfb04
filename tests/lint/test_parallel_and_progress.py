"""Parallel linting gives the same findings as one process, schedules the biggest files first,
survives a dying worker; the progress counter shows on a terminal only, and ``--quiet``
prints the findings and nothing else."""

from __future__ import annotations

import gc
import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from losscheck.lint import parallel, runner
from losscheck.lint.rule_manifest import RuleInfo
from losscheck.lint.progress import Progress, for_stderr
from losscheck.lint.registry import load_registry

RULES = [RuleInfo.of(r) for r in load_registry(plugins=False).rules]
CODES = tuple(r.code for r in RULES if r.default_enabled)
ENABLED = [r for r in RULES if r.code in CODES]

BUGGY = textwrap.dedent(
    """
    import tensorflow as tf

    def seg_loss_{n}(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    def first_{n}(y_true, y_pred):
        return y_true[0] - y_pred[0]
    """
)
CLEAN = "import os\n\n\ndef main_{n}(argv):\n    return os.getcwd()\n" + "# padding\n" * 40


def _tree(root: Path, files: int = 24) -> Path:
    """Loss modules with findings, files with none, big and small, a syntax error, bad bytes."""
    root.mkdir(exist_ok=True)
    for n in range(files):
        body = BUGGY.format(n=n) * (1 + n % 5) if n % 3 == 0 else CLEAN.format(n=n) * (1 + n % 7)
        (root / f"m{n:02d}.py").write_text(body)
    (root / "broken.py").write_text("def loss(y_true, y_pred):\n    return (\n")
    (root / "latin.py").write_bytes(b"def loss(y_true, y_pred):\n    return 1  # \xff\xfe\n")
    return root


def _lint(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "losscheck", "lint", "--isolated", "--no-cache", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def _jobs(tree: Path) -> list[parallel.FileJob]:
    paths = sorted(tree.glob("*.py"))
    return [parallel.FileJob(i, p.name, p.name, p.read_bytes(), CODES, None) for i, p in enumerate(paths)]


# -- same findings, whatever the parallelism --------------------------------------------------
def test_findings_do_not_depend_on_jobs(tmp_path):
    tree = _tree(tmp_path / "tree")
    outputs = {}
    for jobs in ("1", "2", "3"):
        done = _lint(tmp_path, "--format", "json", "-j", jobs, "tree")
        assert done.returncode == 2, done.stderr  # findings, a syntax error and undecodable bytes
        outputs[jobs] = done.stdout
    findings = json.loads(outputs["1"])
    assert {f["code"] for f in findings} >= {"LCK101", "LCK102", "LCK999", "LCK998"}
    assert outputs["2"] == outputs["1"] and outputs["3"] == outputs["1"]


def test_pool_and_one_process_agree(tmp_path):
    todo = _jobs(_tree(tmp_path))
    rules_for = {CODES: ENABLED}
    here = runner.check_all(todo, rules_for, {}, jobs=1)
    done: list[int] = []
    pooled = runner.check_all(todo, rules_for, {}, jobs=2, on_done=done.append)
    assert pooled == here
    assert 2 <= sum(parsed for parsed, _ in here) < len(todo)  # some parsed (in the pool), some skipped
    assert done and done[-1] == len(todo) and done == sorted(done)


def test_a_dying_worker_does_not_lose_files(tmp_path, monkeypatch):
    """A worker killed mid-run (memory, a crash in native code): the run finishes every file."""
    todo = _jobs(_tree(tmp_path))
    expected = runner.check_all(todo, {CODES: ENABLED}, {}, jobs=1)
    parent = os.getpid()
    real = parallel.lint_job

    def dies_in_a_worker(job, options):
        if os.getpid() != parent and job.index == 2:  # m00.py, a loss module: parsed
            os._exit(1)
        return real(job, options)

    monkeypatch.setattr(parallel, "lint_job", dies_in_a_worker)  # forked workers inherit the patch
    assert runner.check_all(todo, {CODES: ENABLED}, {}, jobs=2) == expected


def test_cache_entries_written_while_the_pool_works_are_complete(tmp_path):
    """The skipped files' entries are written while the workers parse: a second run reads every
    file from the cache and prints the same."""
    _tree(tmp_path / "tree")
    (tmp_path / "tree" / "broken.py").unlink()  # files with diagnostics are never cached
    (tmp_path / "tree" / "latin.py").unlink()
    env = {"LOSSCHECK_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "losscheck", "lint", "--isolated", "--format", "json", "-v", "-j", "2", "tree"]
    first, second = (subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **env})
                     for _ in range(2))
    assert first.returncode == second.returncode == 1, first.stderr
    assert first.stdout == second.stdout and json.loads(first.stdout)
    assert "24 files: 0 from the cache" in first.stderr and "skipped by the pre-filter" in first.stderr
    assert "24 files: 24 from the cache, 0 parsed" in second.stderr, second.stderr


def test_a_tree_without_loss_code_starts_no_pool_and_imports_no_libcst(tmp_path):
    """The pre-filter runs before any pool: 60 files and 1 MB without loss code cost no fork and
    no libcst import, whatever --jobs says."""
    tree = tmp_path / "plain"
    tree.mkdir()
    for n in range(60):
        (tree / f"p{n}.py").write_text(CLEAN.format(n=n) * 40)
    command = [sys.executable, "-X", "importtime", "-m", "losscheck", "lint", "--isolated", "--no-cache", "-j", "2", "plain"]
    subprocess.run(command, cwd=tmp_path, capture_output=True)  # writes the rule manifest if it is missing
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "losscheck.lint.runner" in imported  # the report is real
    assert not {"libcst", "concurrent.futures.process", "multiprocessing.pool"} & imported


# -- scheduling --------------------------------------------------------------------------------
def test_batches_put_the_biggest_files_first_and_alone():
    sizes = [10, 500_000, 3_000, 70_000, 5, 200, 48_000, 1_000] + [100] * 60
    out = parallel.batches(sizes)
    flat = [i for batch in out for i in batch]
    assert sorted(flat) == list(range(len(sizes)))  # every file exactly once
    assert out[0] == [1] and out[1] == [3] and out[2] == [6]  # big ones first, one per task
    assert [sizes[i] for i in flat] == sorted(sizes, reverse=True)
    for batch in out:
        assert len(batch) <= parallel.BATCH_FILES
        assert len(batch) == 1 or sum(sizes[i] for i in batch) <= parallel.BATCH_BYTES


def test_collector_settings_are_put_back():
    original = gc.get_threshold()
    gc.set_threshold(701, 11, 12)  # not the default: a run that forgot to restore shows
    try:
        frozen = gc.get_freeze_count()
        with parallel._gc_for_parsing(freeze=True):
            assert gc.get_threshold() == parallel.GC_THRESHOLD
            assert gc.get_freeze_count() > frozen
        assert gc.get_threshold() == (701, 11, 12) and gc.get_freeze_count() == frozen
        runner.check_all(_jobs(Path(__file__).parent), {CODES: ENABLED}, {}, jobs=1)
        assert gc.get_threshold() == (701, 11, 12)
    finally:
        gc.set_threshold(*original)


def test_the_parsing_collects_after_each_file_even_when_the_command_turned_the_collector_off():
    """The console entry turns the collector off for a command (``cli.run``); the parsing
    block still collects after each file, and the collector is off again after it."""
    gc.disable()
    try:
        with parallel._gc_for_parsing(freeze=False):
            assert gc.isenabled() and gc.get_threshold()[0] == 0
            garbage = []
            garbage.append(garbage)  # a reference cycle
            del garbage
            before = gc.get_count()[0]
            parallel.after_file()
            assert gc.get_count()[0] < before
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- the progress counter ---------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_waits_a_second_then_draws_at_most_ten_times_a_second():
    clock, stream = Clock(), Stream()
    bar = Progress(stream, delay=1.0, interval=0.1, clock=clock)
    for done in range(50):
        bar(done, 1000)
        clock.now += 0.019
    assert stream.text == ""  # 0.95 s: nothing yet
    for done in range(50, 1000):
        bar(done, 1000)
        clock.now += 0.001  # 1,000 updates a second
    draws = stream.text.count("\r")
    assert 9 <= draws <= 11, stream.text  # ~0.95 s more: about ten draws
    assert stream.text.endswith(f"losscheck: {stream.text.rsplit('losscheck: ', 1)[1]}")
    bar.close()
    assert stream.text.endswith("\r") and stream.text.rsplit("\r", 2)[1].strip() == ""  # wiped


def test_progress_that_never_drew_writes_nothing_on_close():
    stream = Stream()
    bar = Progress(stream, clock=Clock())
    bar(1, 2)
    bar.close()
    assert stream.text == ""


def test_progress_only_for_a_terminal():
    class Tty(Stream):
        def isatty(self) -> bool:
            return True

    assert for_stderr(Tty(), quiet=False) is not None
    assert for_stderr(Tty(), quiet=True) is None
    assert for_stderr(Stream(), quiet=False) is None  # no isatty at all
    assert for_stderr(open(os.devnull, "w"), quiet=False) is None


# The real CLI in a subprocess, its stderr a pseudo-terminal or a pipe. The counter's delay is
# set to zero in the driver, so that a small tree shows it.
DRIVER = textwrap.dedent(
    """
    import sys
    import losscheck.lint.progress as progress
    progress.DELAY_S = 0.0
    from losscheck.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_with_stderr_on_a_pty(cwd: Path, *args: str) -> tuple[int, str, str]:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "lint", "--isolated", "--no-cache", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=child, stdin=subprocess.DEVNULL,
    )
    os.close(child)
    err = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        err += chunk
    out = proc.communicate()[0]
    os.close(main)
    return proc.returncode, out.decode(), err.decode(errors="replace")


def test_progress_on_a_pseudo_terminal(tmp_path):
    _tree(tmp_path / "tree", files=12)
    code, out, err = _run_with_stderr_on_a_pty(tmp_path, "--format", "concise", "-j", "2", "tree")
    assert code == 2, err
    assert "losscheck: " in err and "/14 files" in err, err
    assert err.endswith("\r"), repr(err[-80:])  # the counter wiped its line
    assert "\r" not in out and "Found " in out


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    _tree(tmp_path / "tree", files=12)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, "lint", "--isolated", "--no-cache", "--format", "concise", "tree"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert "\r" not in done.stderr and "files" not in done.stderr, done.stderr


def test_quiet_prints_the_findings_only(tmp_path):
    _tree(tmp_path / "tree", files=6)
    code, out, err = _run_with_stderr_on_a_pty(tmp_path, "--format", "concise", "--quiet", "tree")
    assert code == 2 and err == "", repr(err)  # no counter, even on a terminal
    lines = out.splitlines()
    assert lines and all(line.startswith("tree/") for line in lines), out  # no summary line
    loud = _lint(tmp_path, "--format", "concise", "tree")
    assert loud.stdout.splitlines()[: len(lines)] == lines and "Found " in loud.stdout


@pytest.mark.parametrize("fmt", ["concise", "full"])
def test_quiet_clean_run_prints_nothing(tmp_path, fmt):
    (tmp_path / "ok.py").write_text("import os\n")
    done = _lint(tmp_path, "--format", fmt, "-q", "ok.py")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "All checks passed!" in _lint(tmp_path, "--format", fmt, "ok.py").stdout


def test_the_pool_starts_while_the_prefilter_still_runs(tmp_path):
    """Once the pre-filter has picked enough work, the workers parse it while the pre-filter
    goes on; every file is linted once, with the rules picked for it."""
    import multiprocessing

    todo = [parallel.FileJob(i, f"m{i}.py", f"m{i}.py", (BUGGY.format(n=i) * 60).encode(), CODES, None)
            for i in range(12)]
    workers_seen: list[int] = []

    def selections():
        for i in range(len(todo)):
            workers_seen.append(len(multiprocessing.active_children()))
            yield i, CODES

    pooled = parallel.lint_selected(todo, selections(), {}, jobs=None)
    here = parallel.lint_selected(todo, iter([(i, CODES) for i in range(len(todo))]), {}, jobs=1)
    assert pooled == here and sorted(pooled) == list(range(len(todo)))
    assert all(any(f.code == "LCK101" for f in findings) for findings in pooled.values())
    if parallel.default_jobs() > 1:
        assert workers_seen[: parallel.PARALLEL_MIN_FILES] == [0] * parallel.PARALLEL_MIN_FILES
        assert max(workers_seen[parallel.PARALLEL_MIN_FILES :]) > 0  # drawn while workers were alive
