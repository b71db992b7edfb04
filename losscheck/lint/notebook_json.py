"""Where each cell's source sits in a notebook file's JSON text, and how to rewrite just that.

Two uses need positions in the file as stored, not in the parsed notebook:

- ``--fix`` rewrites only the ``source`` values of the cells it changed and copies every other
  byte of the file: outputs, metadata, key order, indentation, number spelling and escapes stay
  as the notebook's writer made them (nbformat's own writer re-indents and sorts keys);
- the ``github`` and ``sarif`` formats point at the line of the ``.ipynb`` file that holds a
  cell's line, as GitHub shows the file.

The text is the one ``json.loads`` accepted; values that are not looked into are skipped with
the C decoder, so a notebook with megabytes of outputs is not walked character by character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from json.decoder import scanstring

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass
class SourceSpan:
    """A cell's source value in the file: ``text[start:end]`` is the JSON value."""

    number: int  # 1-based, over every cell of the notebook
    start: int = -1
    end: int = -1
    elements: list[tuple[int, int]] | None = None  # each string's span when the value is a list


def _ws(s: str, i: int) -> int:
    return _WS.match(s, i).end()  # type: ignore[union-attr] - the pattern matches the empty string


def _skip(s: str, i: int) -> int:
    return _DECODER.raw_decode(s, i)[1]


def _object(s: str, i: int, visit: Callable[[str, int], int]) -> int:
    """Walk the object at ``s[i]``; ``visit(key, value_start)`` returns the value's end."""
    if s[i] != "{":
        return _skip(s, i)
    i = _ws(s, i + 1)
    if s[i] == "}":
        return i + 1
    while True:
        key, i = scanstring(s, i + 1)
        i = _ws(s, _ws(s, i) + 1)  # past the colon
        i = _ws(s, visit(key, i))
        if s[i] == "}":
            return i + 1
        i = _ws(s, i + 1)  # past the comma


def _array(s: str, i: int, visit: Callable[[int, int], int]) -> int:
    if s[i] != "[":
        return _skip(s, i)
    i = _ws(s, i + 1)
    if s[i] == "]":
        return i + 1
    index = 0
    while True:
        i = _ws(s, visit(index, i))
        index += 1
        if s[i] == "]":
            return i + 1
        i = _ws(s, i + 1)


def source_spans(text: str) -> list[SourceSpan]:
    """One entry per cell, in the notebook's order (nbformat 4 ``cells``; nbformat 3
    ``worksheets[*].cells``, whose code cells keep their source in ``input``).
    Empty when the text is not laid out as a notebook."""
    spans: list[SourceSpan] = []

    def cell(_index: int, i: int) -> int:
        span = SourceSpan(len(spans) + 1)
        spans.append(span)
        found: dict[str, tuple[int, int, list[tuple[int, int]] | None]] = {}

        def member(key: str, j: int) -> int:
            if key not in ("source", "input"):
                return _skip(text, j)
            if text[j] != "[":
                end = _skip(text, j)
                found[key] = (j, end, None)
                return end
            elements: list[tuple[int, int]] = []

            def element(_k: int, m: int) -> int:
                end = _skip(text, m)
                elements.append((m, end))
                return end

            end = _array(text, j, element)
            found[key] = (j, end, elements)
            return end

        end = _object(text, i, member)
        # nbformat 3 code cells hold their code in "input", other cells in "source"
        key = "source" if "source" in found else "input"
        if key in found:
            span.start, span.end, span.elements = found[key]
        return end

    def cells(key: str, i: int) -> int:
        return _array(text, i, cell) if key == "cells" else _skip(text, i)

    def worksheet(_index: int, i: int) -> int:
        return _object(text, i, cells)

    def top(key: str, i: int) -> int:
        if key == "cells":
            return _array(text, i, cell)
        if key == "worksheets":
            return _array(text, i, worksheet)
        return _skip(text, i)

    try:
        _object(text, _ws(text, 0), top)
    except (ValueError, IndexError):  # not laid out as a notebook: no positions
        return []
    return spans


def _raw_index(text: str, start: int, count: int) -> int:
    """The index in ``text`` after ``count`` decoded characters of the JSON string at ``start``."""
    i = start + 1
    for _ in range(count):
        if text[i] != "\\":
            i += 1
        elif text[i + 1] != "u":
            i += 2
        else:
            code = int(text[i + 2 : i + 6], 16)
            i += 6
            if 0xD800 <= code < 0xDC00 and text.startswith("\\u", i):  # a surrogate pair: one character
                i += 6
    return i


def file_offset(text: str, span: SourceSpan, offset: int) -> int | None:
    """Where character ``offset`` of the cell's source is in the file's text."""
    if span.start < 0:
        return None
    pieces = span.elements if span.elements is not None else [(span.start, span.end)]
    for start, end in pieces:
        value = json.loads(text[start:end])
        if not isinstance(value, str):
            return None
        if offset <= len(value):
            return _raw_index(text, start, offset)
        offset -= len(value)
    return pieces[-1][1] - 1 if pieces else span.start


_ESCAPED_NON_ASCII = re.compile(r"(?<!\\)(?:\\\\)*\\u(?:00[89a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]|[1-9a-fA-F][0-9a-fA-F]{2})[0-9a-fA-F]")


def ensure_ascii(text: str) -> bool:
    """Did the notebook's writer escape non-ASCII characters (``\\u00e9`` rather than ``é``)?"""
    return text.isascii() and _ESCAPED_NON_ASCII.search(text) is not None


def _indent_unit(text: str) -> str | None:
    """The file's indentation step (None: written on one line)."""
    m = re.match(r"\s*\{\r?\n([ \t]*)", text)
    return m.group(1) if m else None


def encode_source(text: str, span: SourceSpan, source: str) -> str:
    """``source`` as the JSON value for this cell, in the form and layout the file uses."""
    ascii_only = ensure_ascii(text)
    if span.elements is None:  # stored as one string
        return json.dumps(source, ensure_ascii=ascii_only)
    items = [json.dumps(line, ensure_ascii=ascii_only) for line in source.splitlines(keepends=True)]
    if not items:
        return "[]"
    elements = span.elements
    if elements:
        opening = text[span.start + 1 : elements[0][0]]
        closing = text[elements[-1][1] : span.end - 1]
        separator = text[elements[0][1] : elements[1][0]] if len(elements) > 1 else "," + opening
    else:  # an empty list: lay the lines out one level deeper than the key
        unit = _indent_unit(text)
        if unit is None:
            opening = closing = ""
        else:
            line_start = text.rfind("\n", 0, span.start) + 1
            indent = re.match(r"[ \t]*", text[line_start:]).group(0)  # type: ignore[union-attr]
            newline = "\r\n" if text[line_start - 2 : line_start] == "\r\n" else "\n"
            opening, closing = newline + indent + unit, newline + indent
        separator = "," + opening
    return "[" + opening + separator.join(items) + closing + "]"


def replace_sources(text: str, sources: dict[int, str]) -> str:
    """The notebook text with the ``source`` of the cells numbered in ``sources`` replaced and
    every other character kept."""
    spans = {span.number: span for span in source_spans(text)}
    out = text
    for number in sorted(sources, key=lambda n: -spans[n].start):
        span = spans[number]
        out = out[: span.start] + encode_source(text, span, sources[number]) + out[span.end :]
    return out
