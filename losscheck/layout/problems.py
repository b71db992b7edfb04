"""What a layout's checks report: a :class:`Problem` (line, JSON path, message), the
:class:`LayoutError` that carries them, the collector both passes add to, and the helpers that
word their messages (``validate.py`` runs the passes)."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from losscheck.errors import UserError
from losscheck.layout.load import Document, JsonPath, format_path

# Whole-string match (never `$`, which also matches before a final newline).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER_MESSAGE = "is not an ASCII Python identifier (letters, digits and _, not starting with a digit)"

@dataclass(frozen=True, order=True)
class Problem:
    line: int
    path: JsonPath
    message: str

    def format(self, source_name: str) -> str:
        return f"{source_name}:{self.line}: {format_path(self.path)}: {self.message}"


@dataclass
class LayoutError(UserError):
    """One or more problems in a layout file; ``str()`` gives one line per problem."""

    problems: tuple[Problem, ...] = ()

    def lines(self) -> list[str]:
        return [p.format(self.where or "<layout>") for p in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


# -- helpers ------------------------------------------------------------------------------
def _show(value: Any, limit: int = 60) -> str:
    """A value as JSON text, shortened: messages must stay one readable line."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggest(word: Any, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_EXACT_FLOAT_INTS = 2.0**53  # past this a float is not a count anyone wrote


def _whole(v: Any) -> int | None:
    """``v`` as an int when it is a whole number, written ``3`` or ``3.0`` (else None).

    The schema rejects ``3.0`` where an integer is needed; the semantic checks still read
    it as 3, so that a layout's every problem is reported in one run.
    """
    if _is_int(v):
        return v
    if isinstance(v, float) and abs(v) <= _EXACT_FLOAT_INTS and v.is_integer():
        return int(v)
    return None


def _integer_hint(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return " (write whole numbers without a decimal point or an exponent)"
    return ""


_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


class _Collector:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: set[Problem] = set()
        # paths already reported in full (a number too large): further messages there are noise
        self.settled: set[JsonPath] = set()

    def add(self, path: JsonPath, message: str) -> None:
        if tuple(path) in self.settled:
            return
        self.problems.add(Problem(self.doc.line_of(path), tuple(path), message))
