"""IPython syntax in notebook cells, masked so that the cell parses as Python.

Every masked piece is replaced by text of the same length, on the same line, so a position in
the masked cell is the same position in the cell the user wrote:

- line magics, shell lines and autocall escapes at the start of a statement (``%time f()``,
  ``!pip install x``, ``/f a``) become ``...`` (an Ellipsis statement) padded with spaces;
- the same after an assignment (``files = !ls``, ``t = %timeit -o f()``) become the value ``...``;
- help lines (``?obj``, ``obj?``, ``obj??``) become ``...``;
- a cell magic on the first line (``%%time``) is masked the same way; when its body is not
  Python (``%%bash``, ``%%writefile``...), every line of the cell is blanked.

Magics are only looked for where a statement starts: not inside strings, brackets or after a
backslash continuation, where ``%`` and ``?`` may be plain Python or text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Cell magics whose body is Python run in the notebook's namespace (as ruff treats them).
PYTHON_CELL_MAGICS = frozenset({"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"})

_ESCAPE = re.compile(r"[ \t]*(?P<magic>[%!?/,;])")
_ASSIGNED = re.compile(r"[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*(?P<magic>[%!])")
_CELL_MAGIC = re.compile(r"[ \t]*%%(?P<name>\w+)")


@dataclass(frozen=True)
class Span:
    """A masked piece: 0-based line in the cell, columns [start, end)."""

    line: int
    start: int
    end: int


@dataclass
class Masked:
    text: str
    spans: list[Span] = field(default_factory=list)
    python: bool = True  # False: a cell magic whose body is not Python (the whole cell is blank)


def _placeholder(length: int) -> str:
    """A Python expression of exactly ``length`` characters (trailing spaces pad it)."""
    if length >= 3:
        return "..." + " " * (length - 3)
    return "0" + " " * (length - 1)


@dataclass
class _State:
    quote: str | None = None  # the open string's quote (' " ''' \"\"\") or None
    depth: int = 0  # open brackets
    continued: bool = False  # the previous line ended with a backslash

    @property
    def at_statement(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued


def _scan(line: str, state: _State) -> int:
    """Advance ``state`` over ``line``; returns where the code ends (a comment's ``#`` or the
    line's end, newline excluded)."""
    body = line.rstrip("\r\n")
    i, n = 0, len(body)
    end = n
    while i < n:
        c = body[i]
        if state.quote is not None:
            if c == "\\":
                i += 2
            elif body.startswith(state.quote, i):
                i += len(state.quote)
                state.quote = None
            else:
                i += 1
            continue
        if c == "#":
            end = i
            break
        if c in "\"'":
            state.quote = c * 3 if body.startswith(c * 3, i) else c
            i += len(state.quote)
            continue
        if c in "([{":
            state.depth += 1
        elif c in ")]}":
            state.depth = max(0, state.depth - 1)
        i += 1
    state.continued = end == n and body.endswith("\\") and (state.quote is None or len(state.quote) == 1)
    if state.quote is not None and len(state.quote) == 1 and not state.continued:
        state.quote = None  # an unterminated one-line string: a syntax error, not ours to track
    return end


def _magic_column(line: str) -> int | None:
    """Where IPython syntax starts on ``line`` (which starts a statement), or None."""
    m = _ESCAPE.match(line)
    if m:
        return m.start("magic")
    m = _ASSIGNED.match(line)
    if m:
        return m.start("magic")
    probe = _State()
    end = _scan(line, probe)
    code = line[:end].rstrip()
    if code.endswith("?") and probe.quote is None:  # `obj?`, `obj??`: `?` is never Python
        return len(line) - len(line.lstrip(" \t"))
    return None


def mask(source: str) -> Masked:
    """The cell with its IPython syntax masked (same length on every line)."""
    lines = source.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    out = Masked(text=source)
    if first is None:
        return out
    cell_magic = _CELL_MAGIC.match(lines[first])
    if cell_magic and cell_magic.group("name") not in PYTHON_CELL_MAGICS:
        # not Python at all: blank every line, keeping the line count
        out.python = False
        out.text = "".join(_blank(line) for line in lines)
        return out
    state = _State()
    masked: list[str] = []
    for number, line in enumerate(lines):
        column = None
        if state.at_statement:
            if number == first and cell_magic:
                column = len(line) - len(line.lstrip(" \t"))
            else:
                column = _magic_column(line)
        if column is None:
            _scan(line, state)
            masked.append(line)
            continue
        body = line.rstrip("\r\n")
        masked.append(body[:column] + _placeholder(len(body) - column) + line[len(body) :])
        out.spans.append(Span(number, column, len(body)))
        state.continued = False
    out.text = "".join(masked)
    return out


def _blank(line: str) -> str:
    body = line.rstrip("\r\n")
    return " " * len(body) + line[len(body) :]
