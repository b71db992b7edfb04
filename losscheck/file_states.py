"""Values read from files, remembered by the files' states, as git's index remembers content.

Every run keys its caches by the content of losscheck's own code and of the installed rule
plugins' (a rule edited in place must invalidate cached results), and reads the
``entry_points.txt`` of every installed distribution to find the plugins: some 300 files, read
and hashed on every start (10-30 ms of a 0.2 s lint of one file). :func:`remembered` computes
such a value once and keeps it in the start-up cache folder with the states of the files it was
read from; the next run checks the states (one ``stat`` each, ~1 ms in all) and reads nothing.

Why it cannot go stale:
- A file's state is its size, modification and status-change times in nanoseconds, inode,
  device and mode. Writing a file, renaming another over it or changing its mode moves its
  status-change time, which no tool can set back. Python itself trusts less (size and mtime
  in seconds) to decide that a ``.pyc`` still matches its source: the value is as current as
  the code that runs.
- The file system's clock moves in ticks (a few ms): a file written twice within one tick keeps
  the same times. So a value is kept only when every file it read was last changed at least
  :data:`SETTLED_NS` before it was read ("racily clean" files, in git's words, are read again
  on the next run, until they settle).
- The memo is a start-up memo file: checksummed, read only when intact, and ignored when its
  types are wrong; an unwritable folder only means the value is read again next time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from losscheck.hashing import blake2b
from losscheck.startup import current_folder, read_memo, write_memo

SETTLED_NS = 2_000_000_000  # a file changed this recently when read is read again next time
_T = TypeVar("_T")


def file_state(path: str) -> tuple[int, int, int, int, int, int] | None:
    """What says a file changed: size, mtime and ctime in ns, inode, device and mode; None when
    it is missing."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)


def remembered(kind: str, paths: Sequence[str], compute: Callable[[], _T], check: Callable[[Any], bool], *,
               context: str = "", folder: Path | None = None) -> _T:
    """``compute()``, a value read from the files ``paths`` (and from ``context``, any other text
    it depends on), or the value an earlier run computed when every file is as it was then.

    ``kind`` (letters, digits, ``-``) and ``context`` name the memo file, which keeps one value;
    the value must be made of what ``marshal`` stores (str, int, bytes, tuples, lists, dicts),
    and a stored one is used only when ``check(value)`` holds. ``folder``: the start-up cache
    folder (default: the running command's, :func:`startup.current_folder`; no folder, no memo)."""
    folder = folder if folder is not None else current_folder()
    if folder is None:
        return compute()
    states = [file_state(p) for p in paths]
    key = _key(kind, context, paths, states)
    where = blake2b(context.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()
    path = folder / f"file-states.{kind}.{where}.marshal"
    stored = read_memo(path)
    if isinstance(stored, dict) and stored.get("key") == key and "value" in stored and check(stored["value"]):
        return stored["value"]  # type: ignore[no-any-return]
    started = time.time_ns()
    value = compute()
    settled = started - SETTLED_NS
    if all(s is None or max(s[1], s[2]) < settled for s in states) and states == [file_state(p) for p in paths]:
        write_memo(path, {"key": key, "value": value})  # unchanged while read, and settled
    return value


def _key(kind: str, context: str, paths: Sequence[str], states: list[Any]) -> str:
    digest = blake2b(digest_size=32)
    digest.update(f"{kind}\0{context}\0".encode("utf-8", "surrogateescape"))
    for path, state in zip(paths, states):
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0" + repr(state).encode() + b"\0")
    return digest.hexdigest()
