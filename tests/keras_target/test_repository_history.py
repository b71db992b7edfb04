"""A repository whose last commit predates Keras 3 is Keras 2 code, when its code says nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from target_helpers import lint, project

from losscheck.lint import config as cfg
from losscheck.lint import keras_history, keras_target

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

REPORTED = ["5:12", "5:19", "5:26"]  # K.sqrt, K.mean, K.square in target_helpers.LOSS


def commit(root: Path, when: str) -> None:
    """Commit everything in ``root`` (a repository, made if need be), dated ``when``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@example.com",
               GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@example.com", HOME=str(root))
    git = ["git", "-C", str(root), "-c", "commit.gpgsign=false"]
    if not (root / ".git" / "HEAD").exists():
        shutil.rmtree(root / ".git", ignore_errors=True)
        subprocess.run([*git, "init", "-q"], check=True, env=env)
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "work"], check=True, env=env)


def target_of(module: Path) -> dict[str, str]:
    return keras_target.describe([str(module)], cfg.build_settings([str(module)]), where="")[0]


def test_a_history_older_than_keras3_says_keras2(tmp_path: Path) -> None:
    module = project(tmp_path, {"train.py": "model.fit(x, y, epochs=3)\n"}, loss_at="loss.py")
    commit(tmp_path, "2020-12-31T12:00:00+00:00")
    assert lint(module) == []
    row = target_of(module)
    assert row["target"] == "2" and row["source"] == "project"
    assert "last commit (2020-12-31) is older than Keras 3" in row["reason"]


def test_a_newer_history_says_nothing(tmp_path: Path) -> None:
    module = project(tmp_path, {}, loss_at="loss.py")
    commit(tmp_path, "2024-06-01T12:00:00+00:00")
    assert lint(module) == REPORTED
    assert target_of(module)["source"] == "default"


def test_the_code_comes_first(tmp_path: Path) -> None:
    module = project(tmp_path, {"layers.py": "from keras import ops\n"}, loss_at="loss.py")
    commit(tmp_path, "2021-03-01T12:00:00+00:00")
    assert lint(module) == REPORTED  # Keras 3 code in the project: it must run there
    assert "layers.py:1" in target_of(module)["reason"]


def test_no_repository_or_no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = project(tmp_path, {}, loss_at="loss.py")  # an empty `.git` folder: no history
    assert lint(module) == REPORTED
    commit(tmp_path, "2019-01-01T12:00:00+00:00")
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-folder"))
    keras_history.clear()
    assert keras_history.history(str(tmp_path)) is None
    assert lint(module) == REPORTED


def test_the_cache_follows_new_commits(tmp_path: Path) -> None:
    module = project(tmp_path, {}, loss_at="loss.py")
    commit(tmp_path, "2022-05-05T12:00:00+00:00")
    assert lint(module, use_cache=True) == []
    commit(tmp_path, "2025-02-02T12:00:00+00:00")
    assert lint(module, use_cache=True) == REPORTED


def test_an_empty_git_folder_inside_an_old_repository_is_no_history(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    commit(outer, "2019-05-05T12:00:00+00:00")
    module = project(outer / "vendored", {}, loss_at="loss.py")  # `vendored/.git` is an empty folder
    assert keras_history.history(str(outer / "vendored")) is None
    assert lint(module) == REPORTED
