"""The guard's limits (what libcst is not given) and the refusal it reports when a file passes one.

Shared by the line scan (``guard.py``), the token scan (``guard_tokens.py``) and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BRACKETS = 200  # CPython: "too many nested parentheses"
MAX_INDENT = 100  # CPython: "too many levels of indentation" at the 100th level
MAX_LOGICAL_LINE = 1_000_000  # characters
MAX_CHAIN = 200  # links of one quadratic-to-parse chain
MAX_LINEAR_CHAIN = 5_000  # links of one chain libcst parses in linear time (still one level each)
MAX_DEPTH = 8_000  # estimated nesting of one statement, brackets included (the native stack)
FLATTEN_MIN = 64  # operator chains this long are parsed flat
MAX_FLAT = 20_000  # longest operator chain parsed flat (the rebuilt tree is that deep)
SCAN_MIN = MAX_CHAIN  # logical lines with fewer characters (or chain links) get no token scan


@dataclass(frozen=True)
class Refusal:
    """Why the file is not handed to libcst, and where (an offset in the source)."""

    offset: int
    message: str
    syntax: bool = False  # Python itself rejects it (CPython's limits): a syntax error



class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
