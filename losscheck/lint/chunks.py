"""Very large files are linted in chunks of whole top-level statements, so memory stays bounded.

libcst holds about 0.75 GB of syntax tree per MB of source (measured: a 1 MB file, 765 MB
parsed), so a 10 MB file parsed at once needs ~8 GB. Above ``CHUNK_THRESHOLD`` characters (400 KB) the
engine instead cuts the file between top-level statements (read from the guard's scan of
logical lines, which the file gets anyway; from the tokenizer, which streams, without one) into pieces of about ``CHUNK_TARGET`` characters and lints each piece on its own: one
at a time, or, when the run has cores to spare, one at a time in each of a few forked workers
(``piece_pool.py``). Peak memory is that of one piece per process.

What a piece cannot see, and how that is kept from becoming a false positive:

- imports: every top-level ``import``/``from`` statement of the file is put in front of each
  piece (the *header*), so aliases such as ``K`` or ``np`` resolve everywhere; findings on the
  header's lines are dropped, the others are moved back to their lines in the file;
- names defined in another piece: an ``undefined-name`` finding is kept only if the name is
  written nowhere else in the file (and the file never writes ``globals()``);
- a function passed to ``compile(metrics=...)`` in another piece: the names written in any
  ``metrics=``/``weighted_metrics=`` argument of the file are collected from its text
  (``compile_uses``), and a function of a piece with such a name, and never written in a
  ``loss=`` argument, is treated as a metric, as the whole-file finder would;
- other facts that span pieces (a model built in one piece and captured in another, a
  ``Sequential`` compiled in the next piece) are not seen: that can only hide findings.

Fixes are not offered in chunked files (their edits would have to be moved too; a file this
size is generated code, not something to fix by hand).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal, overload

from losscheck.lint import guard
from losscheck.lint.dynamic_names import creates_names_dynamically
from losscheck.lint.finding import Finding
from losscheck.lint.guard import Scan
from losscheck.lint.imports import unbound_conventional_names

# Files up to this size are parsed whole (~0.35 GB peak: libcst needs ~0.75 GB of tree per MB);
# larger ones in pieces of ~CHUNK_TARGET characters (~0.2 GB peak per process whatever the
# file's size). Smaller pieces also cost less per KB (a smaller tree to walk, measured on the
# 1 MB benchmark file: 12.5 s of CPU in 100 kB pieces, 13.2 s in 250 kB ones, same findings).
CHUNK_THRESHOLD = 400_000
CHUNK_TARGET = 100_000


@dataclass(frozen=True)
class Statement:
    """One top-level statement (decorators included): its first and last line, 1-based."""

    start: int
    end: int
    is_import: bool


@dataclass(frozen=True)
class Chunk:
    """One piece of a very large file, with the imports header it is parsed with."""

    text: str  # the header, then the piece's own lines
    header_lines: int
    start_line: int  # the file line of the piece's first line
    start: int  # the piece's own text is source[start:end]
    end: int

    def to_file_line(self, line: int) -> int | None:
        """The file line of ``line`` in ``text``; None on a header line."""
        if line <= self.header_lines:
            return None
        return line - self.header_lines + self.start_line - 1


_CONTINUES = frozenset({"else", "elif", "except", "finally"})
_FIRST_WORD = re.compile(r"\w+")


def top_level_statements(source: str, scan: Scan | None = None) -> list[Statement] | None:
    """The file's top-level statements, in order; None when the tokenizer rejects the file
    (the whole-file parse then reports the syntax error properly). With the file's ``scan``
    (``guard.scan``), they are read from its logical lines: the same statements, ten times
    faster than the tokenizer (0.5 s on a 1 MB file)."""
    if scan is not None and scan.refusal is None and "\r" not in source \
            and len(scan.line_ends) == len(scan.line_offsets):
        return _statements_from_scan(source, scan)
    out: list[Statement] = []
    depth = 0
    start: int | None = None
    first: str | None = None
    pending_decorator: int | None = None
    last = ""  # the last significant token: ":" before NEWLINE opens a block
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = tok.type
            if kind == tokenize.INDENT:
                depth += 1
                continue
            if kind == tokenize.DEDENT:
                depth -= 1
                if depth == 0 and start is not None:
                    out.append(Statement(start, tok.start[0] - 1, False))
                    start = None
                continue
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER, tokenize.ENCODING):
                continue
            if kind != tokenize.NEWLINE:
                last = tok.string
            if depth == 0 and start is None:
                # the first token of a top-level logical line
                start = pending_decorator or tok.start[0]
                first = tok.string
                pending_decorator = None
                if first in _CONTINUES and out:
                    start = out.pop().start  # `else:`/`except:`... belong to the statement above
            if kind == tokenize.NEWLINE and depth == 0 and start is not None:
                if first == "@":
                    pending_decorator = start  # the decorated def/class follows: same statement
                    start = None
                    continue
                if last != ":":  # not a block opener (`def f():`): the statement ends here
                    out.append(Statement(start, tok.start[0], first in ("import", "from")))
                    start = None
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if start is not None:
        out.append(Statement(start, source.count("\n") + 1, False))
    return out


def _statements_from_scan(source: str, scan: Scan) -> list[Statement]:
    """``top_level_statements`` from the scan's logical lines (the file holds no ``\\r``: its
    lines are those of the tokenizer). A statement runs from its first decorator to its last
    logical line, its clauses (``else:``, ``except:``) included; one whose last clause has an
    indented block takes the blank and comment lines after it too, up to the next statement
    (where the tokenizer's DEDENT comes), one without ends with its own last line."""
    starts = guard.line_starts(source)
    lines = guard.logical_lines(scan)
    # the tokenizer's DEDENT at the end of the file comes after the last line that holds
    # something (a comment counts, blanks do not)
    last_line = source.count("\n") + (1 if source[source.rfind("\n") + 1 :].strip() else 0)
    out: list[Statement] = []
    for statement in guard.statements(source, lines, 0, 0, len(lines)):
        word = _FIRST_WORD.match(source, lines[statement.header][0])
        word_text = word.group() if word is not None else ""
        start = guard.line_column(starts, lines[statement.first][0])[0]
        is_import = word_text in ("import", "from")
        if word_text in _CONTINUES and out:  # `else:`/`except:`... belong to the statement above
            start, is_import = out[-1].start, out.pop().is_import
        after = statement.last + 1
        if statement.last > statement.header:  # an indented block
            end = guard.line_column(starts, lines[after][0])[0] - 1 if after < len(lines) else last_line
        else:
            end = guard.line_column(starts, lines[statement.last][2])[0]  # the line of the break after it
        out.append(Statement(start, end, is_import))
    return out


def chunks(source: str, target: int | None = None, scan: Scan | None = None) -> Iterator[Chunk] | None:
    """The file in pieces of about ``target`` characters (default ``CHUNK_TARGET``), cut only
    between top-level statements; None when the file cannot be tokenized."""
    target = target or CHUNK_TARGET
    statements = top_level_statements(source, scan)
    if not statements:
        return None
    # lines as the tokenizer numbers them: split on "\n" only (str.splitlines would also split
    # on form feeds and other separators that Python treats as whitespace)
    lines = io.StringIO(source).readlines()
    header = "".join("".join(lines[s.start - 1 : s.end]) for s in statements if s.is_import)
    if header and not header.endswith("\n"):
        header += "\n"
    header_lines = header.count("\n")

    def piece(first: int, last: int, offset: int) -> Chunk:
        own = "".join(lines[first - 1 : last])
        return Chunk(header + own, header_lines, first, offset, offset + len(own))

    def pieces() -> Iterator[Chunk]:
        begin, size, offset = 1, 0, 0
        for s in statements:
            size += sum(len(line) for line in lines[s.start - 1 : s.end])
            if size >= target:
                chunk = piece(begin, s.end, offset)
                yield chunk
                begin, size, offset = s.end + 1, 0, chunk.end
        if begin <= len(lines):
            yield piece(begin, len(lines), offset)

    return pieces()


_DEF = re.compile(r"(?m)^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)")
_USE = re.compile(r"(?<![\w.])(loss|metrics|weighted_metrics)\s*=(?!=)\s*")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_BARE = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?![\w])(?!\s*[(.])")
# a one-line string literal, with its prefix (`f'{x}'` names no function `f`)
_STRING = re.compile(r"(?<![\w.])(?:[rRbBuUfF]{1,2})?(['\"]).*?\1")
_CLOSE = {"[": "]", "(": ")", "{": "}"}
_TO_COMMA = re.compile(r"[^,)\n]*")


def compile_uses(source: str) -> dict[str, frozenset[str]]:
    """Names written in ``loss=`` and in ``metrics=``/``weighted_metrics=`` anywhere in the file
    (keyword arguments and assignments alike, read from the text in one pass).

    ``loss``/``metric``: every name in the argument (a superset). ``loss-bare``/``metric-bare``:
    the names passed as they are (``loss=dice``, ``[dice, bce]``), not called (``make_loss(2)``
    passes what the factory returns) nor reached through an attribute (``losses.dice``)."""
    found: dict[str, set[str]] = {"loss": set(), "metric": set(), "loss-bare": set(), "metric-bare": set()}
    for match in _USE.finditer(source):
        start = match.end()
        text = _argument_text(source, start)
        kind = "loss" if match.group(1) == "loss" else "metric"
        text = _STRING.sub("''", text)
        found[kind].update(_IDENT.findall(text))
        found[f"{kind}-bare"].update(_BARE.findall(text))
    # ``defined-once``: names a single ``def`` of the file defines. The finder binds a bare name to
    # a nested def only when no other def has that name, which a piece cannot see by itself.
    defs = Counter(_DEF.findall(source))
    found["defined-once"] = {name for name, count in defs.items() if count == 1}
    # ``conventional``: the aliases (`np`, `K`...) read as everyone means them (imports.py)
    found["conventional"] = set(unbound_conventional_names(source))
    return {k: frozenset(v) for k, v in found.items()}


def _argument_text(source: str, start: int, limit: int = 2000) -> str:
    """The expression at ``start``: up to the bracket that closes the one it opens, else up to
    the first ``,``, ``)`` or end of line (bounded: it only feeds a name set)."""
    if start < len(source) and source[start] in _CLOSE:
        stack = [_CLOSE[source[start]]]
        i = start + 1
        end = min(len(source), start + limit)
        while i < end and stack:
            ch = source[i]
            if ch in _CLOSE:
                stack.append(_CLOSE[ch])
            elif ch == stack[-1]:
                stack.pop()
            i += 1
        return source[start:i]
    return _TO_COMMA.match(source, start).group(0)  # type: ignore[union-attr]  # `*` always matches


_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")
_DEFINES = re.compile(r"(?:\bdef|\bclass)\s+$")


class CallSites:
    """Where the file calls each name directly (``name(``), from the text: a piece asks which
    names are called outside its own text, since the whole-file finder drops a function found
    by its signature alone when only code that is not loss code calls it."""

    def __init__(self, source: str) -> None:
        self._at: dict[str, list[int]] = {}
        for match in _CALL.finditer(source):
            if not _DEFINES.search(source, max(0, match.start() - 8), match.start()):
                self._at.setdefault(match.group(1), []).append(match.start())

    def outside(self, start: int, end: int) -> frozenset[str]:
        return frozenset(name for name, offsets in self._at.items() if any(not start <= at < end for at in offsets))


@overload
def place(finding: Finding, chunk: Chunk, *, anywhere: Literal[True]) -> Finding: ...
@overload
def place(finding: Finding, chunk: Chunk, *, anywhere: bool = False) -> Finding | None: ...
def place(finding: Finding, chunk: Chunk, *, anywhere: bool = False) -> Finding | None:
    """``finding`` moved from the chunk's text to the file; None when it is on the header,
    unless ``anywhere`` (a diagnostic: then at the piece's first line)."""
    line = chunk.to_file_line(finding.line)
    end_line = chunk.to_file_line(finding.end_line)
    if line is None or end_line is None:
        if not anywhere:
            return None
        line = end_line = chunk.start_line
        return replace(finding, line=line, end_line=end_line, column=1, end_column=1, fix=None)
    return replace(finding, line=line, end_line=end_line, fix=None)


UNDEFINED_NAME = "LCK301"


def defined_in_another_piece(finding: Finding, chunk: Chunk, source: str) -> bool:
    """An ``undefined-name`` finding whose name another piece could define: the name is written
    somewhere in the file outside the chunk's own text, or the file creates names dynamically
    (``exec``, ``globals()``, a module ``__getattr__``...), where the whole-file rule stays silent."""
    if finding.code != UNDEFINED_NAME or finding.line != finding.end_line:
        return False
    lines = chunk.text.split("\n")  # libcst's line numbers: form feeds and the like are not breaks
    if not 0 < finding.line <= len(lines):
        return False
    name = lines[finding.line - 1][finding.column - 1 : finding.end_column - 1]
    if not name:
        return False
    if creates_names_dynamically(source):  # the whole-file rule is silent on such files
        return True
    word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    return bool(word.search(source, 0, chunk.start) or word.search(source, chunk.end))
