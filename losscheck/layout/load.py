"""Read a layout file as JSON while remembering where every value starts (line, column).

Python's ``json`` module forgets positions, and validation messages must say
``layout.json:LINE: $.outputs[0].tasks[1].units: ...``. This is a small, strict
JSON (RFC 8259) reader: no NaN/Infinity, no trailing commas, no comments, and
duplicate keys are reported (``json.loads`` silently keeps the last one, which
would hide a typo'd copy of a task). Strings use the C-accelerated
``json.decoder.scanstring`` so escapes behave exactly like the standard library.
"""

from __future__ import annotations

import json.decoder
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from losscheck.errors import UserError

JsonPath = tuple[str | int, ...]

# The grammar's number, exactly (json.scanner.NUMBER_RE is the same, but private).
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WS = re.compile(r"[ \t\n\r]*")
_MAX_DEPTH = 128  # a layout is 4 levels deep; deeper input is junk, and recursion must stay bounded
# A 5,000-task layout is about 1 MB: anything past this is not a layout, and reading it
# (a runaway pipe, /dev/zero) must stop instead of eating memory.
MAX_LAYOUT_BYTES = 50 * 1024 * 1024


def format_path(path: JsonPath) -> str:
    """``("outputs", 0, "tasks", 1, "units")`` -> ``$.outputs[0].tasks[1].units``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"
    return out


@dataclass
class Document:
    """A parsed JSON document: its value plus the (line, column) where each value starts.

    Positions are only needed for messages, so a well-formed file is read with the C
    ``json`` parser and positions are computed on first use (``line_of``).
    """

    source_name: str  # how messages name the file (the path as given)
    value: Any
    _positions: dict[JsonPath, tuple[int, int]] | None = None
    # keys seen twice in one object: (path of the object, key, line of the repeat)
    duplicate_keys: list[tuple[JsonPath, str, int]] = field(default_factory=list)
    text: str | None = None

    @property
    def positions(self) -> dict[JsonPath, tuple[int, int]]:
        if self._positions is None:
            self._positions = _Parser(self.text or "", self.source_name).run()[1]
        return self._positions

    def line_of(self, path: JsonPath) -> int:
        """Line of the value at ``path``, or of its nearest existing ancestor (1 for the root)."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos is not None:
                return pos[0]
        return 1


class JsonSyntaxError(UserError):
    """Invalid JSON: reported with the line and column."""


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.duplicates: list[tuple[JsonPath, str, int]] = []
        # line starts, for offset -> (line, col) by bisection
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def run(self) -> tuple[Any, dict[JsonPath, tuple[int, int]]]:
        value, end = self.value(0, (), 0)
        end = self.skip_ws(end)
        if end != len(self.text):
            raise self.fail(end, "extra data after the JSON value")
        return value, self.positions

    def where(self, offset: int) -> tuple[int, int]:
        from bisect import bisect_right

        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def fail(self, offset: int, message: str) -> JsonSyntaxError:
        line, col = self.where(offset)
        return JsonSyntaxError(f"invalid JSON: {message} (line {line}, column {col})", f"{self.name}:{line}")

    def skip_ws(self, i: int) -> int:
        return _WS.match(self.text, i).end()  # type: ignore[union-attr]

    def value(self, i: int, path: JsonPath, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise self.fail(i, f"nested more than {_MAX_DEPTH} levels deep")
        i = self.skip_ws(i)
        self.positions[path] = self.where(i)
        if i >= len(self.text):
            raise self.fail(i, "expected a value, found the end of the file")
        ch = self.text[i]
        if ch == "{":
            return self.object(i + 1, path, depth)
        if ch == "[":
            return self.array(i + 1, path, depth)
        if ch == '"':
            return self.string(i + 1)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, i):
                return val, i + len(word)
        m = _NUMBER.match(self.text, i)
        if m and m.end() > i:
            tok = m.group()
            if m.group(1) or m.group(2):
                return float(tok), m.end()  # may be inf (1e999): validation rejects non-finite numbers
            try:  # the same limit as json.loads (int()'s digit limit), so both readers agree
                return int(tok), m.end()
            except ValueError:
                raise self.fail(i, f"the number at {format_path(path)} has too many digits") from None
        raise self.fail(i, f"unexpected character {self.text[i]!r}")

    def string(self, i: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, i, True)
        except json.JSONDecodeError as err:
            raise self.fail(err.pos, err.msg) from None

    def object(self, i: int, path: JsonPath, depth: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        i = self.skip_ws(i)
        if self.text.startswith("}", i):
            return out, i + 1
        while True:
            i = self.skip_ws(i)
            if not self.text.startswith('"', i):
                raise self.fail(i, "expected a property name in double quotes")
            key_at = i
            key, i = self.string(i + 1)
            i = self.skip_ws(i)
            if not self.text.startswith(":", i):
                raise self.fail(i, "expected ':' after a property name")
            if key in out:
                self.duplicates.append((path, key, self.where(key_at)[0]))
            out[key], i = self.value(i + 1, path + (key,), depth + 1)
            i = self.skip_ws(i)
            if self.text.startswith(",", i):
                i += 1
                continue
            if self.text.startswith("}", i):
                return out, i + 1
            raise self.fail(i, "expected ',' or '}' in an object")

    def array(self, i: int, path: JsonPath, depth: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self.skip_ws(i)
        if self.text.startswith("]", i):
            return out, i + 1
        while True:
            item, i = self.value(i, path + (len(out),), depth + 1)
            out.append(item)
            i = self.skip_ws(i)
            if self.text.startswith(",", i):
                i += 1
                continue
            if self.text.startswith("]", i):
                return out, i + 1
            raise self.fail(i, "expected ',' or ']' in an array")


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not JSON


def parse(text: str, name: str = "<layout>") -> Document:
    """Parse JSON text; raises :class:`JsonSyntaxError` (a ``UserError``) with line and column."""
    try:  # fast path: the C parser; anything unusual goes to the position-keeping parser
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        return Document(name, value, text=text)
    except (ValueError, _Duplicate, RecursionError):
        pass
    parser = _Parser(text, name)
    value, positions = parser.run()
    return Document(name, value, positions, parser.duplicates, text)


class _TooLarge(Exception):
    pass


def _read_bounded(path: str | Path) -> bytes:
    """At most ``MAX_LAYOUT_BYTES`` of the file; a FIFO or device is read as a stream, never endlessly."""
    # O_NONBLOCK: opening a FIFO that nobody writes to must not hang (reading it then gives end of file).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb", buffering=0) as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_LAYOUT_BYTES:
            raise _TooLarge
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_LAYOUT_BYTES:
            chunk = handle.read(min(1 << 20, MAX_LAYOUT_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_LAYOUT_BYTES:
            raise _TooLarge
    return b"".join(chunks)


def load(path: str | Path) -> Document:
    """Read and parse a layout file. Every failure is a ``UserError`` naming the file."""
    name = str(path)
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        raise UserError("no such file", name) from None
    except IsADirectoryError:
        raise UserError("is a directory, not a layout file", name) from None
    except _TooLarge:
        raise UserError(f"larger than {MAX_LAYOUT_BYTES // (1024 * 1024)} MB: not a layout file", name) from None
    except OSError as err:
        raise UserError(f"cannot read: {err.strerror or err}", name) from None
    try:
        text = raw.decode("utf-8-sig")  # JSON is UTF-8; tolerate the BOM some editors write
    except UnicodeDecodeError as err:
        raise UserError(f"not UTF-8 text (byte {err.start}): a layout is a JSON file", name) from None
    return parse(text, name)
