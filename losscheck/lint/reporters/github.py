"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

A notebook finding points at the line of the ``.ipynb`` file (as stored) that holds the code,
and its title and message say ``cell N:line:col``."""

from __future__ import annotations

from collections.abc import Sequence

from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext
from losscheck.lint.reporters.cells import NotebookTexts, cell_place

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], ctx: ReportContext) -> str:
    notebooks = NotebookTexts(ctx)
    out = []
    for f in findings:
        line, col, end_line, end_col = f.line, f.column, f.end_line, f.end_column
        title, message = f"{f.code} {f.rule}", f"{f.code} {f.message}"
        if f.cell is not None:
            # GitHub shows a notebook's annotations on the .ipynb file as stored: point at the
            # JSON line that holds the code, and say the cell, line and column in the text.
            start = notebooks.file_position(f.path, f.cell, f.line, f.column)
            end = notebooks.file_position(f.path, f.cell, f.end_line, f.end_column)
            line, col = start if start is not None else (None, None)  # type: ignore[assignment]
            end_line, end_col = end if start is not None and end is not None else (None, None)  # type: ignore[assignment]
            title, message = f"{title} ({cell_place(f)})", f"{cell_place(f)}: {message}"
        props = ",".join(
            f"{k}={escape_property(str(v))}"
            for k, v in (
                ("file", f.path),
                ("line", line),
                ("col", col),
                ("endLine", end_line),
                ("endColumn", end_col),
                ("title", title),
            )
            if v is not None
        )
        out.append(f"::{LEVELS.get(f.severity, 'error')} {props}::{escape_data(message)}")
    return "".join(line + "\n" for line in out)
