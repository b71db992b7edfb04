"""``--format github``: GitHub Actions workflow commands, one annotation per finding."""

from __future__ import annotations

from collections.abc import Sequence

from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], ctx: ReportContext) -> str:
    out = []
    for f in findings:
        props = ",".join(
            f"{k}={escape_property(str(v))}"
            for k, v in (
                ("file", f.path),
                ("line", f.line),
                ("col", f.column),
                ("endLine", f.end_line),
                ("endColumn", f.end_column),
                ("title", f"{f.code} {f.rule}"),
            )
        )
        out.append(f"::{LEVELS.get(f.severity, 'error')} {props}::{escape_data(f'{f.code} {f.message}')}")
    return "".join(line + "\n" for line in out)
