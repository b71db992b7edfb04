"""The plugin API (version 1): rule packs and code emitters, loaded through entry points.

A distribution extends losscheck by declaring, in its ``pyproject.toml``::

    [project.entry-points."losscheck.rules"]
    torch = "losscheck_torch.rules:RULES"        # a list of Rule subclasses (a rule pack)

    [project.entry-points."losscheck.emitters"]
    torch = "losscheck_torch.emitter:EMITTER"    # an object with .framework and .emit(plan)

A plugin declares the API it was written for with ``PLUGIN_API = 1`` in its module; a
plugin that fails to import, or that targets another API version, is reported by name and
skipped: the core keeps working.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

PLUGIN_API = 1
RULES_GROUP = "losscheck.rules"
EMITTERS_GROUP = "losscheck.emitters"


@dataclass
class PluginError:
    plugin: str  # "<distribution>:<entry point name>"
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed to load: {self.message}"


@dataclass
class Loaded:
    objects: list[tuple[str, Any]] = field(default_factory=list)  # (plugin origin, object)
    errors: list[PluginError] = field(default_factory=list)


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = dist.metadata["Name"] if dist is not None else ep.value.split(":")[0]
    return f"{name}:{ep.name}"


def load_group(group: str) -> Loaded:
    # imported here: importlib.metadata costs ~25 ms, and a lint run whose files need no plugin
    # rule never reads entry points
    from importlib.metadata import entry_points

    loaded = Loaded()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        origin = _origin(ep)
        try:
            obj = ep.load()
            module = sys.modules.get(ep.module)
            api = getattr(module, "PLUGIN_API", PLUGIN_API)
            if api != PLUGIN_API:
                raise ValueError(f"written for plugin API {api}, this losscheck speaks {PLUGIN_API}")
        except Exception as exc:  # a broken plugin must never take the core down
            loaded.errors.append(PluginError(origin, f"{type(exc).__name__}: {exc}"))
            continue
        loaded.objects.append((origin, obj))
    return loaded
