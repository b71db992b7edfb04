"""Content-hash caches under ``.losscheck_cache/`` (or ``$LOSSCHECK_CACHE_DIR``).

Two things are cached, both keyed so that a stale entry can never be read:

- **results**: a file's findings, keyed by the tool version, a fingerprint of losscheck's own
  code and of the installed plugins, the settings that change findings, the rules run on the
  file, the file's path and its bytes. A repeat run over an unchanged tree reads each file
  (to hash it) and one small entry per file: no pre-filter, no libcst import, no parse.
- **the rule manifest**: the code, name, defaults and triggers of every rule, so that
  selection and the pre-filter work without importing the rule modules (and libcst). It derives
  from the installed code alone, so it is kept in the per-user start-up cache
  (``losscheck/startup.py``: shared by every project, kept under ``--no-cache``), else in the
  project cache.

Writes go to a temporary file in the same folder, then ``os.replace``: readers see the old
entry or the new one, never a partial one, so concurrent runs are safe. A cache that cannot
be read or written is ignored (the run is only slower).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from losscheck import __version__
from losscheck.lint.finding import Finding

CACHE_ENV = "LOSSCHECK_CACHE_DIR"
FORMAT = "v1"


def cache_root(project_root: str, configured: str | None = None) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(configured) if configured else Path(project_root) / ".losscheck_cache"


def _package_fingerprint() -> list[Any]:
    """Changes when losscheck's code changes (an editable install needs no version bump)."""
    import losscheck

    base = Path(losscheck.__file__).parent
    stats: list[Any] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".json")):
                try:
                    st = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                stats.append((os.path.relpath(os.path.join(folder, name), base), st.st_mtime_ns, st.st_size))
    return stats


def _environment_fingerprint() -> list[Any]:
    """Changes when a distribution (a plugin) is installed or removed, or an import folder is added.

    Every import folder counts by its path (``PYTHONPATH=plugins_dir`` changes the key); site
    folders also by their modification time (installing adds a ``*.dist-info`` folder there). Other
    folders' times are left out: a project's own ``src`` on ``PYTHONPATH`` changes with every
    atomic save. ``sys.path[0]`` is left out too: it is the working directory under ``-m`` or
    the console script's folder."""
    out: list[Any] = []
    for entry in sys.path[1:]:
        if os.path.basename(entry.rstrip("/\\")) not in ("site-packages", "dist-packages"):
            out.append(entry)
            continue
        try:
            out.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            out.append((entry, None))
    return out


def tool_key() -> str:
    material = json.dumps([__version__, FORMAT, _package_fingerprint(), _environment_fingerprint()])
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile  # only writers pay for it

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _init_dir(root: Path) -> None:
    """Mark the folder as a cache (backup tools skip it; git ignores it)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tag = root / "CACHEDIR.TAG"
        if not tag.exists():
            _atomic_write(tag, b"Signature: 8a477f597d28d172789f06886806bc55\n# losscheck cache\n")
        ignore = root / ".gitignore"
        if not ignore.exists():
            _atomic_write(ignore, b"*\n")
    except OSError:
        pass


@dataclass
class ResultCache:
    root: Path
    run_key: str  # tool key + settings fingerprint
    enabled: bool = True
    hits: int = 0
    misses: int = 0

    @classmethod
    def open(cls, root: Path, tool: str, settings_fingerprint: Any, enabled: bool = True) -> ResultCache:
        run_key = hashlib.blake2b(
            json.dumps([tool, settings_fingerprint], sort_keys=True, default=str).encode(), digest_size=16
        ).hexdigest()
        return cls(root=root, run_key=run_key, enabled=enabled)

    def key(self, relpath: str, rule_codes: Sequence[str], data: bytes) -> str:
        h = hashlib.blake2b(digest_size=20)
        h.update(self.run_key.encode())
        h.update(b"\0" + relpath.encode("utf-8", "surrogateescape") + b"\0")
        h.update(",".join(rule_codes).encode() + b"\0")
        h.update(data)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        # plain strings: pathlib costs more than the read on a warm run of 1,000 files
        return os.path.join(self._results, key[:2], f"{key[2:]}.json")

    @property
    def _results(self) -> str:
        return os.path.join(str(self.root), FORMAT, "results")

    def get(self, key: str, display_path: str) -> list[Finding] | None:
        if not self.enabled:
            return None
        try:
            with open(self._file(key), "rb") as fh:
                records = json.loads(fh.read())
            findings = [Finding.from_dict({**r, "path": display_path}) for r in records]
        except (OSError, ValueError, TypeError, KeyError):
            self.misses += 1
            return None
        self.hits += 1
        return findings

    def put(self, key: str, findings: Iterable[Finding]) -> None:
        if not self.enabled:
            return
        records = []
        for f in findings:
            d = f.to_dict()
            d.pop("path")
            records.append(d)
        try:
            if not (self.root / "CACHEDIR.TAG").exists():
                _init_dir(self.root)
            _atomic_write(self._path(key), json.dumps(records, separators=(",", ":")).encode())
        except OSError:
            self.enabled = False  # read-only checkout: run on, uncached


# -- rule manifest -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """What selection, the pre-filter and `losscheck rules` need to know about a rule."""

    code: str
    name: str
    summary: str
    severity: str
    default_enabled: bool
    origin: str
    fix: bool
    triggers: tuple[str, ...] | None  # trigger names or regex text (decoded latin-1); None: always parse
    triggers_are_regex: tuple[bool, ...] = ()

    @classmethod
    def of(cls, rule: Any) -> RuleInfo:
        from losscheck.lint.prefilter import triggers_for

        trig = triggers_for(rule)
        return cls(
            code=rule.code,
            name=rule.name,
            summary=getattr(rule, "summary", ""),
            severity=getattr(rule, "severity", "error"),
            default_enabled=bool(getattr(rule, "default_enabled", True)),
            origin=getattr(rule, "origin", "losscheck"),
            fix=bool(rule.has_fix()) if hasattr(rule, "has_fix") else False,
            triggers=None if trig is None else tuple(t.decode("latin-1") if isinstance(t, bytes) else t for t in trig),
            triggers_are_regex=() if trig is None else tuple(isinstance(t, bytes) for t in trig),
        )

    def trigger_values(self) -> tuple[str | bytes, ...] | None:
        if self.triggers is None:
            return None
        return tuple(t.encode("latin-1") if r else t for t, r in zip(self.triggers, self.triggers_are_regex))


@dataclass
class Manifest:
    rules: list[RuleInfo]
    plugin_errors: list[str]


def _build_manifest() -> Manifest:
    from losscheck.lint.registry import load_registry

    registry = load_registry()
    return Manifest([RuleInfo.of(r) for r in registry.rules], [str(e) for e in registry.errors])


MANIFEST_PREFIX = "rules-manifest."


def install_cache_dir() -> Path | None:
    """The per-user folder for what derives from the installed code alone (the rule manifest, the
    dataclass memo of ``losscheck/startup.py``). Every project shares it and ``--no-cache``
    (which is about results) keeps it, as Python keeps ``.pyc`` files."""
    from losscheck.startup import startup_cache_dir

    return startup_cache_dir()


def _read_manifest(path: Path) -> Manifest | None:
    try:
        raw = json.loads(path.read_bytes())
        return Manifest(
            [RuleInfo(**{**r, "triggers": None if r["triggers"] is None else tuple(r["triggers"]),
                         "triggers_are_regex": tuple(r["triggers_are_regex"])}) for r in raw["rules"]],
            list(raw["plugin_errors"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None


def load_manifest(root: Path | None, tool: str | None = None) -> Manifest:
    """The rule manifest, read when losscheck's code and the installed plugins are unchanged.

    Looked for in the per-user start-up cache first (shared, and kept under ``--no-cache``), then
    in the project cache (``root``; None under ``--no-cache``); built by importing every rule, and
    written back, only when neither has it."""
    tool = tool or tool_key()
    name = f"{MANIFEST_PREFIX}{tool}.json"
    startup = install_cache_dir()
    places = [p for p in (startup, root / FORMAT if root is not None else None) if p is not None]
    for place in places:
        found = _read_manifest(place / name)
        if found is not None:
            return found
    manifest = _build_manifest()
    payload = json.dumps({"rules": [asdict(r) for r in manifest.rules],
                          "plugin_errors": manifest.plugin_errors}).encode()
    if startup is not None and _write_startup_manifest(startup, name, payload):
        return manifest
    if root is not None:
        try:
            _init_dir(root)
            _atomic_write(root / FORMAT / name, payload)
        except OSError:
            pass
    return manifest


def _write_startup_manifest(folder: Path, name: str, payload: bytes) -> bool:
    """Write it to the start-up cache and drop the manifests of earlier code (one is ever current:
    the folder is this installation's alone)."""
    try:
        _atomic_write(folder / name, payload)
    except OSError:
        return False  # an unwritable home: the project cache holds it instead
    for old in folder.glob(f"{MANIFEST_PREFIX}*.json"):
        if old.name != name:
            try:
                old.unlink()
            except OSError:
                pass
    return True
