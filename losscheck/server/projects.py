"""The settings and rule plan of each project the editor has files open in.

A document's project is found the way ``losscheck lint`` finds it: the nearest
``pyproject.toml`` with a ``[tool.losscheck]`` table above the file (or ``--config``), its
folder the root that ``per-file-ignores`` match against. Settings are built by the CLI's own
code (``lint/cli.py``: the same layering, the same ``--layout`` check) and the rule plan by the
runner's, once per project: every later lint of every document of that project reuses them.

They are rebuilt when a file they were read from changes: a config, the layout, or a file of
dependency pins that decides which Keras the code targets (``keras_pins.py``). A config with an
error is reported once, and its documents are linted with the default settings meanwhile, so
the editor keeps working while the user types the config.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from losscheck.errors import UserError
from losscheck.lint import config as cfg
from losscheck.lint import runner

# File names whose change can change findings: configs and the dependency pins read for the
# Keras target. Layout files are watched by their paths (``Projects.watches``).
CONFIG_NAMES = frozenset({"pyproject.toml", "losscheck.toml"})
PIN_NAMES = frozenset({"setup.cfg", "setup.py", "Pipfile", "environment.yml", "environment.yaml"})


@dataclass(frozen=True)
class ServerOptions:
    """What ``losscheck server`` was started with; the same meaning as for ``losscheck lint``."""

    layout: str | None = None
    config: str | None = None
    target_keras: str | None = None
    isolated: bool = False


@dataclass
class Project:
    plan: runner.Plan
    error: str | None = None  # the config or layout error; the plan then has the defaults
    generation: int = 0  # changes whenever the projects are rebuilt (document results key on it)


@dataclass
class Projects:
    options: ServerOptions = field(default_factory=ServerOptions)
    on_error: Callable[[str], None] = lambda message: None
    generation: int = 0
    _by_config: dict[str | None, Project] = field(default_factory=dict)
    _config_of_folder: dict[str, str | None] = field(default_factory=dict)

    def for_path(self, path: str) -> Project:
        """The project of the document at ``path`` (a file that need not exist on disk)."""
        config = self._config_for(path)
        project = self._by_config.get(config)
        if project is None:
            project = self._build(path, config)
            self._by_config[config] = project
        return project

    def invalidate(self) -> None:
        """Forget every project: the next lint reads the configs and layouts again."""
        self._by_config.clear()
        self._config_of_folder.clear()
        self.generation += 1

    def watches(self, path: str) -> bool:
        """Can a change of the file at ``path`` change findings?"""
        name = os.path.basename(path)
        if name in CONFIG_NAMES or name in PIN_NAMES:
            return True
        if name.startswith("requirements") and name.endswith(".txt"):
            return True
        real = os.path.realpath(path)
        layouts = {self.options.layout, *(p.plan.settings.layout for p in list(self._by_config.values()))}
        return any(layout and os.path.realpath(layout) == real for layout in layouts)

    def _config_for(self, path: str) -> str | None:
        if self.options.config:
            return os.path.abspath(self.options.config)
        if self.options.isolated:
            return None
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in self._config_of_folder:  # a walk up that reads files: once per folder
            found = cfg.find_config(folder)
            self._config_of_folder[folder] = str(found) if found is not None else None
        return self._config_of_folder[folder]

    def _build(self, path: str, config: str | None) -> Project:
        from losscheck.lint.cli import _settings_from

        args = argparse.Namespace(
            layout=self.options.layout,
            config=self.options.config,
            isolated=self.options.isolated,
            target_keras=self.options.target_keras,
        )
        try:
            return Project(runner.plan(_settings_from(args, [path])), None, self.generation)
        except (UserError, OSError, ValueError) as exc:
            message = str(exc)
        self.on_error(f"losscheck: {message}; linting with the default settings until it is fixed")
        settings = cfg.build_settings([path], isolated=True, overrides={"target_keras": self.options.target_keras})
        if config is not None:  # per-file-ignores and the cache stay relative to the project
            settings.root = os.path.dirname(config)
        return Project(runner.plan(settings), message, self.generation)

