"""Apply fixes: text edits by (line, column), sorted, overlapping ones skipped.

A fix is applied whole or not at all: if any of its edits overlaps an edit already accepted
(from an earlier fix in source order), the whole fix is skipped this pass; the caller's fix
loop re-lints and gets another chance at it on the next pass. An edit identical to one already
accepted (the same import that several fixes add) is shared: applied once, no conflict.
"""

from __future__ import annotations

from collections.abc import Iterable

from losscheck.lint.finding import Edit, Finding, Fix

MAX_PASSES = 10  # the fix loop in the CLI stops after this many passes even if not stable


def _line_starts(source: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(source):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _offset(starts: list[int], source: str, line: int, column: int) -> int:
    if line - 1 >= len(starts):  # an edit at the very end of a file without final newline
        return len(source)
    return min(starts[line - 1] + column, len(source))


def selected_fixes(findings: Iterable[Finding], unsafe: bool) -> list[Fix]:
    return [f.fix for f in findings if f.fix is not None and (f.fix.safe or unsafe) and f.fix.edits]


def apply_fixes(source: str, findings: Iterable[Finding], unsafe: bool = False) -> tuple[str, int]:
    """Return ``(new_source, number_of_fixes_applied)``."""
    fixes = selected_fixes(findings, unsafe)
    if not fixes:
        return source, 0
    starts = _line_starts(source)

    def span(edit: Edit) -> tuple[int, int]:
        return _offset(starts, source, edit.line, edit.column), _offset(starts, source, edit.end_line, edit.end_column)

    # Deterministic order: by the first edit's position, then by content.
    ordered = sorted(fixes, key=lambda fx: (min(span(e) for e in fx.edits), fx.description, fx.edits))
    accepted: list[tuple[int, int, str]] = []
    applied = 0
    seen: set[tuple[Edit, ...]] = set()
    for fx in ordered:
        if fx.edits in seen:  # two findings carrying the same fix: apply it once
            continue
        spans = [(*span(e), e.content) for e in fx.edits]
        if any(a > b for a, b, _ in spans):
            continue  # malformed edit: never corrupt the file
        shared = set(accepted)
        spans = [s for s in spans if s not in shared]
        if any(_overlaps(s, t) for s in spans for t in accepted) or any(
            _overlaps(s, t) for i, s in enumerate(spans) for t in spans[i + 1:]
        ):
            continue
        accepted.extend(spans)
        seen.add(fx.edits)
        applied += 1
    out: list[str] = []
    pos = 0
    for start, end, content in sorted(accepted, key=lambda s: (s[0], s[1])):
        out.append(source[pos:start])
        out.append(content)
        pos = end
    out.append(source[pos:])
    return "".join(out), applied


def _overlaps(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    # Two insertions at the same point conflict too (their order would be arbitrary).
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]
    return a[0] < b[1] and b[0] < a[1]
