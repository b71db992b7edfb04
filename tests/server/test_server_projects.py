"""The server's per-project settings (``losscheck/server/projects.py``): found and layered as
``losscheck lint`` does, and rebuilt when a file they came from changes."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from losscheck.lint import config as cfg
from losscheck.lint.cli import _settings_from
from losscheck.server.projects import Projects, ServerOptions

LAYOUT = Path(__file__).resolve().parents[2] / "examples" / "layouts" / "packed_seg_cls.json"


def test_settings_are_the_clis_and_the_layout_file_is_watched(tmp_path) -> None:
    shutil.copyfile(LAYOUT, tmp_path / "heads.json")
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\nlayout = "heads.json"\nignore = ["LCK104"]\n', encoding="utf-8")
    (tmp_path / "src").mkdir()
    path = str(tmp_path / "src" / "losses.py")
    projects = Projects()
    project = projects.for_path(path)
    cli = _settings_from(argparse.Namespace(layout=None, config=None, isolated=False, target_keras=None), [path])
    assert project.error is None and project.plan.settings == cli
    assert project.plan.settings.layout == str(tmp_path / "heads.json")
    assert "layout" in project.plan.options  # handed to the shape engine, as the CLI hands it
    assert projects.for_path(str(tmp_path / "other.py")) is project  # one plan per project
    for watched in ("heads.json", "pyproject.toml", "requirements-dev.txt", "setup.cfg"):
        assert projects.watches(str(tmp_path / watched)), watched
    assert not projects.watches(str(tmp_path / "data.json"))
    assert not projects.watches(str(tmp_path / "src" / "losses.py"))

    # the config changes: the next lint gets a new plan with it
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\nselect = ["LCK101"]\n', encoding="utf-8")
    projects.invalidate()
    rebuilt = projects.for_path(path)
    assert rebuilt.generation == project.generation + 1
    assert [r.code for r in rebuilt.plan.enabled] == ["LCK101"] and rebuilt.plan.settings.layout is None


def test_server_options_layer_over_the_config_as_the_cli_flags_do(tmp_path) -> None:
    shutil.copyfile(LAYOUT, tmp_path / "heads.json")
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\ntarget-keras = "3"\n', encoding="utf-8")
    projects = Projects(ServerOptions(layout=str(tmp_path / "heads.json"), target_keras="2"))
    settings = projects.for_path(str(tmp_path / "losses.py")).plan.settings
    assert settings.layout == str(tmp_path / "heads.json") and settings.target_keras == "2"
    isolated = Projects(ServerOptions(isolated=True)).for_path(str(tmp_path / "losses.py")).plan.settings
    assert isolated.config_path is None and isolated.target_keras == cfg.Settings(root=".").target_keras


def test_a_config_error_is_reported_once_and_the_defaults_used(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\nselect = ["LCK1"]\nlayout = "missing.json"\n', encoding="utf-8")
    messages: list[str] = []
    projects = Projects(on_error=messages.append)
    for name in ("a.py", "b.py"):
        project = projects.for_path(str(tmp_path / name))
    assert len(messages) == 1 and "missing.json" in messages[0]
    assert project.error is not None and project.plan.settings.root == str(tmp_path)
    assert project.plan.settings.layout is None


def test_a_missing_layout_file_is_a_one_line_error(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "losscheck", "server", "--layout", str(tmp_path / "nope.json")],
        check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"losscheck: error: {tmp_path / 'nope.json'}: layout file not found"]
