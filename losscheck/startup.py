"""Start faster: a per-user cache of what derives from the installed code alone.

What lives there (:func:`startup_cache_dir`): the rule manifest (``lint/rule_manifest.py``), the
regex program memo (``regex_memo.py``), code digests remembered by file state
(``file_states.py``), and the **dataclass code memo** this module keeps. The memo files share
one format (:func:`read_memo`, :func:`write_memo`: marshal data under a checksummed header).

Why the memo: libcst defines its ~270 node classes as dataclasses. Creating a dataclass builds
its ``__init__``, ``__repr__``, ``__eq__``... as source text and compiles it with ``exec``. That is
about 1,000 ``compile`` calls on every start, 0.15-0.2 s of libcst's 0.25 s import, and the
largest single cost of linting one file.

How: while the block runs, the name ``exec`` inside the ``dataclasses`` module resolves to
:class:`_MemoizedExec` instead of the builtin. It looks the text up in a memo of code objects read
from disk, compiles (and records) only text it has not seen, and then runs the code object with
the builtin ``exec`` as before.

Why it is safe:
- ``compile`` is a pure function of the text and the flags. ``dataclasses`` has no ``__future__``
  imports, so its ``exec(text)`` compiles with no flags, which is what ``dont_inherit=True`` does.
- The code objects are stored with :mod:`marshal`, which is how ``.pyc`` files store them, under
  a header holding the interpreter's bytecode magic number and the BLAKE2b checksum of the marshal data;
  the folder is per interpreter tag and optimisation level. A file from another Python is ignored.
- ``marshal.loads`` trusts its input: flipped bits can make code objects that raise
  ``SystemError`` or crash the interpreter when run. So the checksum is verified before a byte
  is unmarshalled, and a file that fails it is ignored and rewritten by the same run.
- An unreadable, corrupt, oversized or foreign file, or anything but a regular file (a named
  pipe is never opened for a blocking read), is ignored. Files are replaced atomically, so
  parallel runs never read half of one.
- Only text that is byte-for-byte the same reuses a code object, so a new libcst or Python
  version just adds entries. A file is rewritten from this run's entries when it grows past
  :data:`MAX_ENTRIES`.
"""

from __future__ import annotations

import builtins
import marshal
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType
from typing import Any

MAX_ENTRIES = 20_000  # about 4x what libcst + losscheck + a plugin need; bounds a file at a few MB
MAX_MEMO_BYTES = 64 << 20  # far above MAX_ENTRIES' worth: a larger file is not ours
STARTUP_CACHE_ENV = "LOSSCHECK_STARTUP_CACHE"  # a folder to use instead, or "off"
_OFF = frozenset({"off", "0", "false", "no", "none"})


def _magic() -> bytes:
    import importlib.util

    # the bytecode magic, as in a .pyc: code objects only load into the Python that wrote them
    return b"losscheck-startup-memo-3:" + importlib.util.MAGIC_NUMBER + b"\n"


_DIGEST_SIZE = 32  # BLAKE2b-256, stored raw after the magic


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None for anything else.

    Every cache file (and the code hashed for cache keys) is read through here, so a cache
    folder can never hang or flood a run: the open is non-blocking (a named pipe opens at once
    instead of waiting for a writer), the opened file must be a regular one (``fstat`` on the
    descriptor, so a swap after a check cannot fool it), and at most its size plus one byte is
    read. A file whose length changes while it is read is None too (cache files are replaced
    whole, never written in place)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return _read_exactly(fd, info.st_size)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size + 1  # the extra byte tells a file that grew since fstat
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    return data if len(data) == size else None


def _user_cache_home() -> Path | None:
    """The platform's per-user cache folder for losscheck (``~/.cache/losscheck`` on Linux,
    ``$XDG_CACHE_HOME`` when it is absolute), or None when there is no usable one."""
    # imported here: a run given LOSSCHECK_STARTUP_CACHE never pays for it (~3 ms)
    from platformdirs import user_cache_dir

    try:
        # appauthor=False: no vendor folder on Windows (%LOCALAPPDATA%\losscheck\Cache)
        folder = Path(user_cache_dir("losscheck", appauthor=False))
    except (RuntimeError, KeyError, OSError):  # no home folder to be found
        return None
    # a relative folder would put the cache inside whatever project the run starts in
    return folder if folder.is_absolute() else None


def startup_cache_dir() -> Path | None:
    """The folder for this installation of losscheck on this interpreter, or None when turned off.

    Per user (platformdirs' ``user_cache_dir``: ``~/.cache/losscheck`` on Linux;
    ``$LOSSCHECK_STARTUP_CACHE`` wins, ``off`` turns it off), then per interpreter tag,
    optimisation level and install folder, so two virtualenvs never share a manifest. Nothing is
    written into the installed package: an uninstall leaves nothing behind there, and a
    read-only install works the same."""
    import zlib

    configured = os.environ.get(STARTUP_CACHE_ENV)
    if configured is not None and configured.strip().lower() in _OFF:
        return None
    tag = sys.implementation.cache_tag
    if tag is None:  # an interpreter that keeps no bytecode
        return None
    root = Path(configured) if configured else _user_cache_home()
    if root is None:
        return None
    install = zlib.crc32(str(Path(__file__).resolve().parent).encode())
    return root / f"{tag}-O{sys.flags.optimize}-{install:08x}"


def shard_path(folder: Path, package: str) -> Path:
    """One memo file per top-level package (``dataclass-code.libcst.marshal``)."""
    return folder / f"dataclass-code.{package}.marshal"


def _package(globals: dict | None) -> str:  # noqa: A002
    name = str((globals or {}).get("__name__") or "")
    top = name.partition(".")[0]
    return top if top.isidentifier() else "_"


class _MemoizedExec:
    """Stands in for ``exec`` inside ``dataclasses``: same call, memoised compile.

    The memo is kept in one file per top-level package of the class being built, each read the
    first time that package builds a dataclass. A run that never imports libcst (every file
    rejected by the pre-filter) does not read libcst's ~1 MB of code objects."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.shards: dict[str, dict[str, CodeType]] = {}  # package -> text -> code, as read
        self.used: dict[str, dict[str, CodeType]] = {}  # package -> what this run used
        self.compiled_in: dict[str, int] = {}  # package -> compiles this run
        self.unsaved: set[str] = set()  # packages that compiled something since the last save

    @property
    def compiled(self) -> int:
        return sum(self.compiled_in.values())

    def __call__(self, source, globals=None, locals=None, /):  # noqa: A002 - exec's own names
        if isinstance(source, str):
            package = _package(globals)
            memo = self.shards.get(package)
            if memo is None:
                memo = self.shards[package] = _read(shard_path(self.folder, package))
                self.used[package] = {}
            code = memo.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.compiled_in[package] = self.compiled_in.get(package, 0) + 1
                self.unsaved.add(package)
            self.used[package][source] = code
            source = code
        return builtins.exec(source, globals, locals)

    def save(self) -> None:
        """Write the shards that compiled something new (only these changed)."""
        for package in sorted(self.unsaved):
            kept = updated_memo(self.shards[package], self.used[package])
            write_memo(shard_path(self.folder, package), kept)
            self.shards[package] = kept
        self.unsaved.clear()  # a second call (a worker's, then the block's end) writes nothing new


def _digest(data: bytes | memoryview) -> bytes:
    from losscheck.hashing import blake2b

    return blake2b(data, digest_size=_DIGEST_SIZE).digest()


def _payload(data: bytes) -> memoryview | None:
    """The marshal data of a memo file whose magic and checksum are right, else None (a view:
    the libcst memo is ~0.7 MB, not worth a copy)."""
    magic = _magic()
    if not data.startswith(magic):
        return None
    digest = data[len(magic) : len(magic) + _DIGEST_SIZE]
    payload = memoryview(data)[len(magic) + _DIGEST_SIZE :]
    return payload if len(digest) == _DIGEST_SIZE and _digest(payload) == digest else None


def updated_memo(stored: dict[Any, Any], used: dict[Any, Any]) -> dict[Any, Any]:
    """What a memo file keeps after a run: the stored entries and this run's, or only this run's
    once the two together pass :data:`MAX_ENTRIES` (entries of code no longer installed go)."""
    merged = {**stored, **used}
    return merged if len(merged) <= MAX_ENTRIES else dict(used)


def read_memo(path: Path) -> Any:
    """The value a memo file holds, when it is a regular file of ours whose checksum holds; else
    None. The caller checks the value's types: marshal can hold any of its kinds."""
    data = read_regular_file(path, MAX_MEMO_BYTES)
    payload = None if data is None else _payload(data)
    if payload is None:
        return None
    try:
        return marshal.loads(payload)  # only what this module wrote: the checksum matched
    except Exception:  # noqa: BLE001 - a cache that cannot be read is a miss, whatever the cause
        return None


def _read(path: Path) -> dict[str, CodeType]:
    memo = read_memo(path)
    if not isinstance(memo, dict):
        return {}
    return {k: v for k, v in memo.items() if isinstance(k, str) and isinstance(v, CodeType)}


def _encode(memo: Any) -> bytes:
    payload = marshal.dumps(memo)
    return _magic() + _digest(payload) + payload


def write_memo(path: Path, memo: Any) -> None:
    """Replace the memo file at ``path`` with ``memo``, atomically; an unwritable folder is let be."""
    import tempfile  # only when the memo changed: tempfile imports shutil, random (5 ms)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_encode(memo))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        pass  # an unwritable cache folder: the next start compiles again, nothing else changes


_ACTIVE: list[Any] = []  # the memos of the blocks running now, for save_memos()


@contextmanager
def register_memo(memo: Any) -> Iterator[None]:
    """Make ``memo`` (an object with ``save()`` and ``folder``) one that :func:`save_memos` saves,
    inside the block."""
    _ACTIVE.append(memo)
    try:
        yield
    finally:
        _ACTIVE.remove(memo)


def current_folder() -> Path | None:
    """The start-up cache folder of the command running now: the one its memo blocks use (worked
    out once, when the command started), else :func:`startup_cache_dir`."""
    return _ACTIVE[0].folder if _ACTIVE else startup_cache_dir()


def save_memos() -> None:
    """Write what the running blocks' memos have learnt so far. A forked worker process calls it
    once its imports are done: it never reaches the end of the block it inherited, and its
    imports (libcst, the rules) may be the first of this installation."""
    for memo in list(_ACTIVE):
        memo.save()


@contextmanager
def dataclass_code_memo(folder: Path | None = None) -> Iterator[_MemoizedExec | None]:
    """Memoise the code ``dataclasses`` compiles inside the block (see the module docstring).

    ``folder``: where the memo files are (default: :func:`startup_cache_dir`)."""
    import dataclasses

    folder = folder if folder is not None else startup_cache_dir()
    if folder is None or sys.implementation.name != "cpython" or "exec" in vars(dataclasses):
        yield None  # turned off, another interpreter, or someone else already patched it
        return
    shim = _MemoizedExec(folder)
    dataclasses.exec = shim  # type: ignore[attr-defined]
    try:
        with register_memo(shim):
            yield shim
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
        shim.save()
