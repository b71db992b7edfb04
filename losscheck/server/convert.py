"""Findings to LSP: diagnostics, text edits for fixes and ``# noqa``, hover text.

Findings count lines from 1 and columns in characters (code points), as libcst does; LSP
counts both from 0 and columns in the code units the client and server agreed on (UTF-16
unless the client offers another). pygls's position codec does the unit conversion, given the
document's lines as the engine split them (on ``\\n`` only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
from losscheck.lint.finding import Edit, Finding
from losscheck.lint.rule import docs_url

SOURCE = "losscheck"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}
UNUSED_SUPPRESSION = "LCK901"
_NOQA = re.compile(r"#\s*(?i:noqa)(?P<colon>:\s?(?P<codes>[A-Za-z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Za-z]+[0-9]+)*))?")


def lines_of(text: str) -> list[str]:
    """The text's lines with their endings, split where the engine splits them."""
    out = text.split("\n")
    return [line + "\n" for line in out[:-1]] + ([out[-1]] if out[-1] else [])


def position(lines: Sequence[str], codec: PositionCodec, line: int, column: int) -> types.Position:
    """0-based ``line`` and code-point ``column`` as a client position (clamped to the text)."""
    line = max(line, 0)
    if line >= len(lines):
        return types.Position(line=len(lines), character=0)
    text = lines[line].rstrip("\r\n")
    return codec.position_to_client_units(lines, ServerTextPosition(line, max(0, min(column, len(text)))))


def finding_range(finding: Finding, lines: Sequence[str], codec: PositionCodec) -> types.Range:
    start = position(lines, codec, finding.line - 1, finding.column - 1)
    end = position(lines, codec, finding.end_line - 1, finding.end_column - 1)
    if (end.line, end.character) < (start.line, start.character):
        end = start
    return types.Range(start=start, end=end)


def diagnostic(finding: Finding, lines: Sequence[str], codec: PositionCodec) -> types.Diagnostic:
    tags = [types.DiagnosticTag.Unnecessary] if finding.code == UNUSED_SUPPRESSION else None
    return types.Diagnostic(
        range=finding_range(finding, lines, codec),
        message=f"[{finding.rule}] {finding.message}",
        severity=SEVERITY.get(finding.severity, types.DiagnosticSeverity.Error),
        code=finding.code,
        code_description=types.CodeDescription(href=docs_url(finding.rule)),
        source=SOURCE,
        tags=tags,
        data={"rule": finding.rule, "fix": None if finding.fix is None else ("safe" if finding.fix.safe else "unsafe")},
    )


def text_edits(edits: Iterable[Edit], lines: Sequence[str], codec: PositionCodec) -> list[types.TextEdit]:
    return [
        types.TextEdit(
            range=types.Range(
                start=position(lines, codec, e.line - 1, e.column),
                end=position(lines, codec, e.end_line - 1, e.end_column),
            ),
            new_text=e.content,
        )
        for e in edits
    ]


def noqa_edit(finding: Finding, lines: Sequence[str], codec: PositionCodec) -> types.TextEdit | None:
    """The edit that adds ``finding``'s code to a ``# noqa`` on its line (suppressions apply to
    the line a finding starts on); None for a finding nothing can suppress."""
    if finding.code in DIAGNOSTIC_CODES or finding.code == UNUSED_SUPPRESSION or finding.line > len(lines):
        return None
    text = lines[finding.line - 1].rstrip("\r\n")
    existing = _NOQA.search(text)
    if existing is not None and existing.group("codes"):
        at, insert = existing.end("codes"), f", {finding.code}"
    elif existing is not None:
        return None  # a bare `# noqa` already suppresses everything on the line
    else:
        at, insert = len(text), f"  # noqa: {finding.code}"
    place = position(lines, codec, finding.line - 1, at)
    return types.TextEdit(range=types.Range(start=place, end=place), new_text=insert)


def whole_text_edit(old: str, new: str, codec: PositionCodec) -> types.TextEdit:
    """One edit replacing ``old`` with ``new`` (what fix-all sends: the fixes re-lint between
    passes, so their edits are not all relative to one text)."""
    lines = lines_of(old)
    end = types.Position(line=len(lines), character=0)
    if lines and not lines[-1].endswith("\n"):
        end = position(lines, codec, len(lines) - 1, len(lines[-1]))
    return types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=new)


def hover_markdown(findings: Sequence[Finding], explain: dict[str, str | None]) -> str:
    """The findings under the cursor, each with its rule's page (``losscheck explain``)."""
    parts = []
    for f in findings:
        head = f"**{f.code}** `{f.rule}`: {f.message}"
        page = explain.get(f.code)
        parts.append(head + (f"\n\n{page.strip()}" if page else "") + f"\n\n[{f.rule}]({docs_url(f.rule)})")
    return "\n\n---\n\n".join(parts)


def covers(finding: Finding, line: int, column: int) -> bool:
    """Is the 0-based (line, code-point column) within the finding (its end included, so that a
    cursor just after a one-character range still hovers it)?"""
    start = (finding.line - 1, finding.column - 1)
    end = (finding.end_line - 1, finding.end_column - 1)
    return start <= (line, column) <= max(start, end)


def overlaps(finding: Finding, start: tuple[int, int], end: tuple[int, int]) -> bool:
    """Does the finding touch the 0-based code-point range [start, end]?"""
    f_start = (finding.line - 1, finding.column - 1)
    f_end = max(f_start, (finding.end_line - 1, finding.end_column - 1))
    return f_start <= end and start <= f_end
