"""Shared by the plugin tests: install a plugin package for real, without touching the
environment the test suite runs in.

``pip install --target DIR`` puts the package and its ``.dist-info`` (with its entry points) in
DIR; a subprocess with ``PYTHONPATH=DIR`` then sees the plugin exactly as an installed one,
through ``importlib.metadata``. The source is copied first so the build leaves nothing behind
in the checkout. (No tests here: helpers only.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"


def pip_install_target(sources: list[Path], target: Path, scratch: Path) -> Path:
    """Install the packages at ``sources`` into ``target``; returns ``target``."""
    copies = []
    for src in sources:
        copy = scratch / src.name
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        copies.append(str(copy))
    # --no-deps/--no-build-isolation/--no-index: losscheck, libcst and setuptools are installed
    # already; nothing is fetched, and the global environment is not changed.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--target",
        str(target),
        *copies,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def run_with(paths: list[Path], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <args>`` with ``paths`` on PYTHONPATH (in front of the installed packages)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
