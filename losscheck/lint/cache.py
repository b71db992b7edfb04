"""Content-hash caches under ``.losscheck_cache/`` (or ``$LOSSCHECK_CACHE_DIR``).

Two things are cached, both keyed so that a stale entry can never be read:

- **results**: a file's findings, keyed by the tool version, a fingerprint of losscheck's own
  code and of the installed plugins, the settings that change findings, the rules run on the
  file, the file's path and its bytes. A repeat run over an unchanged tree reads each file
  (to hash it) and one small entry per file: no pre-filter, no libcst import, no parse.
- **the rule manifest** (``rule_manifest.py``): the code, name, defaults and triggers of every
  rule, so that selection and the pre-filter work without importing the rule modules (and
  libcst). This module holds the result cache and what both share: keys, seals, atomic writes
  and the field checks.

Every key is made of content hashes, never of modification times: losscheck's own files, the
code of every installed rule plugin, the settings (the layout file by its bytes), the file.

A cache cannot lie, hang or crash a run:

- writes go to a temporary file in the same folder, then ``os.replace``: readers see the old
  entry or the new one, never a partial one, so concurrent runs are safe;
- every file is *sealed*: a checksum of its body and of the key it was written for comes
  first, and is checked before the body is parsed, so a flipped bit, a truncation or an entry
  copied to another key is a miss;
- what a sealed body holds is checked field by field (a result entry is a list of findings of
  the right types; the rule manifest lists every built-in rule);
- reads are bounded and never block: only regular files are opened (a named pipe is not
  waited on), and an entry larger than :data:`MAX_ENTRY_BYTES` is not read.

A cache that cannot be read is a miss (the entry is written again); one that cannot be written
is ignored (the run is only slower).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from losscheck import __version__
from losscheck.hashing import blake2b
from losscheck.lint.finding import Edit, Finding, Fix
from losscheck.startup import read_regular_file

CACHE_ENV = "LOSSCHECK_CACHE_DIR"
FORMAT = "v1"
MAX_ENTRY_BYTES = 64 << 20  # a result entry (19,000 findings of a 10 MB file: ~6 MB)
MAX_MANIFEST_BYTES = 16 << 20
MAX_HASHED_FILE_BYTES = 256 << 20  # a file hashed into a key (a layout): larger is not one


def cache_root(project_root: str, configured: str | None = None) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(configured) if configured else Path(project_root) / ".losscheck_cache"


# Built-in rules declare their code as a class attribute: ``code = "LCK101"`` (indented). The
# pattern starts with a literal so that ``re`` can skip ahead (10x faster than anchoring on ``^``);
# the indentation is checked on the few matches.
_RULE_CODE = re.compile(rb"""code[ \t]*(?::[^=\n]*)?=[ \t]*["']([A-Z]{1,3}[0-9]{3})["']""")


@dataclass(frozen=True)
class PackageState:
    """losscheck's own code, as the caches see it."""

    digest: str  # a content hash of losscheck's code (an editable install needs no version bump)
    builtin_codes: frozenset[str]  # the codes the built-in rule modules declare


@lru_cache(maxsize=1)
def package_state() -> PackageState:
    """Hash losscheck's own files by content, and read the built-in rule codes on the way (the
    rule manifest must list them all). Once per process: the code a process runs is fixed; and
    remembered from run to run while no file of the package changes (``file_states.py``)."""
    import losscheck
    from losscheck.file_states import remembered

    base = os.path.dirname(losscheck.__file__)
    files = _package_files(base)
    digest, codes = remembered("package", [path for path, _ in files], lambda: _read_package(base, files),
                               _is_package_state, context=base)
    return PackageState(digest, frozenset(codes))


def _package_files(base: str) -> list[tuple[str, str]]:
    """(path, path relative to ``base`` with ``/``) of the package's code and data, in a fixed order."""
    found = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".json")):
                path = os.path.join(folder, name)
                found.append((path, path[len(base) + 1 :].replace(os.sep, "/")))
    return found


def _read_package(base: str, files: list[tuple[str, str]]) -> tuple[str, list[str]]:
    rules = os.path.join(base, "lint", "rules")
    digest = blake2b(digest_size=32)
    codes: set[str] = set()
    for path, relpath in files:
        data = read_regular_file(path, MAX_HASHED_FILE_BYTES)
        digest.update(relpath.encode("utf-8", "surrogateescape") + (b"\0-\0" if data is None else b"\0%d\0" % len(data)))
        if data is None:
            continue
        digest.update(data)
        folder, name = os.path.split(path)
        if _is_rule_module(folder, name, rules):
            codes.update(_declared_codes(data))
    return digest.hexdigest(), sorted(codes)


def _is_package_state(value: Any) -> bool:
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], list) and all(isinstance(c, str) for c in value[1]))


def _declared_codes(data: bytes) -> Iterator[str]:
    for match in _RULE_CODE.finditer(data):
        indent = data[data.rfind(b"\n", 0, match.start()) + 1 : match.start()]
        if indent and not indent.strip(b" \t"):  # a class attribute, not ``opcode = ...``
            yield match.group(1).decode()


def _is_rule_module(folder: str, name: str, rules: str) -> bool:
    """A module ``registry.builtin_rules`` imports: ``rules/x.py`` or ``rules/pkg/__init__.py``."""
    if folder == rules:
        return name != "__init__.py"
    return name == "__init__.py" and os.path.dirname(folder) == rules


def _environment_fingerprint() -> list[Any]:
    """Changes when a distribution is installed, upgraded or removed, when a rule plugin's code
    changes (by content: an editable plugin changes in place), or when an import folder is added
    (``PYTHONPATH=plugins_dir`` changes the key).

    ``sys.path[0]``'s own name is left out (the working directory under ``-m``, or the console
    script's folder); what is installed there counts, as ``importlib.metadata`` finds it too."""
    from losscheck.plugins import installed_fingerprint

    return [sys.path[1:], installed_fingerprint(sys.path)]


_TOOL_KEYS: dict[tuple[str, ...], str] = {}


def tool_key() -> str:
    """The part of every key that describes the tool: its version and code, and the installed
    plugins. Once per process and import path (a run asks twice: manifest, then results)."""
    path = tuple(sys.path)
    key = _TOOL_KEYS.get(path)
    if key is None:
        material = json.dumps([__version__, FORMAT, package_state().digest, _environment_fingerprint()])
        key = _TOOL_KEYS[path] = blake2b(material.encode(), digest_size=16).hexdigest()
    return key


def content_digest(path: str | os.PathLike[str]) -> str | None:
    """A content hash of a file the settings name (a layout), for the results' key; None when it
    cannot be read (the run then stops on it anyway)."""
    data = read_regular_file(path, MAX_HASHED_FILE_BYTES)
    return None if data is None else blake2b(data, digest_size=32).hexdigest()


# -- sealed files ----------------------------------------------------------------------------

_SEAL_HEAD = b'{"blake2b":"'
_SEAL_MID = b'","data":'
_SEAL_HEX = 32


def _seal_digest(salt: str, body: bytes) -> bytes:
    h = blake2b(digest_size=_SEAL_HEX // 2)
    h.update(salt.encode("utf-8", "surrogateescape") + b"\0")
    h.update(body)
    return h.hexdigest().encode()


def seal(body: bytes, salt: str) -> bytes:
    """``body`` (JSON) wrapped with a checksum of it and of ``salt`` (the key it is stored
    under): ``{"blake2b":"<hex>","data":<body>}``, itself valid JSON."""
    return _SEAL_HEAD + _seal_digest(salt, body) + _SEAL_MID + body + b"}"


def unseal(raw: bytes, salt: str) -> bytes | None:
    """The body of a sealed file whose checksum holds, else None. Checked on the raw bytes,
    before any parsing: a corrupt body is never handed to the JSON parser."""
    start = len(_SEAL_HEAD) + _SEAL_HEX
    if not (raw.startswith(_SEAL_HEAD) and raw[start : start + len(_SEAL_MID)] == _SEAL_MID and raw.endswith(b"}")):
        return None
    body = raw[start + len(_SEAL_MID) : -1]
    return body if raw[len(_SEAL_HEAD) : start] == _seal_digest(salt, body) else None


def read_sealed(path: str | os.PathLike[str], salt: str, limit: int) -> Any:
    """The parsed body of a sealed JSON file, or None (missing, not a regular file, too large,
    checksum wrong, not JSON, nested too deeply)."""
    raw = read_regular_file(path, limit)
    body = None if raw is None else unseal(raw, salt)
    if body is None:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


# -- checking what a sealed body holds ---------------------------------------------------------


class InvalidEntry(Exception):
    """A cached value of the wrong shape or type: the entry is a miss."""


def checked_int(value: Any, least: int) -> int:
    if type(value) is not int or value < least:  # not bool: True is an int too
        raise InvalidEntry
    return value


def checked_str(value: Any) -> str:
    if type(value) is not str:
        raise InvalidEntry
    return value


def checked_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise InvalidEntry
    return value


def checked_record(value: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or value.keys() != keys:
        raise InvalidEntry
    return value


def checked_list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise InvalidEntry
    return value


_FINDING_KEYS = frozenset(
    {"line", "column", "end_line", "end_column", "code", "rule", "severity", "message", "fix", "cell"}
)
_FIX_KEYS = frozenset({"applicability", "message", "edits"})
_EDIT_KEYS = frozenset({"line", "column", "end_line", "end_column", "content"})


def _edit(value: Any) -> Edit:
    r = checked_record(value, _EDIT_KEYS)
    # lines 1-based, columns 0-based (libcst's convention)
    return Edit(checked_int(r["line"], 1), checked_int(r["column"], 0), checked_int(r["end_line"], 1), checked_int(r["end_column"], 0),
                checked_str(r["content"]))


def _fix(value: Any) -> Fix | None:
    if value is None:
        return None
    r = checked_record(value, _FIX_KEYS)
    if r["applicability"] not in ("safe", "unsafe"):
        raise InvalidEntry
    return Fix(tuple(_edit(e) for e in checked_list(r["edits"])), r["applicability"] == "safe", checked_str(r["message"]))


def _finding(value: Any, path: str) -> Finding:
    r = checked_record(value, _FINDING_KEYS)
    return Finding(
        path=path,
        line=checked_int(r["line"], 1),
        column=checked_int(r["column"], 1),
        end_line=checked_int(r["end_line"], 1),
        end_column=checked_int(r["end_column"], 1),
        code=checked_str(r["code"]),
        rule=checked_str(r["rule"]),
        severity=checked_str(r["severity"]),  # type: ignore[arg-type] - a plugin's own word is kept
        message=checked_str(r["message"]),
        fix=_fix(r["fix"]),
        cell=None if r["cell"] is None else checked_int(r["cell"], 1),  # a notebook's cell
    )


def findings_from(value: Any, path: str) -> list[Finding] | None:
    """The findings of a parsed result entry, or None when any field has the wrong shape or type."""
    try:
        return [_finding(v, path) for v in checked_list(value)]
    except InvalidEntry:
        return None


def atomic_write(path: Path, data: bytes) -> None:
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


def init_dir(root: Path) -> None:
    """Mark the folder as a cache (backup tools skip it; git ignores it)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tag = root / "CACHEDIR.TAG"
        if not tag.exists():
            atomic_write(tag, b"Signature: 8a477f597d28d172789f06886806bc55\n# losscheck cache\n")
        ignore = root / ".gitignore"
        if not ignore.exists():
            atomic_write(ignore, b"*\n")
    except OSError:
        pass


MAX_PACK_BYTES = 64 << 20
MAX_PACKS = 16  # the newest packs are kept: one per set of files linted together


@dataclass
class ResultCache:
    """One entry per file (``results/ab/cdef...json``), each sealed with its key; and, for a
    warm run of many files, a *pack* per set of files linted together: every entry of the last
    such run in one sealed file, read with one open instead of one per file. A pack only
    answers for keys it holds (the same content-hash keys as the entries), so it can never say
    more than the entries would; a pack that is missing, corrupt or ill-typed is not used, and
    the entries answer."""

    root: Path
    run_key: str  # tool key + settings fingerprint
    enabled: bool = True
    hits: int = 0
    misses: int = 0
    pack_name: str | None = None  # the set of files of this run (``use_pack``)
    _pack: dict[str, Any] | None = None  # key -> records, as read
    _seen: dict[str, Any] = field(default_factory=dict)  # key -> records, this run's

    @classmethod
    def open(cls, root: Path, tool: str, settings_fingerprint: Any, enabled: bool = True) -> ResultCache:
        run_key = blake2b(
            json.dumps([tool, settings_fingerprint], sort_keys=True, default=str).encode(), digest_size=16
        ).hexdigest()
        return cls(root=root, run_key=run_key, enabled=enabled)

    def key(self, relpath: str, rule_codes: Sequence[str], data: bytes, salt: str = "") -> str:
        """``salt``: what else decides the file's findings (the dependency files its Keras target
        is read from, ``keras_target.cache_salt``)."""
        h = blake2b(digest_size=20)
        h.update(self.run_key.encode())
        h.update(b"\0" + relpath.encode("utf-8", "surrogateescape") + b"\0")
        h.update(",".join(rule_codes).encode() + b"\0")
        if salt:
            h.update(salt.encode("utf-8", "surrogateescape") + b"\0")
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

    def use_pack(self, relpaths: Sequence[str]) -> None:
        """Read and write the pack of this set of files (a run of several files)."""
        if not self.enabled or len(relpaths) < 2:
            return
        h = blake2b(self.run_key.encode(), digest_size=16)
        for relpath in sorted(relpaths):
            h.update(relpath.encode("utf-8", "surrogateescape") + b"\0")
        self.pack_name = h.hexdigest()
        value = read_sealed(self._pack_file(), self.pack_name, MAX_PACK_BYTES)
        self._pack = value if isinstance(value, dict) else None

    def _pack_file(self) -> str:
        return os.path.join(str(self.root), FORMAT, "packs", f"{self.pack_name}.json")

    def get(self, key: str, display_path: str) -> list[Finding] | None:
        """The findings stored for ``key``, or None: a missing, unreadable, corrupt or
        ill-typed entry is a miss, and the run writes it again."""
        if not self.enabled:
            return None
        value = self._pack.get(key) if self._pack is not None else None
        findings = None if value is None else findings_from(value, display_path)
        if findings is None:  # not in the pack (or not valid there): the entry answers
            value = read_sealed(self._file(key), key, MAX_ENTRY_BYTES)
            findings = None if value is None else findings_from(value, display_path)
        if findings is None:
            self.misses += 1
            return None
        self.hits += 1
        if self.pack_name is not None:
            self._seen[key] = value
        return findings

    def finish(self) -> None:
        """Write this run's pack, unless it holds exactly what was read."""
        if not self.enabled or self.pack_name is None or not self._seen:
            return
        if self._pack is not None and self._pack.keys() == self._seen.keys():
            return
        data = seal(json.dumps(self._seen, separators=(",", ":")).encode(), self.pack_name)
        if len(data) > MAX_PACK_BYTES:
            return
        try:
            atomic_write(Path(self._pack_file()), data)
            self._prune_packs()
        except OSError:
            pass  # the entries are written: the pack only saves reads

    def _prune_packs(self) -> None:
        folder = os.path.dirname(self._pack_file())
        try:
            packs = [os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".json")]
            if len(packs) <= MAX_PACKS:
                return
            packs.sort(key=lambda p: os.stat(p).st_mtime_ns)
            for old in packs[: len(packs) - MAX_PACKS]:
                os.unlink(old)
        except OSError:
            pass

    def put(self, key: str, findings: Iterable[Finding]) -> None:
        if not self.enabled:
            return
        records = []
        for f in findings:
            d = f.to_dict()
            d.pop("path")
            records.append(d)
        data = seal(json.dumps(records, separators=(",", ":")).encode(), key)
        if len(data) > MAX_ENTRY_BYTES:
            return  # it could never be read back
        if self.pack_name is not None:
            self._seen[key] = records
        try:
            if not (self.root / "CACHEDIR.TAG").exists():
                init_dir(self.root)
            atomic_write(self._path(key), data)
        except IsADirectoryError:
            pass  # a folder where the entry belongs: this file stays uncached, the rest do not
        except OSError:
            self.enabled = False  # read-only checkout: run on, uncached
