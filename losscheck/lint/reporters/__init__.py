"""Output formats: ``full`` (source snippet and caret), ``concise``, ``json``, ``sarif`` (2.1.0),
``github`` (workflow commands). Each is ``render(findings, ctx) -> str``; the CLI writes it.

Findings arrive sorted (path, line, column, code), so every format is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from losscheck.lint.finding import Finding

FORMATS = ("full", "concise", "json", "sarif", "github")


@dataclass
class ReportContext:
    """What a reporter needs besides the findings: source text for snippets, the rule table, run totals."""

    read_source: Callable[[str], str | None]  # display path -> text (for snippets)
    rules: Sequence[object] = ()  # rule infos (code, name, summary, severity) for SARIF's rule table
    unsafe_fixes: bool = False
    fixed: int = 0  # fixes applied this run (--fix)
    unchecked: int = 0  # paths named or found that could not be checked (missing, unreadable)
    show_fix_hints: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def cell_place(f: Finding) -> str:
    """``cell 3:2:12``: a notebook finding's cell, line in the cell and column."""
    return f"cell {f.cell}:{f.line}:{f.column}"


def location(f: Finding) -> str:
    """``path:line:col``, or ``path:cell N:line:col`` for a notebook finding (as ruff prints)."""
    if f.cell is not None:
        return f"{f.path}:{cell_place(f)}"
    return f"{f.path}:{f.line}:{f.column}"


def render(fmt: str, findings: Sequence[Finding], ctx: ReportContext) -> str:
    if fmt == "full":
        from losscheck.lint.reporters.text import render_full as fn
    elif fmt == "concise":
        from losscheck.lint.reporters.text import render_concise as fn
    elif fmt == "json":
        from losscheck.lint.reporters.json_format import render_json as fn
    elif fmt == "sarif":
        from losscheck.lint.reporters.sarif import render_sarif as fn
    elif fmt == "github":
        from losscheck.lint.reporters.github import render_github as fn
    else:  # argparse and config validation make this unreachable
        raise ValueError(f"unknown format {fmt!r}")
    return fn(findings, ctx)
