"""`losscheck lint` on paths it cannot check: each is an error naming the path (exit 2), the other
files are still linted, and "All checks passed!" is never printed when something was not checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.lint.discover import discover

BATCH_MEAN = "import tensorflow as tf\n\n\ndef seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
LCK101 = "loss.py:5:12: LCK101"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
GIT = shutil.which("git")

# Runs losscheck with the folders named in LOSSCHECK_TEST_LOCKED (absolute, os.pathsep-separated)
# behaving as a 0000 folder does for a user who is not root: listing it, or looking up anything
# inside it, fails with EACCES. The suite runs as root, for whom chmod 000 changes nothing.
LOCKED_RUNNER = """
import errno, os, sys
locked = {os.path.abspath(p) for p in os.environ["LOSSCHECK_TEST_LOCKED"].split(os.pathsep)}
def denied(path):
    path = os.path.abspath(os.fsdecode(path))
    if path in locked or os.path.dirname(path) in locked:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
real_scandir, real_stat = os.scandir, os.stat
def scandir(path="."):
    denied(os.path.join(os.fsdecode(path), ".")) if not isinstance(path, int) else None
    return real_scandir(path)
def stat(path, *args, **kwargs):
    if not isinstance(path, int) and os.path.abspath(os.fsdecode(path)) not in locked:
        denied(path)
    return real_stat(path, *args, **kwargs)
os.scandir, os.stat = scandir, stat
from losscheck.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run(cwd: Path, *args: str, locked: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".cache-test")}
    command = [sys.executable, "-m", "losscheck"]
    if locked:
        env["LOSSCHECK_TEST_LOCKED"] = os.pathsep.join(str(p) for p in locked)
        command = [sys.executable, "-c", LOCKED_RUNNER]
    return subprocess.run(
        [*command, *args], cwd=cwd, check=False, capture_output=True, text=True, env=env, timeout=120
    )


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "loss.py").write_text(BATCH_MEAN)
    (tmp_path / "clean.py").write_text("def main():\n    return 1\n")
    return tmp_path


# -- missing paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["full", "concise"])
def test_missing_path_never_reads_all_checks_passed(tree, fmt):
    proc = run(tree, "lint", "--format", fmt, "nope.py", "clean.py")
    assert proc.returncode == 2
    assert "losscheck: error: nope.py: no such file or directory" in proc.stderr
    assert "All checks passed!" not in proc.stdout
    assert "1 path could not be checked" in proc.stdout
    no_traceback(proc)


def test_missing_path_the_others_are_still_linted(tree):
    proc = run(tree, "lint", "--format", "concise", "nope.py", "loss.py", "gone/")
    assert proc.returncode == 2
    assert LCK101 in proc.stdout and "2 paths could not be checked" in proc.stdout
    assert "nope.py: no such file or directory" in proc.stderr and "gone/: no such file" in proc.stderr


def test_everything_checked_still_reads_all_checks_passed(tree):
    proc = run(tree, "lint", "clean.py")
    assert proc.returncode == 0 and "All checks passed!" in proc.stdout
    assert "could not be checked" not in proc.stdout


# -- NUL bytes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, where",
    [
        # not loss code: the pre-filter skips it, yet Python would refuse it
        ("plain.py", b"x = 1\ny = 2  # a\x00b\n", "plain.py:2:11:"),
        # loss code: parsed, and reported where the byte is
        ("lossy.py", BATCH_MEAN.encode() + b"z = 3\x00\n", "lossy.py:6:6:"),
    ],
)
def test_nul_byte_is_a_syntax_error(tree, name, data, where):
    (tree / name).write_bytes(data)
    for _ in range(2):  # the second run may read the cache: still reported
        proc = run(tree, "lint", "--format", "concise", name, "loss.py")
        assert proc.returncode == 2, proc.stdout
        assert f"{where} LCK999 [syntax-error] syntax error: source code cannot contain null bytes" in proc.stdout
        assert LCK101 in proc.stdout  # the other file was linted
        no_traceback(proc)


def test_nul_byte_when_walking_a_folder(tree):
    (tree / "pkg").mkdir()
    (tree / "pkg" / "nul.py").write_bytes(b"\x00")
    proc = run(tree, "lint", "--format", "concise", ".")
    assert proc.returncode == 2
    assert f"{os.path.join('pkg', 'nul.py')}:1:1: LCK999" in proc.stdout and LCK101 in proc.stdout


# -- symlink loops --------------------------------------------------------------------------------


def test_symlink_loop_named_as_an_argument(tree):
    os.symlink("loop", tree / "loop")
    proc = run(tree, "lint", "--format", "concise", "loop", "loss.py")
    assert proc.returncode == 2
    assert "losscheck: error: loop: cannot read: Too many levels of symbolic links" in proc.stderr
    assert LCK101 in proc.stdout and "All checks passed!" not in proc.stdout
    no_traceback(proc)


def test_symlink_loop_first_argument_where_the_config_is_looked_up(tree):
    # the config search starts at the first path: a loop there must not stop it
    (tree / "pyproject.toml").write_text('[tool.losscheck]\nignore = ["LCK101"]\n')
    os.symlink("loop", tree / "loop")
    proc = run(tree, "lint", "--format", "concise", "loop", "loss.py")
    assert proc.returncode == 2 and LCK101 not in proc.stdout, proc.stdout  # the config was found and used
    no_traceback(proc)


def test_symlink_loop_inside_a_walked_folder(tree):
    (tree / "pkg").mkdir()
    (tree / "pkg" / "ok.py").write_text(BATCH_MEAN)
    os.symlink("self.py", tree / "pkg" / "self.py")
    proc = run(tree, "lint", "--format", "concise", "pkg")
    assert proc.returncode == 2
    assert f"losscheck: error: {os.path.join('pkg', 'self.py')}: cannot read:" in proc.stderr
    assert f"{os.path.join('pkg', 'ok.py')}:5:12: LCK101" in proc.stdout
    no_traceback(proc)


def test_folder_symlinks_are_still_not_followed(tree):
    (tree / "pkg").mkdir()
    os.symlink("..", tree / "pkg" / "up")  # a loop through a folder symlink: never entered
    proc = run(tree, "lint", "--format", "concise", "pkg", "clean.py")
    assert proc.returncode == 0 and "All checks passed!" in proc.stdout, proc.stderr


# -- unreadable folders ---------------------------------------------------------------------------


def test_unreadable_folder_named_as_an_argument(tree):
    (tree / "locked").mkdir()
    (tree / "locked" / "hidden.py").write_text(BATCH_MEAN)
    proc = run(tree, "lint", "--format", "concise", "locked", "loss.py", locked=(tree / "locked",))
    assert proc.returncode == 2
    assert "losscheck: error: locked: cannot read the folder: Permission denied" in proc.stderr
    assert LCK101 in proc.stdout and "hidden.py" not in proc.stdout
    assert "All checks passed!" not in proc.stdout
    no_traceback(proc)


def test_unreadable_subfolder_is_an_error_not_skipped(tree):
    (tree / "pkg" / "locked").mkdir(parents=True)
    (tree / "pkg" / "locked" / "hidden.py").write_text(BATCH_MEAN)
    (tree / "pkg" / "ok.py").write_text("x = 1\n")
    proc = run(tree, "lint", "--format", "concise", "pkg", locked=(tree / "pkg" / "locked",))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"losscheck: error: {os.path.join('pkg', 'locked')}: cannot read the folder: Permission denied" in proc.stderr
    assert "All checks passed!" not in proc.stdout
    no_traceback(proc)


@pytest.mark.skipif(IS_ROOT, reason="root reads a 0000 folder: the in-process variants above cover this")
def test_unreadable_folders_with_real_permissions(tree):
    (tree / "locked").mkdir()
    (tree / "pkg" / "sub").mkdir(parents=True)
    (tree / "pkg" / "sub" / "x.py").write_text(BATCH_MEAN)
    try:
        (tree / "locked").chmod(0)
        (tree / "pkg" / "sub").chmod(0)
        proc = run(tree, "lint", "--format", "concise", "locked", "pkg", "loss.py")
    finally:
        (tree / "locked").chmod(0o755)
        (tree / "pkg" / "sub").chmod(0o755)
    assert proc.returncode == 2
    assert "locked: cannot read the folder" in proc.stderr
    assert f"{os.path.join('pkg', 'sub')}: cannot read the folder" in proc.stderr
    assert LCK101 in proc.stdout
    no_traceback(proc)


def test_a_pipe_is_not_read(tree):
    os.mkfifo(tree / "pipe.py")  # reading it would wait for a writer forever
    proc = run(tree, "lint", "--format", "concise", "pipe.py", "loss.py")
    assert proc.returncode == 2
    assert "losscheck: error: pipe.py: not a regular file or folder" in proc.stderr and LCK101 in proc.stdout


# -- .gitignore (pathspec) -------------------------------------------------------------------------


def _git_ignored(root: Path, files: list[str]) -> set[str]:
    assert GIT is not None
    proc = subprocess.run(
        [GIT, "-C", str(root), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(files) + "\n", check=False, capture_output=True, text=True,
    )
    return set(proc.stdout.split())


@pytest.mark.skipif(GIT is None, reason="needs git")
@pytest.mark.parametrize(
    "patterns, files",
    [
        # `**` not between slashes is a `*`: it does not cross folders
        (["docs/**.py"], ["docs/a.py", "docs/sub/b.py"]),
        # `x/**` ignores what is in x, not x: a `!` below it still counts
        (["gen/**", "!gen/keep.py"], ["gen/keep.py", "gen/other.py", "gen/sub/y.py"]),
        # a folder ignored by name cannot have a file re-included below it
        (["build", "!build/keep.py"], ["build/keep.py", "main.py"]),
        # a `!` that re-includes a folder above does not re-include what a pattern ignores deeper
        (["a", "!*.py"], ["x.py/a/b.py", "x.py/c.py"]),
    ],
)
def test_gitignore_walk_agrees_with_git(tmp_path, patterns, files):
    subprocess.run([GIT, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("\n".join(patterns) + "\n")
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    found = {os.path.relpath(f, tmp_path).replace(os.sep, "/") for f in discover([str(tmp_path)]).files}
    assert found == set(files) - _git_ignored(tmp_path, files)


def test_gitignore_lines_pathspec_cannot_read_are_skipped(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("trailing\\\n[z-a].py\nbuild/\n[[:alpha:]]x.py\n")
    for rel in ("build/a.py", "keep.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    found = [os.path.relpath(f, tmp_path) for f in discover([str(tmp_path)]).files]
    assert found == ["keep.py"]


def _imports(cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "losscheck", "lint", "--no-cache", "."],
        cwd=cwd, check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


def test_pathspec_is_imported_only_when_a_gitignore_exists(tree):
    assert "pathspec" not in _imports(tree)
    (tree / ".gitignore").write_text("clean.py\n")
    assert "pathspec" in _imports(tree)
