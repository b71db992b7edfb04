"""Human formats: ``concise`` (one line per finding) and ``full`` (plus the source and a caret)."""

from __future__ import annotations

from collections.abc import Sequence

from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext, location


def headline(f: Finding) -> str:
    return f"{location(f)}: {f.code} [{f.rule}] {f.message}"


def _summary(findings: Sequence[Finding], ctx: ReportContext) -> str:
    lines: list[str] = []
    n = len(findings)
    if ctx.fixed:
        lines.append(f"Found {n + ctx.fixed} error{'s' if n + ctx.fixed != 1 else ''} ({ctx.fixed} fixed, {n} remaining).")
    elif n:
        lines.append(f"Found {n} error{'s' if n != 1 else ''}.")
    elif not ctx.unchecked:  # only when everything asked for was checked
        lines.append("All checks passed!")
    if ctx.unchecked:
        lines.append(
            f"{ctx.unchecked} path{'s' if ctx.unchecked != 1 else ''} could not be checked; see the errors."
        )
    if ctx.show_fix_hints:
        safe = sum(1 for f in findings if f.fix is not None and f.fix.safe)
        unsafe = sum(1 for f in findings if f.fix is not None and not f.fix.safe)
        if safe:
            lines.append(f"[*] {safe} fixable with the `--fix` option.")
        if unsafe and not ctx.unsafe_fixes:
            lines.append(f"{unsafe} more fix{'es' if unsafe != 1 else ''} available with `--fix --unsafe-fixes`.")
        elif unsafe:
            lines.append(f"[*] {unsafe} more fixable with `--fix --unsafe-fixes`.")
    return "\n".join(lines)


def render_concise(findings: Sequence[Finding], ctx: ReportContext) -> str:
    lines = [headline(f) for f in findings]
    if not ctx.extra.get("quiet"):  # --quiet: the findings only
        lines.append(_summary(findings, ctx))
    return "\n".join(lines) + "\n" if lines else ""


def _expand_tabs_prefix(text: str, column: int) -> tuple[str, int]:
    """The line with tabs expanded, and the caret column (0-based) after expansion."""
    expanded = text[:column].expandtabs(4)
    return text.expandtabs(4), len(expanded)


def snippet(f: Finding, lines: list[str]) -> list[str]:
    if not (1 <= f.line <= len(lines)):
        return []
    first = max(1, f.line - 1)
    width = len(str(f.line))
    out = [f"{' ' * width} |"]
    for number in range(first, f.line + 1):
        text = lines[number - 1].rstrip("\r\n")
        shown, _ = _expand_tabs_prefix(text, 0)
        out.append(f"{number:>{width}} | {shown}")
    text = lines[f.line - 1].rstrip("\r\n")
    _, start = _expand_tabs_prefix(text, f.column - 1)
    end_col = f.end_column - 1 if f.end_line == f.line else len(text)
    _, end = _expand_tabs_prefix(text, max(end_col, f.column - 1))
    carets = "^" * max(1, end - start)
    out.append(f"{' ' * width} | {' ' * start}{carets} {f.code}")
    out.append(f"{' ' * width} |")
    if f.fix is not None:
        label = "safe fix" if f.fix.safe else "unsafe fix"
        out.append(f"{' ' * width} = {label}: {f.fix.description}")
    return out


def render_full(findings: Sequence[Finding], ctx: ReportContext) -> str:
    blocks: list[str] = []
    cache: dict[str, list[str]] = {}
    notebooks = None
    for f in findings:
        if f.cell is not None:  # the lines of its cell, numbered within the cell
            if notebooks is None:
                from losscheck.lint.reporters.cells import NotebookTexts

                notebooks = NotebookTexts(ctx)
            lines = notebooks.cell_lines(f.path, f.cell)
        else:
            if f.path not in cache:
                text = ctx.read_source(f.path)
                cache[f.path] = text.splitlines() if text is not None else []
            lines = cache[f.path]
        blocks.append("\n".join([headline(f), *snippet(f, lines)]))
    if not ctx.extra.get("quiet"):  # --quiet: the findings only
        blocks.append(_summary(findings, ctx))
    return "\n\n".join(blocks) + "\n" if blocks else ""
