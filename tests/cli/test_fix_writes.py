"""`losscheck lint --fix` writes: through symlinks to their target, atomically, keeping the file's
mode (and owner); a read-only file or folder is refused with an error naming the file (exit 2)
and left exactly as it was, while the other files are still fixed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

UNUSED = "import os\n\nx = 1  # noqa: LCK101\ny = 2  # losscheck: ignore[wrong-axis]\n"
FIXED = "import os\n\nx = 1\ny = 2\n"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# Runs losscheck with the folders named in LOSSCHECK_TEST_READONLY behaving as a 0555 folder does
# for a user who is not root: creating a file in it fails with EACCES. The suite runs as root,
# for whom chmod changes nothing.
READONLY_RUNNER = """
import errno, os, sys
readonly = {os.path.abspath(p) for p in os.environ["LOSSCHECK_TEST_READONLY"].split(os.pathsep)}
real_open = os.open
def guarded_open(path, flags, *args, **kwargs):
    if flags & os.O_CREAT and os.path.dirname(os.path.abspath(os.fsdecode(path))) in readonly:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    return real_open(path, flags, *args, **kwargs)
os.open = guarded_open
from losscheck.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run(cwd: Path, *args: str, readonly: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".cache-test")}
    command = [sys.executable, "-m", "losscheck"]
    if readonly:
        env["LOSSCHECK_TEST_READONLY"] = os.pathsep.join(str(p) for p in readonly)
        command = [sys.executable, "-c", READONLY_RUNNER]
    return subprocess.run(
        [*command, *args], cwd=cwd, check=False, capture_output=True, text=True, env=env, timeout=120
    )


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".losscheck-")]


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


def test_fix_writes_through_a_symlink_to_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.py"
    target.write_text(UNUSED)
    target.chmod(0o640)
    (tmp_path / "link.py").symlink_to(os.path.join("real", "target.py"))
    proc = run(tmp_path, "lint", "--fix", "link.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "link.py").is_symlink()
    assert os.readlink(tmp_path / "link.py") == os.path.join("real", "target.py")
    assert target.read_text() == FIXED
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o755, 0o664])
def test_fixed_files_keep_their_mode(tmp_path, mode):
    path = tmp_path / "unused.py"
    path.write_text(UNUSED)
    path.chmod(mode)
    proc = run(tmp_path, "lint", "--fix", "unused.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.read_text() == FIXED
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not IS_ROOT, reason="only root can give a file to another user")
def test_fixed_files_keep_their_owner(tmp_path):
    path = tmp_path / "unused.py"
    path.write_text(UNUSED)
    os.chown(path, 65534, 65534)
    proc = run(tmp_path, "lint", "--fix", "unused.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.read_text() == FIXED
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)


def test_read_only_file_is_refused_and_left_unchanged(tmp_path):
    locked = tmp_path / "locked.py"
    locked.write_text(UNUSED)
    locked.chmod(0o444)
    before = locked.stat()
    (tmp_path / "other.py").write_text(UNUSED)
    proc = run(tmp_path, "lint", "--fix", "--format", "concise", "locked.py", "other.py")
    assert proc.returncode == 2
    assert "losscheck: error: locked.py: not fixed: the file is read-only" in proc.stderr
    after = locked.stat()
    assert locked.read_text() == UNUSED
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (before.st_ino, before.st_mode, before.st_mtime_ns)
    assert "locked.py:3:8: LCK901" in proc.stdout  # its findings are still reported
    assert (tmp_path / "other.py").read_text() == FIXED  # the other file was fixed
    assert leftovers(tmp_path) == []
    no_traceback(proc)


def test_read_only_file_through_a_symlink_is_refused(tmp_path):
    target = tmp_path / "target.py"
    target.write_text(UNUSED)
    target.chmod(0o444)
    (tmp_path / "link.py").symlink_to("target.py")
    proc = run(tmp_path, "lint", "--fix", "link.py")
    assert proc.returncode == 2 and "losscheck: error: link.py: not fixed: the file is read-only" in proc.stderr
    assert target.read_text() == UNUSED and (tmp_path / "link.py").is_symlink()


def test_diff_still_works_on_a_read_only_file(tmp_path):
    locked = tmp_path / "locked.py"
    locked.write_text(UNUSED)
    locked.chmod(0o444)
    proc = run(tmp_path, "lint", "--diff", "locked.py")
    assert proc.returncode == 1 and proc.stdout.startswith("--- a/locked.py")
    assert locked.read_text() == UNUSED


def test_read_only_folder_is_an_error(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "unused.py").write_text(UNUSED)
    (tmp_path / "other.py").write_text(UNUSED)
    proc = run(tmp_path, "lint", "--fix", os.path.join("pkg", "unused.py"), "other.py", readonly=(folder,))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    name = os.path.join("pkg", "unused.py")
    assert f"losscheck: error: {name}: not fixed: cannot write in its folder: Permission denied" in proc.stderr
    assert (folder / "unused.py").read_text() == UNUSED and leftovers(folder) == []
    assert (tmp_path / "other.py").read_text() == FIXED
    no_traceback(proc)


@pytest.mark.skipif(IS_ROOT, reason="root writes in a 0555 folder: the in-process variant above covers this")
def test_read_only_folder_with_real_permissions(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "unused.py").write_text(UNUSED)
    folder.chmod(0o555)
    try:
        proc = run(tmp_path, "lint", "--fix", os.path.join("pkg", "unused.py"))
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2 and "not fixed: cannot write in its folder" in proc.stderr
    assert (folder / "unused.py").read_text() == UNUSED
    no_traceback(proc)
