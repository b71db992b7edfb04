"""The per-user start-up cache folder is platformdirs' ``user_cache_dir("losscheck")``.

A hand-written copy of the rules took a relative ``$XDG_CACHE_HOME`` (or ``$HOME``) as it was,
so the cache landed inside whatever folder a run started in. The XDG specification says a
relative value is to be ignored, and platformdirs does so."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest
from cache_helpers import BUGGY, imported, lint

from losscheck import startup

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rules are Linux's")


def _tag_folder(folder: Path) -> str:
    assert folder.name.startswith(f"{sys.implementation.cache_tag}-O{sys.flags.optimize}-")
    return folder.name


@pytest.fixture
def user_env(tmp_path, monkeypatch):
    monkeypatch.delenv(startup.STARTUP_CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_folder_is_platformdirs_user_cache_dir(user_env):
    folder = startup.startup_cache_dir()
    assert folder is not None
    assert folder.parent == Path(platformdirs.user_cache_dir("losscheck", appauthor=False))
    _tag_folder(folder)


@linux_only
@pytest.mark.parametrize("value", ["relative/cache", "cache", "./cache"])
def test_a_relative_xdg_cache_home_is_ignored(user_env, monkeypatch, value):
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    folder = startup.startup_cache_dir()
    assert folder is not None and folder.is_absolute()
    assert folder.parent == user_env / "home" / ".cache" / "losscheck"


@linux_only
def test_an_absolute_xdg_cache_home_is_used(user_env, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_env / "xdg"))
    folder = startup.startup_cache_dir()
    assert folder is not None and folder.parent == user_env / "xdg" / "losscheck"


@linux_only
def test_a_relative_home_never_puts_the_cache_in_the_working_folder(user_env, monkeypatch):
    monkeypatch.setenv("HOME", "home")
    folder = startup.startup_cache_dir()
    assert folder is None or (folder.is_absolute() and user_env not in folder.parents)


def test_the_override_is_kept(user_env, monkeypatch):
    monkeypatch.setenv(startup.STARTUP_CACHE_ENV, str(user_env / "mine"))
    folder = startup.startup_cache_dir()
    assert folder is not None and folder.parent == user_env / "mine"
    monkeypatch.setenv(startup.STARTUP_CACHE_ENV, "off")
    assert startup.startup_cache_dir() is None


def test_a_run_given_a_folder_does_not_import_platformdirs(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / BUGGY.name).write_bytes(BUGGY.read_bytes())
    run = lint(project, tmp_path / "cache", "--format", "concise", ".", importtime=True,
               env={startup.STARTUP_CACHE_ENV: str(tmp_path / "startup")})
    assert run.returncode == 1
    assert "platformdirs" not in imported(run.stderr)
