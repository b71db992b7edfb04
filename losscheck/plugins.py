"""The plugin API (version 1): rule packs and code emitters, loaded through entry points.

A distribution extends losscheck by declaring, in its ``pyproject.toml``::

    [project.entry-points."losscheck.rules"]
    torch = "losscheck_torch.rules:RULES"        # a list of Rule subclasses (a rule pack)

    [project.entry-points."losscheck.emitters"]
    torch = "losscheck_torch.emitter:EMITTER"    # an object with .framework and .emit(plan)

A plugin declares the API it was written for with ``PLUGIN_API = 1`` in its module; a
plugin that fails to import, or that targets another API version, is reported by name and
skipped: the core keeps working.

:func:`installed_fingerprint` says what is installed, by content, for the cache keys: it finds
rule plugins the way ``importlib.metadata`` does, without importing it (~25 ms a run).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

PLUGIN_API = 1
RULES_GROUP = "losscheck.rules"
EMITTERS_GROUP = "losscheck.emitters"


@dataclass
class PluginError:
    """A plugin that failed to load, and why."""

    plugin: str  # "<distribution>:<entry point name>"
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed to load: {self.message}"


@dataclass
class Loaded:
    """The objects an entry-point group gave, with the plugins that failed."""

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


# -- what is installed, by content (cache keys) --------------------------------------------------

_DIST_SUFFIXES = (".dist-info", ".egg-info")
MAX_HASHED_BYTES = 16 << 20  # code hashed per plugin package; past it, files count by size alone
_MAX_METADATA_BYTES = 1 << 20  # an entry_points.txt is a few hundred bytes


def _distribution_folders(entry: str) -> list[str]:
    """The ``*.dist-info``/``*.egg-info`` names in one import folder: each names a distribution
    and its version, so installing, upgrading or removing anything changes the list."""
    try:
        with os.scandir(entry or ".") as found:
            return sorted(e.name for e in found if e.name.endswith(_DIST_SUFFIXES))
    except OSError:  # a zip file, a missing folder
        return []


def _entry_points(text: str, group: str) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of ``group`` in an ``entry_points.txt`` (an INI file)."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _rule_entry_points(entry: str, folders: Sequence[str]) -> list[tuple[str, str, str]]:
    """(distribution folder, name, value) of every rule entry point on the import folder ``entry``:
    remembered while no ``entry_points.txt`` there changes (``file_states.py``)."""
    from losscheck.file_states import remembered

    if not folders:
        return []  # nothing installed there (a project folder): nothing to read, nothing to keep
    paths = [os.path.join(entry or ".", folder, "entry_points.txt") for folder in folders]
    return remembered("entry-points", paths, lambda: _read_rule_entry_points(entry, folders), _are_entry_points,
                      context=entry)


def _are_entry_points(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(e, tuple) and len(e) == 3 and all(isinstance(part, str) for part in e) for e in value)


def _read_rule_entry_points(entry: str, folders: Sequence[str]) -> list[tuple[str, str, str]]:
    from losscheck.startup import read_regular_file

    found = []
    for folder in folders:
        data = read_regular_file(os.path.join(entry or ".", folder, "entry_points.txt"), _MAX_METADATA_BYTES)
        if data is not None and RULES_GROUP.encode() in data:
            text = data.decode("utf-8", "replace")
            found.extend((folder, name, value) for name, value in _entry_points(text, RULES_GROUP))
    return found


def _code_files(top: str) -> list[str]:
    """The files of the top-level package or module ``top``, located without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        return [spec.origin] if spec.origin and os.path.isfile(spec.origin) else []
    files = []
    for location in locations:
        for folder, dirs, names in os.walk(location):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith((".py", ".pyi", ".json")))
    return files


def code_digest(module: str) -> str:
    """A content hash of the code of ``module``'s top-level package: the rules, and the helpers
    next to them that they import. Past :data:`MAX_HASHED_BYTES`, files count by path and size.
    Remembered while none of those files changes (``file_states.py``)."""
    from losscheck.file_states import remembered

    top = module.partition(".")[0]
    files = _code_files(top)
    return remembered("plugin-code", files, lambda: _read_code_digest(files), lambda v: isinstance(v, str),
                      context=top)


def _read_code_digest(files: list[str]) -> str:
    from losscheck.hashing import blake2b
    from losscheck.startup import read_regular_file

    digest = blake2b(digest_size=32)
    budget = MAX_HASHED_BYTES
    for path in files:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        data = read_regular_file(path, size) if size <= budget else None
        if data is None:
            digest.update(b"size:%d\0" % size)
            continue
        budget -= len(data)
        digest.update(b"%d\0" % len(data) + data)
    return digest.hexdigest()


def installed_fingerprint(path: Sequence[str]) -> list[Any]:
    """What is installed on the import folders ``path``, for cache keys: each folder's
    distributions (names and versions), and for every ``losscheck.rules`` entry point, the
    entry point and a content hash of the code it names (an editable plugin changes in place)."""
    out: list[Any] = []
    for entry in path:
        folders = _distribution_folders(entry)
        plugins = [(f, name, value, code_digest(value.partition(":")[0].strip()))
                   for f, name, value in _rule_entry_points(entry, folders)]
        out.append((folders, plugins))
    return out
