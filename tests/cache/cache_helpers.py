"""Shared by the tests in this folder: run ``losscheck lint`` in a subprocess, find cache files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUGGY = REPO / "examples" / "losses" / "buggy_losses.py"


def lint(cwd: Path, cache: Path, *args: str, env: dict[str, str] | None = None, importtime: bool = False,
         timeout: float = 120, our_rules: bool = True) -> subprocess.CompletedProcess:
    """``losscheck lint --select LCK ARGS`` in ``cwd`` with the result cache in ``cache``
    (``our_rules=False``: no ``--select``, the config's selection holds)."""
    select = [] if "--select" in args or not our_rules else ["--select", "LCK"]  # plugins may come and go
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "losscheck", "lint", *select, *args]
    full_env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cache), **(env or {})}
    return subprocess.run(cmd, cwd=cwd, check=False, capture_output=True, text=True, env=full_env, timeout=timeout)


def imported(stderr: str) -> set[str]:
    """The modules a ``-X importtime`` run imported."""
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def result_entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "v1" / "results").rglob("*.json") if not p.name.startswith(".tmp-"))


def entry_key(entry: Path) -> str:
    """The key a result entry is stored under (``results/<key[:2]>/<key[2:]>.json``)."""
    return entry.parent.name + entry.stem


def project_with(tmp_path: Path, *files: Path) -> Path:
    """A folder holding copies of ``files`` (a project of its own: no config above it applies)."""
    project = tmp_path / "project"
    project.mkdir()
    for f in files:
        shutil.copy(f, project / f.name)
    return project
