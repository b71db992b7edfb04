"""Inline suppressions: ``# noqa``, ``# noqa: LCK101``, ``# losscheck: ignore[rule-name, LCK102]``,
``# losscheck: ignore`` and ``# losscheck: ignore-file`` (optionally ``ignore-file[...]``).

Comments are found with the stdlib tokenizer, so a ``# noqa`` inside a string is not a directive.
A directive applies to findings that *start* on its line (ruff's rule). Each directive records
which of its entries suppressed something, so the unused ones can be reported (LCK901).

Precision: a bare ``# noqa`` and codes that are not ours (``E501``) are shared with flake8 and
ruff, so they suppress our findings but are never reported as unused.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
from losscheck.lint.finding import Finding

DirectiveKind = Literal["noqa", "ignore", "ignore-file"]

# flake8/ruff syntax: a bare NOQA comment, or with codes: "NOQA: A1,B2", "NOQA:A1 B2" (any case)
_NOQA = re.compile(
    r"#\s*(?i:noqa)(?::\s?(?P<codes>(?i:[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*)))?"
)
_OURS = re.compile(
    r"#\s*losscheck:\s*(?P<kind>ignore-file|ignore)\b(?:\[(?P<entries>[^\]]*)\])?"
)
# cheap test before tokenizing: most files hold no directive at all
_MAYBE = re.compile(r"noqa|losscheck:\s*ignore", re.IGNORECASE)


@dataclass
class Directive:
    """A ``# noqa`` or ``# losscheck: ignore`` comment, and which of its entries were used."""

    kind: DirectiveKind
    line: int  # 1-based
    column: int  # 0-based start of the directive text in the line
    end_column: int  # 0-based, exclusive
    entries: tuple[str, ...] | None  # None: blanket (all rules)
    comment_column: int  # where the whole comment starts
    comment_is_directive_only: bool  # the comment holds nothing but this directive
    used: set[str] = field(default_factory=set)  # entries (or "*") that suppressed a finding

    def matches(self, finding: Finding) -> str | None:
        """The entry that suppresses ``finding`` ("*" for a blanket directive), or None."""
        if self.entries is None:
            return "*"
        for entry in self.entries:
            if entry.upper() == finding.code or entry.lower() == finding.rule:
                return entry
        return None


def may_have_directives(source: str) -> bool:
    return _MAYBE.search(source) is not None


def _comments(source: str) -> Iterable[tuple[int, int, str]]:
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.start[1], tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # The file parsed with libcst, but tokenize may still disagree on odd input
        # (e.g. form feeds); the comments found so far stand.
        return


def parse_directives(source: str) -> list[Directive]:
    if not may_have_directives(source):
        return []
    found: list[Directive] = []
    for line, col, text in _comments(source):
        spans: list[tuple[int, int, DirectiveKind, tuple[str, ...] | None]] = []
        for m in _NOQA.finditer(text):
            codes = m.group("codes")
            # codes in any case ("noqa: lck101"): a lowercase list must not become a bare noqa
            entries = tuple(c.upper() for c in re.split(r"[\s,]+", codes) if c) if codes else None
            spans.append((m.start(), m.end(), "noqa", entries))
        for m in _OURS.finditer(text):
            raw = m.group("entries")
            entries = None if raw is None else tuple(e.strip() for e in raw.split(",") if e.strip())
            spans.append((m.start(), m.end(), m.group("kind"), entries))  # type: ignore[arg-type]
        only = len(spans) == 1 and spans[0][0] == 0 and not text[spans[0][1]:].strip()
        for start, end, kind, entries in spans:
            found.append(Directive(kind, line, col + start, col + end, entries, col, only))
    return found


def file_level(directives: list[Directive]) -> list[Directive]:
    return [d for d in directives if d.kind == "ignore-file"]


def apply(findings: list[Finding], directives: list[Directive]) -> list[Finding]:
    """Drop suppressed findings, marking the directive entries that were used."""
    if not directives:
        return findings
    by_line: dict[int, list[Directive]] = {}
    for d in directives:
        if d.kind != "ignore-file":
            by_line.setdefault(d.line, []).append(d)
    files = file_level(directives)
    kept: list[Finding] = []
    for f in findings:
        if f.code in DIAGNOSTIC_CODES:  # the file was not checked: never hide that
            kept.append(f)
            continue
        suppressed = False
        for d in files + by_line.get(f.line, []):
            entry = d.matches(f)
            if entry is not None:
                d.used.add(entry)
                suppressed = True
        if not suppressed:
            kept.append(f)
    return kept
