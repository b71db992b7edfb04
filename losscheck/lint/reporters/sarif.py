"""``--format sarif``: SARIF 2.1.0, the format code-scanning tools (GitHub, VS Code) read.

A notebook finding's region is in the ``.ipynb`` file as stored; its cell and the position in
the cell are in the result's ``properties`` and at the start of its message (docs/notebooks.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from losscheck import __version__
from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext
from losscheck.lint.reporters.cells import NotebookTexts, cell_place
from losscheck.lint.rule import DOCS_URL, docs_url

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    return path.replace(os.sep, "/")


def _region(f: Finding, notebooks: NotebookTexts) -> dict[str, int] | None:
    """The finding's region in the file. For a notebook, in the .ipynb file as stored (the JSON
    line that holds the code, as code scanning shows the file); None (the whole file) when the
    notebook's text cannot be read."""
    if f.cell is None:
        return {"startLine": f.line, "startColumn": f.column, "endLine": f.end_line, "endColumn": f.end_column}
    start = notebooks.file_position(f.path, f.cell, f.line, f.column)
    end = notebooks.file_position(f.path, f.cell, f.end_line, f.end_column)
    if start is None or end is None:
        return None
    return {"startLine": start[0], "startColumn": start[1], "endLine": end[0], "endColumn": end[1]}


def render_sarif(findings: Sequence[Finding], ctx: ReportContext) -> str:
    infos = {r.code: r for r in ctx.rules}
    used = sorted({f.code for f in findings} | set(infos))
    rule_index = {code: i for i, code in enumerate(used)}
    by_code = {f.code: f for f in findings}
    rules: list[dict[str, Any]] = []
    for code in used:
        info = infos.get(code)
        name = getattr(info, "name", None) or by_code[code].rule
        summary = getattr(info, "summary", "") or name
        severity = getattr(info, "severity", None) or by_code[code].severity
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": summary},
                "helpUri": docs_url(name),
                "defaultConfiguration": {"level": LEVELS.get(severity, "error")},
            }
        )
    results = []
    notebooks = NotebookTexts(ctx)
    for f in findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path)}}
        region = _region(f, notebooks)
        if region is not None:
            location["region"] = region
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": rule_index[f.code],
            "level": LEVELS.get(f.severity, "error"),
            "message": {"text": f.message if f.cell is None else f"{cell_place(f)}: {f.message}"},
            "locations": [{"physicalLocation": location}],
        }
        if f.cell is not None:
            result["properties"] = {
                "cell": f.cell,
                "cellLine": f.line,
                "cellColumn": f.column,
                "cellEndLine": f.end_line,
                "cellEndColumn": f.end_column,
            }
        # a notebook's edits are in cell coordinates, not the file's JSON text: no SARIF fix
        if f.fix is not None and f.cell is None:
            result["fixes"] = [
                {
                    "description": {"text": f.fix.description},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": _uri(f.path)},
                            "replacements": [
                                {
                                    # SARIF columns are 1-based
                                    "deletedRegion": {
                                        "startLine": e.line,
                                        "startColumn": e.column + 1,
                                        "endLine": e.end_line,
                                        "endColumn": e.end_column + 1,
                                    },
                                    "insertedContent": {"text": e.content},
                                }
                                for e in f.fix.edits
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losscheck",
                        "version": __version__,
                        "informationUri": DOCS_URL,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
