"""Both hooks of .pre-commit-hooks.yaml through the real `pre-commit`, on a scratch repository.

The hook repository is a COPY of this checkout committed in a temporary git repository (this
checkout's own git state is never touched). pre-commit builds the hook's virtualenv and installs
the checkout into it, offline: losscheck's own dependencies (and the build backend) are taken from
the interpreter running the tests, linked one distribution at a time into a folder on
``PYTHONPATH``. Nothing comes from the base interpreter's site-packages, whose versions may be
older, and no package is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = shutil.which("pre-commit")
GIT = shutil.which("git")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PRE_COMMIT is None or GIT is None, reason="needs pre-commit and git"),
]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
LAYOUT = '{"version": 1, "outputs": [{"name": "seg", "tasks": [{"name": "mask", "type": "binary", "units": 1}]}]}\n'


# The build backend pip needs to install the checkout without build isolation.
BUILD_BACKEND = ["setuptools"]


def project_requirements() -> list[str]:
    """losscheck's runtime dependencies, as this checkout declares them."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the installed metadata says the same
        return [r for r in metadata.requires("losscheck") or [] if "extra ==" not in r]
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def dependency_closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively (extras left out)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(req.name)
        assert dist.version in req.specifier or not req.specifier, f"{req} but {dist.version} is installed"
        seen[key] = dist
        todo.extend(dist.requires or [])
    return list(seen.values())


def link_distributions(dists: list[metadata.Distribution], dest: Path) -> None:
    """Link each distribution's top-level modules and its metadata folder into ``dest``, so that
    ``dest`` on ``PYTHONPATH`` holds exactly these distributions (pip sees them as installed)."""
    dest.mkdir()
    for dist in dists:
        for top in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            target = Path(dist.locate_file(top))
            if target.exists() and not (dest / top).exists() and not top.endswith(".pth"):
                (dest / top).symlink_to(target)


def git(cwd: Path, *args: str, env: dict) -> str:
    return subprocess.run([GIT, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def copy_checkout(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files: what a commit of the working tree would hold."""
    listed = subprocess.run(
        [GIT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file() and not rel.startswith(("benchmarks/results", ".hypothesis")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_hooks_run_through_pre_commit(tmp_path):
    deps = tmp_path / "deps"
    link_distributions(dependency_closure(project_requirements() + BUILD_BACKEND), deps)
    env = {**os.environ, **GIT_ENV, "HOME": str(tmp_path / "home"), "PRE_COMMIT_HOME": str(tmp_path / "pc"),
           "PYTHONPATH": str(deps), "PIP_NO_INDEX": "1",
           # pip reads PIP_NO_BUILD_ISOLATION inverted: "0" turns build isolation OFF (no download)
           "PIP_NO_BUILD_ISOLATION": "0",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "LOSSCHECK_CACHE_DIR": str(tmp_path / "lc-cache")}
    for name in ("VIRTUALENV_SYSTEM_SITE_PACKAGES", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        env.pop(name, None)
    (tmp_path / "home").mkdir()
    hooks_repo = tmp_path / "hooks-repo"
    hooks_repo.mkdir()
    copy_checkout(hooks_repo)
    assert (hooks_repo / ".pre-commit-hooks.yaml").is_file()
    git(hooks_repo, "init", "-q", env=env)
    git(hooks_repo, "add", "-A", env=env)
    git(hooks_repo, "commit", "-q", "-m", "hooks", env=env)
    rev = git(hooks_repo, "rev-parse", "HEAD", env=env).strip()

    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", env=env)
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks_repo}\n  rev: {rev}\n  hooks:\n"
        "  - id: losscheck\n"
        "  - id: losscheck-gen-check\n    args: [heads.json]\n"
    )
    (work / "heads.json").write_text(LAYOUT)
    gen = subprocess.run([sys.executable, "-m", "losscheck", "gen", "heads.json"], cwd=work, env=env,
                         check=False, capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    (work / "train.py").write_text("def my_loss(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n")
    git(work, "add", "-A", env=env)

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([PRE_COMMIT, "run", "--all-files", "--color", "never"], cwd=work, env=env,
                              check=False, capture_output=True, text=True, timeout=600)

    ok = pre_commit()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "losscheck generated losses are up to date" in ok.stdout and "Passed" in ok.stdout

    # a finding fails the lint hook
    (work / "train.py").write_text("x = 1  # noqa: LCK101\n")
    bad = pre_commit()
    assert bad.returncode == 1
    assert "train.py:1:8: LCK901 [unused-suppression]" in bad.stdout

    # a staged notebook is linted too, in cell coordinates
    (work / "train.py").write_text("x = 1\n")
    cell = {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [], "source": ["x = 1  # noqa: LCK101"]}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (work / "nb.ipynb").write_text(json.dumps(notebook))
    git(work, "add", "-A", env=env)
    in_notebook = pre_commit()
    assert in_notebook.returncode == 1, in_notebook.stdout
    assert "nb.ipynb:cell 1:1:8: LCK901 [unused-suppression]" in in_notebook.stdout
    cell["source"] = ["x = 1"]
    (work / "nb.ipynb").write_text(json.dumps(notebook))

    # a stale generated module fails the gen-check hook (and it writes nothing)
    (work / "heads.json").write_text(LAYOUT.replace('"units": 1}', '"units": 1, "weight": 0.5}'))
    module = (work / "heads_losses.py").read_text()
    stale = pre_commit()
    assert stale.returncode == 1, stale.stdout
    assert "heads_losses.py is stale" in stale.stdout
    assert (work / "heads_losses.py").read_text() == module
