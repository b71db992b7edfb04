"""Parsing an edited document again by re-parsing only the top-level statements that changed.

The language server lints a document on every edit, and parsing a 300-line module is a third of
that lint (27 ms of ~90 ms, measured). An edit usually touches one function: the other top-level
statements of the new text are the same nodes as before, and only the changed stretch is parsed.

For each remembered document this keeps its last text, its tree and the line span of every
top-level statement (its leading blank and comment lines included, which is how libcst owns
them). For a new text it finds the changed lines (common prefix and suffix), the statements they
touch, parses the new text of just those statements, and splices the result between the
unchanged statements. The splice is made only where it gives the very tree a whole parse gives:

- the stretch is neither the first statement (libcst gives the lines above it to the module's
  header) nor the last one (the lines below it are the module's footer);
- the blank and comment lines that open the stretch, and those that open the next statement,
  are empty or unindented: an indented comment after a block may belong to that block's footer
  instead, which depends on the code around it;
- the stretch parses on its own into statements, with nothing left over in its own footer, and
  with the default indentation and line break of the document (a block is printed with the
  module's default indentation when it has the default one of the text it was parsed from).

Anything else is a whole parse, as is a document seen for the first time. A property test
(``tests/lint/test_incremental_parse.py``) compares the two on random edits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from losscheck.lint.parsing import parse_module

if TYPE_CHECKING:
    import libcst as cst

MAX_DOCUMENTS = 16


@dataclass
class _Parsed:
    """The last version of a document: its lines and tree."""

    lines: list[str]  # the text, split with keepends
    module: cst.Module
    # (first line, last line) of each top-level statement, 0-based, leading lines included; after
    # a whole parse, computed when the next edit asks (printing every statement costs ~12 ms)
    known_spans: list[tuple[int, int]] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self.known_spans is None:
            self.known_spans = _spans(self.module)
        return self.known_spans


class DocumentTrees:
    """The last tree of each of a few documents, by path; a parse of a new text of one of them
    reuses the statements that did not change. Thread-safe."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS) -> None:
        self._max = max_documents
        self._last: OrderedDict[str, _Parsed] = OrderedDict()
        self._lock = threading.Lock()
        self.reused = 0  # parses that spliced (for tests and benchmarks)

    def parse(self, path: str, source: str) -> cst.Module:
        """``source`` parsed, as ``libcst.parse_module`` would; raises what it raises."""
        lines = source.splitlines(keepends=True)
        with self._lock:
            last = self._last.get(path)
        spliced = _splice(last, lines) if last is not None else None
        if spliced is None:
            parsed = _Parsed(lines, parse_module(source))
        else:
            parsed = _Parsed(lines, *spliced)
            self.reused += 1
        module = parsed.module
        with self._lock:
            self._last[path] = parsed
            self._last.move_to_end(path)
            while len(self._last) > self._max:
                self._last.popitem(last=False)
        return module

    def forget(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._last.clear()
            else:
                self._last.pop(path, None)


def _spans(module: cst.Module, statements: list[cst.BaseStatement] | None = None,
           line: int | None = None) -> list[tuple[int, int]]:
    """Line spans of the top-level statements (or of ``statements``, the first one starting at
    ``line``), from the code each one prints."""
    spans = []
    line = len(module.header) if line is None else line
    for statement in module.body if statements is None else statements:
        count = module.code_for_node(statement).count("\n")
        spans.append((line, line + count - 1))
        line += count
    return spans


def _splice(last: _Parsed, lines: list[str]) -> tuple[cst.Module, list[tuple[int, int]]] | None:
    """The new tree made from ``last`` and a re-parse of the changed statements, with its
    statements' spans, or None when a whole parse is needed (see the module docs)."""
    old = last.lines
    if not lines or not old or not lines[-1].endswith("\n") or not old[-1].endswith("\n"):
        return None
    prefix = 0
    limit = min(len(old), len(lines))
    while prefix < limit and old[prefix] == lines[prefix]:
        prefix += 1
    if prefix == len(old) == len(lines):
        return last.module, last.spans  # the same text
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == lines[-1 - suffix]:
        suffix += 1
    changed_first, changed_last = prefix, len(old) - suffix - 1  # old lines; last < first: an insertion
    spans = last.spans
    touched = [i for i, (start, end) in enumerate(spans)
               if start <= max(changed_last, changed_first) and end >= changed_first]
    if not touched and changed_last < changed_first:  # an insertion between two lines
        touched = [i for i, (start, end) in enumerate(spans) if start <= changed_first <= end]
    if not touched:
        return None
    first, final = touched[0], touched[-1]
    if first == 0 or final == len(spans) - 1:
        return None  # the header's or the footer's neighbour
    start, end = spans[first][0], spans[final][1]
    if changed_first < start or changed_last > end:
        return None
    new_end = end + len(lines) - len(old)
    if new_end < start:
        return None
    region = lines[start:new_end + 1]
    following = old[spans[final + 1][0]:]
    if not _opens_cleanly(region) or not _opens_cleanly(following):
        return None
    import libcst as cst

    try:
        parsed = parse_module("".join(region))
    except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError):
        return None  # a whole parse reports it properly
    if not parsed.body or parsed.footer:
        return None
    if (parsed.default_indent, parsed.default_newline) != (last.module.default_indent, last.module.default_newline):
        # a block indented as the stretch's default prints with the module's: they must agree
        return None
    head = parsed.body[0].with_changes(leading_lines=[*parsed.header, *parsed.body[0].leading_lines])
    middle = [head, *parsed.body[1:]]
    module = last.module.with_changes(body=[*last.module.body[:first], *middle, *last.module.body[final + 1:]])
    delta = len(lines) - len(old)
    new_spans = [*spans[:first], *_spans(module, middle, start), *((a + delta, b + delta) for a, b in spans[final + 1:])]
    return module, new_spans


def _opens_cleanly(lines: list[str]) -> bool:
    """The blank and comment lines before the first statement of ``lines`` are empty or start at
    column 0 (so libcst gives them to that statement, whatever precedes it)."""
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return not line[:1].isspace()  # the statement itself starts at column 0
        if stripped and line[:1].isspace():
            return False  # an indented comment: may belong to the block above
        if not stripped and line not in ("\n", "\r\n"):
            return False  # whitespace-only: may belong to the block above
    return False  # no statement at all


_documents: DocumentTrees | None = None


def remember_documents() -> DocumentTrees:
    """From now on, parses by the engine reuse each document's previous tree (the language
    server turns this on; a one-off ``losscheck lint`` does not: it would only hold trees)."""
    global _documents
    if _documents is None:
        _documents = DocumentTrees()
    return _documents


def documents() -> DocumentTrees | None:
    return _documents


def stop_remembering() -> None:
    """Forget every document and parse whole again."""
    global _documents
    from losscheck.lint import statement_parts

    _documents = None
    statement_parts.forget()  # the facts' parts hold the last documents' statements
