"""What libcst can be given safely, decided from the text before it parses anything.

libcst's native parser recurses once per nesting level (2,000 nested parentheses overflow the
stack and kill the process with SIGSEGV) and its left-recursive rules copy the subtree they
extend at every step, so one chain of N operators, attribute accesses, calls or subscripts costs
O(N^2) time (measured with libcst 1.9: a 4,000-term sum parses in ~6 s, a 4,000-deep ``a[0][0]...``
in ~35 s). One scan of the text here finds what would hurt, so that a hostile file becomes one
clear diagnostic for that file instead of a crash, a hang or gigabytes of memory:

- brackets nested more than 200 deep and more than 99 indentation levels: CPython's own limits
  (its messages, its positions), so no file that Python can run is refused for them;
- a logical line with over ``MAX_LOGICAL_LINE`` characters of code, string literals not
  counted (a statement cannot be cut into pieces, and libcst needs ~0.7 GB of tree per MB of
  code; a string is one node whatever its length);
- chains that are quadratic to parse (attribute/call/subscript trailers, unary operators,
  ``**``, nested lambdas and conditional expressions, and operator chains that cannot be
  flattened) over ``MAX_CHAIN`` links; linear ones (``and``/``or``, implicit string
  concatenation, ``elif``) over ``MAX_LINEAR_CHAIN``; and an estimated nesting depth over
  ``MAX_DEPTH``.

Long chains of one arithmetic or bitwise operator level (``a + b - c + ...``: generated losses
that sum thousands of terms) are not refused: :func:`~losscheck.lint.flat_parse.parse` has libcst parse them as a flat
comparison (each operator replaced by a comparison operator the file never uses, which parses in
linear time) and rebuilds the exact left-nested ``BinaryOperation`` tree from it; the result is
checked to print back to the very same text.

Short logical lines (the vast majority) are only looked at by the bracket/line scan; the token
scan runs on lines longer than ``MAX_CHAIN`` characters, the only ones that can hold a chain
longer than that.

This module is the line scan and the entry point (:func:`scan`); the token scan of long lines is in
``guard_tokens.py``, the limits and the refusal in ``guard_limits.py``, the flat parse in
``flat_parse.py``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from losscheck.lint.flat_parse import unused_marker
from losscheck.lint.guard_limits import (
    MAX_BRACKETS,
    MAX_INDENT,
    MAX_LINEAR_CHAIN,
    MAX_LOGICAL_LINE,
    SCAN_MIN,
    Refusal,
    Refused,
)
from losscheck.lint.guard_tokens import QUOTED, ExpressionScan, scan_fstring


# The line scan: strings, comments and line breaks; the code between them is counted in C.
_LINES = re.compile(
    rf"""(?P<str>{QUOTED})|(?P<com>\#[^\r\n]*)|(?P<cont>\\(?:\r\n|\r|\n))|(?P<nl>\r\n|\r|\n)
    |(?P<code>[^'"\#\\\r\n]+)""",
    re.VERBOSE | re.DOTALL,
)
_INDENT = re.compile(r"[ \t\f]*")
_NEWLINE = re.compile(r"\r\n?|\n")  # libcst's (and the tokenizer's) line breaks
_ELIF = re.compile(r"elif(?![\w])")
# What a chain is made of; a logical line with fewer of these than MAX_CHAIN holds no long chain.
_LINKS = re.compile(r"[-+*/%@&|^~.(\[:]|\b(?:if|else|not|lambda|for|and|or|await)\b")


@dataclass
class Scan:
    """What the line scan learnt of a file: a refusal, the logical lines, chains to parse flat."""

    refusal: Refusal | None = None
    # binary operators to parse flat: (offset, operator text), in source order
    flat: list[tuple[int, str]] = field(default_factory=list)
    # when the flat parse fails: why the file cannot be parsed as written (None: it can)
    unflattened: Refusal | None = None
    # logical lines: offset of the first token and indentation depth (positions use them)
    line_offsets: list[int] = field(default_factory=list)
    line_depths: list[int] = field(default_factory=list)
    # where each logical line ends: the offset of the line break after its last line (its
    # comment included), or the end of the file
    line_ends: list[int] = field(default_factory=list)



def logical_lines(scan: Scan) -> list[tuple[int, int, int]]:
    """The scan's logical lines as (offset of the first token, indentation depth, end)."""
    return list(zip(scan.line_offsets, scan.line_depths, scan.line_ends))


@dataclass(frozen=True)
class Statement:
    """A statement, by the index of its logical lines: its first (its first decorator's), its own
    first (``def``/``class`` after the decorators; ``first`` when it has none) and its last."""

    first: int
    header: int
    last: int


def statements(source: str, lines: list[tuple[int, int, int]], depth: int, begin: int, stop: int
               ) -> Iterator[Statement]:
    """The statements at ``depth`` among ``lines[begin:stop]`` (``logical_lines``): decorators go
    with the definition after them, deeper lines with the statement above them. A clause
    (``else:``, ``except:``) is a statement of its own here."""
    i = begin
    while i < stop:
        first = i
        while i < stop and lines[i][1] == depth and source.startswith("@", lines[i][0]):
            i += 1
        header = min(i, stop - 1)
        i = header + 1
        while i < stop and lines[i][1] > depth:
            i += 1
        yield Statement(first, header, i - 1)


def line_starts(source: str) -> list[int]:
    """Offset of the first character of every line (libcst's line breaks)."""
    return [0, *(m.end() for m in _NEWLINE.finditer(source))]


def line_column(starts: list[int], offset: int) -> tuple[int, int]:
    """1-based line and 0-based column of ``offset``."""
    index = bisect_right(starts, offset) - 1
    return index + 1, offset - starts[index]


# -- the line scan -----------------------------------------------------------------------------


def _width(indent: str) -> int:
    column = 0
    for ch in indent:
        if ch == "\t":
            column = (column // 8 + 1) * 8
        elif ch == "\f":
            column = 0
        else:
            column += 1
    return column


def scan(source: str) -> Scan:
    """Scan ``source``: a refusal, or the operator chains to parse flat (see the module docs)."""
    result = Scan()
    try:
        _scan_lines(source, result)
    except Refused as exc:
        result.refusal = exc.refusal
        result.flat = []
    return result


def _scan_lines(source: str, result: Scan) -> None:
    depth = 0
    indents = [0]
    elifs: dict[int, int] = {}  # indentation depth -> consecutive `elif` clauses
    start = _logical_start(source, 0, indents, elifs, result)
    strings = 0  # characters of string literals in the current logical line
    flat: list[tuple[int, str]] = []
    unflattened: list[Refusal] = []
    for match in _LINES.finditer(source):
        kind = match.lastgroup
        if kind == "code":
            depth = _brackets(source, match.start(), match.end(), depth)
        elif kind == "str":
            strings += match.end() - match.start()
            if "{" in match.group() and _has_f_prefix(source, match.start()):
                scan_fstring(match.group(), match.start(), depth)
        elif kind == "nl" and depth == 0:
            if start is not None:
                _end_logical(source, start, match.start(), strings, flat, unflattened)
                result.line_ends.append(match.start())
            start = _logical_start(source, match.end(), indents, elifs, result)
            strings = 0
    if start is not None:
        if depth > 0 and len(source) - start - strings > MAX_LOGICAL_LINE:
            raise Refused(_never_closed(source, start))  # not one huge statement: a syntax error
        _end_logical(source, start, len(source), strings, flat, unflattened)
        result.line_ends.append(len(source))
    if flat and unused_marker(source) is None:  # no stand-in available: parse as written, if that is safe
        if unflattened:
            raise Refused(unflattened[0])
        flat = []
    result.flat = flat
    result.unflattened = unflattened[0] if unflattened else None


def _never_closed(source: str, start: int) -> Refusal:
    """CPython's error for a bracket that the file never closes (the outermost one)."""
    stack: list[int] = []
    for match in _LINES.finditer(source, start):
        if match.lastgroup != "code":
            continue
        for i in range(match.start(), match.end()):
            ch = source[i]
            if ch in "([{":
                stack.append(i)
            elif ch in ")]}" and stack:
                stack.pop()
    at = stack[0] if stack else start
    return Refusal(at, f"'{source[at]}' was never closed" if stack else "unexpected end of file", syntax=True)


def _brackets(source: str, begin: int, end: int, depth: int) -> int:
    """The bracket depth after ``source[begin:end]`` (code, no strings or comments)."""
    opens = source.count("(", begin, end) + source.count("[", begin, end) + source.count("{", begin, end)
    closes = source.count(")", begin, end) + source.count("]", begin, end) + source.count("}", begin, end)
    if depth + opens <= MAX_BRACKETS and closes <= depth:  # cannot pass the limit nor go below 0
        return depth + opens - closes
    for i in range(begin, end):
        ch = source[i]
        if ch in "([{":
            depth += 1
            if depth > MAX_BRACKETS:
                raise Refused(Refusal(i, "too many nested parentheses", syntax=True))
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    return depth


def _has_f_prefix(source: str, quote: int) -> bool:
    """Is the string whose quote is at ``quote`` an f-string (``f"``, ``rf'``, ``Fr"``...)?"""
    begin = quote
    while begin > 0 and quote - begin < 2 and source[begin - 1] in "rRbBuUfF":
        begin -= 1
    if begin > 0 and (source[begin - 1].isalnum() or source[begin - 1] == "_"):
        return False
    return "f" in source[begin:quote].lower()


def _logical_start(source: str, offset: int, indents: list[int], elifs: dict[int, int], result: Scan) -> int | None:
    """The offset of the logical line starting on the line at ``offset``; None for a blank or
    comment-only line. Keeps the indentation stack (CPython's limit) and ``elif`` chains."""
    ws = _INDENT.match(source, offset)
    begin = ws.end()  # type: ignore[union-attr]  # `*` always matches
    if begin >= len(source) or source[begin] in "#\r\n":
        return None
    width = _width(ws.group())  # type: ignore[union-attr]
    if width > indents[-1]:
        indents.append(width)
        if len(indents) - 1 >= MAX_INDENT:
            raise Refused(Refusal(begin, "too many levels of indentation", syntax=True))
    else:
        while len(indents) > 1 and width < indents[-1]:
            indents.pop()
    level = len(indents) - 1
    for deeper in [d for d in elifs if d > level]:
        del elifs[deeper]
    if _ELIF.match(source, begin):
        elifs[level] = elifs.get(level, 0) + 1
        if elifs[level] > MAX_LINEAR_CHAIN:
            raise Refused(Refusal(begin, f"more than {MAX_LINEAR_CHAIN:,} `elif` clauses in one `if` statement"))
    else:
        elifs.pop(level, None)
    result.line_offsets.append(begin)
    result.line_depths.append(level)
    return begin


def _end_logical(source: str, start: int, end: int, strings: int, flat: list, unflattened: list) -> None:
    """Check one logical line; ``strings`` of its characters are string literals, which cost the
    parser one node each whatever their length, so they do not count towards its size."""
    if end - start - strings > MAX_LOGICAL_LINE:
        raise Refused(
            Refusal(start, f"a logical line of {(end - start) / 1e6:.1f} MB (one statement cannot be split; "
                           f"the limit is {MAX_LOGICAL_LINE / 1e6:.0f} MB of code)")
        )
    if end - start > SCAN_MIN and len(_LINKS.findall(source, start, end)) > SCAN_MIN:
        ExpressionScan(source, start, end, allow_flat=True, flat=flat, unflattened=unflattened).run()
