"""Diagnostics the engine itself emits (not rules): they cannot be selected away, like ruff's syntax errors.

They share the rule identity scheme (code + name + docs) so that ``losscheck rules``,
``losscheck explain`` and every reporter treat them like findings, and any of them makes
the run exit 2: the file was not (fully) checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.lint.finding import Finding


@dataclass(frozen=True)
class Diagnostic:
    """A code the tool itself reports (a syntax error, an internal error), with its docs."""

    code: str
    name: str
    summary: str
    doc: str
    severity: str = "error"
    origin: str = "losscheck"
    default_enabled: bool = True

    def docs(self) -> str:
        return self.doc

    @staticmethod
    def has_fix() -> bool:
        return False


INTERNAL_ERROR = Diagnostic(
    "LCK997",
    "internal-error",
    "A rule crashed on this file; the other rules and files were still checked.",
    "## What it does\nReports that a rule raised an exception on this file. The rule's findings for the file\n"
    "are lost; every other rule and file is still checked, and the run exits 2.\n\n"
    "## Why is this bad?\nA crash means the file was not fully checked. Please report it with the file.\n\n"
    "## Example\n(no user mistake: a bug in losscheck or a plugin)\n\n## Use instead\nReport the bug; "
    "meanwhile `--ignore` the crashing rule.",
)
UNREADABLE_FILE = Diagnostic(
    "LCK998",
    "unreadable-file",
    "The file could not be read or decoded.",
    "## What it does\nReports a file that cannot be read, or whose bytes are not valid in its declared\n"
    "encoding (UTF-8 unless a PEP 263 coding line says otherwise).\n\n## Why is this bad?\nPython cannot "
    "import it either, and losscheck cannot check it.\n\n## Example\nA Latin-1 file without a coding line."
    "\n\n## Use instead\nSave the file as UTF-8, or declare its encoding: `# -*- coding: latin-1 -*-`.",
)
SYNTAX_ERROR = Diagnostic(
    "LCK999",
    "syntax-error",
    "The file does not parse.",
    "## What it does\nReports a file that libcst cannot parse, at the parser's line and column. A file\n"
    "that Python accepts and libcst does not (indentation mixing tabs and spaces) is reported as not\n"
    "checked, with libcst's reason.\n\n"
    "## Why is this bad?\nNo rule can check a file that does not parse.\n\n## Example\n```python\n"
    "def loss(y_true, y_pred)\n    return y_pred\n```\n\n## Use instead\n```python\n"
    "def loss(y_true, y_pred):\n    return y_pred\n```",
)

TOO_COMPLEX = Diagnostic(
    "LCK996",
    "too-complex",
    "The file is too large or too deeply nested to check safely.",
    "## What it does\nReports a file that losscheck does not hand to its parser because one statement is\n"
    "too large (over 1 MB) or nested too deeply (chains of hundreds of attribute accesses, calls,\n"
    "subscripts, unary operators, lambdas or conditional expressions), at the place where the limit\n"
    "is passed. The other files are still checked.\n\n## Why is this bad?\nParsing such a statement "
    "would take minutes or gigabytes of memory, or crash the parser.\n\n## Example\n"
    "Generated code: a 5 MB literal on one line, or `x.a.a.a...` repeated thousands of times.\n\n"
    "## Use instead\nSplit the statement, load large data from a file, or exclude generated files "
    "(`extend-exclude`).",
)

DIAGNOSTICS: tuple[Diagnostic, ...] = (TOO_COMPLEX, INTERNAL_ERROR, UNREADABLE_FILE, SYNTAX_ERROR)
DIAGNOSTIC_CODES = frozenset(d.code for d in DIAGNOSTICS)


def make(diag: Diagnostic, path: str, message: str, line: int = 1, column: int = 1) -> Finding:
    return Finding(
        path=path,
        line=max(line, 1),
        column=max(column, 1),
        end_line=max(line, 1),
        end_column=max(column, 1) + 1,
        code=diag.code,
        rule=diag.name,
        severity="error",
        message=message,
    )
