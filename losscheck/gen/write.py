"""Writing generated modules: atomic, idempotent, and never over a file losscheck did not write.

- Atomic: the text goes to a temporary file in the target's directory, is flushed and
  fsynced, then ``os.replace``d over the target; a failure at any point leaves an
  existing file untouched and removes the temporary file.
- Symbolic links are written through: the link stays, the file it points to gets the
  text and keeps its permissions. A read-only file is not replaced.
- Not a regular file (``/dev/null``, a FIFO, ``/dev/stdout``): the text is written to it
  as a stream, never read back (a device may never end), and never replaced by a file.
- Ownership: a file that exists and does not start with the generated marker is the
  user's; it is only replaced with ``force=True``.
- Reads are bounded: at most one byte more than the text being compared.
- ``--check``: compare without writing.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from losscheck.errors import UserError
from losscheck.gen.emitter import GENERATED_MARKER

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class Status(Enum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"  # the file already held exactly this text
    STALE = "stale"  # --check: the file differs (or is missing)
    UP_TO_DATE = "up to date"  # --check: identical


@dataclass(frozen=True)
class Result:
    path: Path
    status: Status


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def _stat(path: Path) -> os.stat_result | None:
    """The target's status, through symbolic links; None when it does not exist (or is a dangling link)."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UserError(f"cannot use this path: {_reason(err)}", str(path)) from None


def _read_upto(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_head(path: Path, limit: int) -> bytes | None:
    """At most ``limit`` bytes from the start of a regular file; None when it is missing or not a regular file."""
    try:
        # O_NONBLOCK: if the path turned into a FIFO since it was looked at, opening must not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UserError("is a directory; give a file name with -o", str(path)) from None
    except OSError as err:
        raise UserError(f"cannot read: {_reason(err)}", str(path)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _read_upto(fd, limit)
    except OSError as err:
        raise UserError(f"cannot read: {_reason(err)}", str(path)) from None
    finally:
        os.close(fd)


def is_generated(data: bytes) -> bool:
    """Whether a file's bytes are a losscheck-generated module (its first line is the marker)."""
    return data.startswith(GENERATED_MARKER.encode())


def is_read_only(info: os.stat_result, path: Path) -> bool:
    """No write permission bit at all (this counts for root too), or none for this user."""
    return not info.st_mode & 0o222 or not os.access(path, os.W_OK)


def _is_directory(info: os.stat_result | None) -> bool:
    return info is not None and stat.S_ISDIR(info.st_mode)


def _not_a_file(info: os.stat_result | None) -> bool:
    """Exists and is neither a regular file nor a directory: a device, FIFO or socket."""
    return info is not None and not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode)


def needs_force(path: Path) -> bool:
    """Whether :func:`write` refuses ``path`` unless forced: the user's own file, or a block device."""
    info = _stat(path)
    if info is None or _is_directory(info):
        return False
    if not stat.S_ISREG(info.st_mode):
        return stat.S_ISBLK(info.st_mode)
    head = read_head(path, len(GENERATED_MARKER))
    return head is not None and not is_generated(head)


def target_is_read_only(path: Path) -> bool:
    """Whether ``path`` is an existing regular file that :func:`write` refuses to replace as read-only."""
    info = _stat(path)
    return info is not None and stat.S_ISREG(info.st_mode) and is_read_only(info, path)


def check(path: Path, text: str) -> Result:
    data = text.encode("utf-8")
    info = _stat(path)
    if _is_directory(info):
        raise UserError("is a directory; give a file name with -o", str(path))
    if _not_a_file(info):
        raise UserError("is not a regular file; --check compares a generated module file", str(path))
    current = read_head(path, len(data) + 1) if info is not None else None
    return Result(path, Status.UP_TO_DATE if current == data else Status.STALE)


def write(path: Path, text: str, *, force: bool = False) -> Result:
    data = text.encode("utf-8")
    info = _stat(path)
    if _is_directory(info):
        raise UserError("is a directory; give a file name with -o", str(path))
    if _not_a_file(info):
        assert info is not None
        return _write_stream(path, data, info, force=force)
    # Through symbolic links: replacing the link itself would leave its target stale.
    real = Path(os.path.realpath(path))
    where = f"{path} (a link to {real})" if os.path.islink(path) else str(path)
    current = read_head(real, len(data) + 1) if info is not None else None
    if current == data:
        return Result(path, Status.UNCHANGED)  # leave mtime alone: build tools stay quiet
    if current is not None and not force and not is_generated(current):
        raise UserError("exists and was not generated by losscheck; not overwriting it (use --force to replace it)",
                        where)
    if info is not None and is_read_only(info, real):
        raise UserError("is read-only; not replacing it (make it writable first)", where)
    directory = real.parent
    if not directory.is_dir():
        raise UserError(f"directory {str(directory)!r} does not exist", where)
    mode = info.st_mode & 0o7777 if info is not None else 0o666 & ~_umask()
    _replace_atomically(real, data, mode, where)
    return Result(path, Status.WRITTEN)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _replace_atomically(real: Path, data: bytes, mode: int, where: str) -> None:
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # the existing file's permissions, or the usual ones for a new file
        os.replace(tmp, real)
        tmp = ""
    except OSError as err:
        raise UserError(f"cannot write: {_reason(err)}; nothing written", where) from None
    finally:
        if fd != -1:
            os.close(fd)
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _write_stream(path: Path, data: bytes, info: os.stat_result, *, force: bool) -> Result:
    """Write to a device, FIFO or the like: asked for by name, so written to, never replaced or read."""
    if stat.S_ISBLK(info.st_mode) and not force:
        raise UserError("is a block device, not a file; not writing to it (use --force to write to it anyway)",
                        str(path))
    try:
        # O_NONBLOCK: a FIFO that nobody reads gives ENXIO at once instead of hanging here.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | _CLOEXEC)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise UserError("nothing is reading from it; not writing", str(path)) from None
        raise UserError(f"cannot write: {_reason(err)}", str(path)) from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as err:
        raise UserError(f"cannot write: {_reason(err)}", str(path)) from None
    finally:
        os.close(fd)
    return Result(path, Status.WRITTEN)
