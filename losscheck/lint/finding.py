"""What a rule reports: a finding with an exact source range and, where safe, a fix.

Findings are plain, serialisable data (they go through the cache, JSON and SARIF), so a
fix is a list of text edits by 1-based line and 0-based column, never a libcst node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text from (line, column) to (end_line, end_column) with ``content``.

    Lines are 1-based, columns 0-based character offsets within the line (libcst's convention).
    """

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True)
class Fix:
    """Edits that resolve a finding, with whether they keep the program's meaning."""

    edits: tuple[Edit, ...]
    # Safe fixes keep the program's meaning; unsafe ones (e.g. changing a reduction axis
    # changes the loss values) are applied only with --unsafe-fixes.
    safe: bool
    description: str


@dataclass(frozen=True)
class Finding:
    """One reported problem: where it is (1-based lines and columns), which rule, the message and any fix."""

    path: str
    line: int  # 1-based
    column: int  # 1-based, as ruff and flake8 print it
    end_line: int
    end_column: int  # 1-based, exclusive
    code: str  # e.g. "LCK101"
    rule: str  # e.g. "batch-mean-reduction"
    severity: Severity
    message: str
    fix: Fix | None = field(default=None, compare=False)
    # In a notebook: the 1-based cell (line, end_line and the fix's edits are then within it).
    cell: int | None = None

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.fix is not None:
            data["fix"] = {
                "applicability": "safe" if self.fix.safe else "unsafe",
                "message": self.fix.description,
                "edits": [asdict(e) for e in self.fix.edits],
            }
        return data

    @staticmethod
    def from_dict(data: dict) -> "Finding":
        fix = data.get("fix")
        fix_obj = None
        if fix:
            fix_obj = Fix(
                edits=tuple(Edit(**e) for e in fix["edits"]),
                safe=fix["applicability"] == "safe",
                description=fix["message"],
            )
        fields = {k: v for k, v in data.items() if k != "fix"}
        return Finding(**fields, fix=fix_obj)
