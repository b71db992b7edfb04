"""``--format json``: a list of objects (path, line, column, end_line, end_column, code, rule,
severity, message, fix, cell), in the same order as every other format. ``cell`` is null for a
Python file; in a notebook it is the 1-based cell, and line, end_line and the fix's edits are
within that cell."""

from __future__ import annotations

import json
from collections.abc import Sequence

from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext


def render_json(findings: Sequence[Finding], ctx: ReportContext) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"
