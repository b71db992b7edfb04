"""Start faster: a memo of the programs ``re`` builds for the patterns modules compile as they load.

Why: the modules a lint imports compile ~110 regular expressions in their bodies (the
pre-filter's checks, libcst's tokenizer, the standard library's), ~11 ms of a 0.2 s lint of one
file, and again in each worker process that imports the rules. ``re`` translates a pattern into
a program for its C engine in Python (``re._parser``, ``re._compiler``); only the last step,
``_sre.compile``, is C, and it is cheap.

How: while the block runs, ``re._compiler.compile``, which ``re.compile`` calls when its own
in-process cache misses, is replaced by :class:`_MemoizedCompile`. A pattern compiled while a
module body runs (an import: what the installed code compiles, the same on every start) is
looked up by its text and flags in a memo read from the start-up cache folder
(``startup.startup_cache_dir``); a hit goes straight to ``_sre.compile`` with the stored program.
So is a pattern compiled inside :func:`installed_patterns` (the rules' declared triggers).
Any other pattern (built from a linted file's names, from a ``.gitignore``) goes the usual way
and is not stored, so the memo does not grow with the files a user lints.

Why it is safe:
- A program is a pure function of the pattern, its flags and the interpreter: the memo file is
  per interpreter tag, under the start-up memos' header (bytecode magic) and checksum, and is
  read only when both hold (``startup.read_memo``).
- An entry is stored only when the pattern ``_sre.compile`` makes from it equals the one ``re``
  itself made (pattern objects compare flags, text and program): an interpreter whose
  internals differ stores nothing and runs as before.
- ``_sre.compile`` checks the program it is given (CPython validates the code), and an entry of
  the wrong types raises there: either way the pattern is compiled the usual way.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from losscheck.startup import read_memo, register_memo, updated_memo, write_memo

try:  # CPython 3.11 on
    from re import _compiler, _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - CPython 3.10
    import sre_compile as _compiler  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

import _sre

MEMO_NAME = "re-programs.marshal"

# (flags, code, groups - 1, groupindex, indexgroup): what re's compiler hands to ``_sre.compile``
Program = tuple[int, list[int], int, dict[str, int], tuple[Any, ...]]
Key = tuple[Any, int]  # (pattern text, str or bytes; the flags asked for)


def _program(pattern: str | bytes, flags: int) -> Program:
    """The arguments ``re._compiler.compile`` passes to ``_sre.compile``, built as it builds them."""
    parsed = _parser.parse(pattern, flags)
    code = _compiler._code(parsed, flags)
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    # the opcodes are int subclasses (named constants): plain ints are what marshal stores
    final_flags = int(flags | parsed.state.flags)
    return (final_flags, [int(op) for op in code], parsed.state.groups - 1, groupindex, tuple(indexgroup))


_declaring = threading.local()  # .depth > 0: the installed code compiles patterns it declares


@contextmanager
def installed_patterns() -> Iterator[None]:
    """Patterns compiled in the block are the installed code's own, even outside a module body:
    the triggers the rules declare, compiled when the rule manifest is checked and the
    pre-filter built (~2 ms a run). They are kept like the patterns of module bodies."""
    _declaring.depth = getattr(_declaring, "depth", 0) + 1
    try:
        yield
    finally:
        _declaring.depth -= 1


def _in_module_body(boundary: FrameType | None) -> bool:
    """Is a module being imported up the stack, below ``boundary`` (the frame that opened the
    block)? Patterns compiled there are the installed code's, not the linted files'. Frames
    above the block do not count: a program that runs losscheck from its own module body
    would make every pattern look like an import's."""
    frame = sys._getframe(2)
    while frame is not None and frame is not boundary:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") != "__main__":
            return True
        frame = frame.f_back
    return False


class _MemoizedCompile:
    """Stands in for ``re._compiler.compile``: same call, the programs of import-time patterns memoised."""

    def __init__(self, folder: Path, original: Callable[..., re.Pattern[Any]], boundary: FrameType | None) -> None:
        self.folder = folder  # the start-up cache folder (startup.current_folder)
        self.path = folder / MEMO_NAME
        self.boundary = boundary
        self.original = original
        self.memo: dict[Key, Program] | None = None  # read at the first import-time pattern
        self.used: dict[Key, Program] = {}
        self.compiled = 0  # import-time patterns this run compiled the usual way
        self.unsaved = False

    def __call__(self, pattern: Any, flags: int = 0) -> re.Pattern[Any]:
        if not isinstance(pattern, (str, bytes)) or flags & re.DEBUG:
            return self.original(pattern, flags)
        if not getattr(_declaring, "depth", 0) and not _in_module_body(self.boundary):
            return self.original(pattern, flags)
        key = (pattern, flags)
        if self.memo is None:
            self.memo = _load(self.path)
        program = self.memo.get(key)
        if program is not None:
            try:
                compiled = _sre.compile(pattern, *program)
            except Exception:  # noqa: BLE001 - a program that does not fit: compile it the usual way
                pass
            else:
                self.used[key] = program
                return compiled
        compiled = self.original(pattern, flags)
        self.compiled += 1
        try:
            program = _program(pattern, flags)
            same = _sre.compile(pattern, *program) == compiled
        except Exception:  # noqa: BLE001 - internals not as expected: nothing is stored
            same = False
        if same:
            self.used[key] = program
            self.unsaved = True
        return compiled

    def save(self) -> None:
        """Write the memo when this run compiled an import-time pattern it did not hold."""
        if not self.unsaved:
            return
        self.memo = updated_memo(self.memo or {}, self.used)
        write_memo(self.path, self.memo)
        self.unsaved = False


def _load(path: Path) -> dict[Key, Program]:
    memo = read_memo(path)
    if not isinstance(memo, dict):
        return {}
    return {k: v for k, v in memo.items() if _is_key(k) and isinstance(v, tuple) and len(v) == 5}


def _is_key(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], (str, bytes)) and type(key[1]) is int


@contextmanager
def regex_program_memo(folder: Path | None) -> Iterator[_MemoizedCompile | None]:
    """Memoise the programs of the patterns modules compile as they are imported inside the
    block (see the module docstring). ``folder``: the start-up cache folder, None to turn it off."""
    current = getattr(_compiler, "compile", None)
    if folder is None or sys.implementation.name != "cpython" or isinstance(current, _MemoizedCompile) or current is None:
        yield None  # turned off, another interpreter, or a block already running
        return
    # the frame that entered the block: this generator's, then contextlib's __enter__, then it
    shim = _MemoizedCompile(folder, current, sys._getframe(2))
    _compiler.compile = shim
    try:
        with register_memo(shim):
            yield shim
    finally:
        _compiler.compile = current
        shim.boundary = None  # no frame kept alive past the block
        shim.save()
