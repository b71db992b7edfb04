"""The files around a linted file are read too (pins, the project's Keras evidence, other modules'
imports and helpers): whatever is there, the run ends, and the file's own findings are reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LOSS = (
    "from .terms import focal_term\nimport keras.backend as K\n\n\n"
    "def hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n\n\n"
    "def mse(y_true, y_pred):\n    return K.mean(K.square(y_true - y_pred))\n"
)


def lint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".lc-cache")}
    return subprocess.run([sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "concise", str(path)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_named_pipes_loops_and_unreadable_folders_around_the_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    package = tmp_path / "losses"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "hybrid.py"
    module.write_text(LOSS)
    os.mkfifo(package / "terms.py")  # the imported helper module is a named pipe
    os.mkfifo(tmp_path / "requirements.txt")  # so is a dependency file
    os.mkfifo(tmp_path / "train.py")  # and another module of the project
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "secret.py").write_text("x = 1\n")
    locked.chmod(0)
    try:
        result = lint(module, tmp_path)
    finally:
        locked.chmod(0o755)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    codes = [line.split()[1] for line in result.stdout.splitlines() if ": LCK" in line]
    assert "LCK101" in codes and "LCK302" in codes  # the file's own findings; the helper is unknown


def test_a_huge_or_binary_module_of_the_project_is_unknown(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    package = tmp_path / "losses"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "terms.py").write_bytes(b"def focal_term(y_true, y_pred):\n    return 1\n" + b"#" * (3 << 20))
    (tmp_path / "train.py").write_bytes(b"\x00\xff" * 1000)
    module = package / "hybrid.py"
    module.write_text(LOSS)
    result = lint(module, tmp_path)
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
