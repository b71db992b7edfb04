"""``--fix`` in a notebook: fixes are applied cell by cell, and only the changed cells' sources
are written back into the notebook's JSON.

A finding's fix edits are relative to its cell (``Notebook.to_cells``), so each cell's source
is edited on its own, as the user wrote it: masked IPython syntax is never touched (a fix
that would reach into it, or into another cell, is left alone). After each pass the notebook
is joined and linted again, as a file is. The new file text keeps every byte outside the
changed ``source`` values (``notebook_json.replace_sources``) and must pass nbformat's
validation, else nothing is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
from losscheck.lint.engine import lint_source
from losscheck.lint.finding import Edit, Finding
from losscheck.lint.fix import MAX_PASSES, apply_fixes
from losscheck.lint.notebook import CodeCell, Notebook, NotebookError, decode, parse
from losscheck.lint.notebook_json import replace_sources


class InvalidNotebook(Exception):
    """The fixed notebook would not pass nbformat's validation; nothing is written."""


@dataclass
class NotebookFix:
    text: str | None  # the fixed notebook's text; None when no cell changed
    findings: list[Finding]  # what remains, in cell coordinates
    fixed: int
    diff: str  # per changed cell


def _inside(edit: Edit, cell: CodeCell) -> bool:
    """Does the edit stay within the cell and off its masked IPython syntax?"""
    last = cell.lines
    ends_inside = edit.end_line <= last or (edit.end_line == last + 1 and edit.end_column == 0)
    if edit.line < 1 or not ends_inside:
        return False
    start, end = (edit.line, edit.column), (edit.end_line, edit.end_column)
    for span in cell.masked.spans:
        masked_start, masked_end = (span.line + 1, span.start), (span.line + 1, span.end)
        # an insertion (start == end) touches the span when it falls within it
        if start < masked_end and (masked_start < end or masked_start <= start == end):
            return False
    return True


def apply_to_cells(nb: Notebook, findings: Sequence[Finding], unsafe: bool) -> tuple[dict[int, str], int]:
    """Each cell's source with the fixes of its findings applied; how many fixes were applied."""
    by_cell: dict[int, list[Finding]] = {}
    for f in findings:
        if f.cell is not None and f.fix is not None:
            by_cell.setdefault(f.cell, []).append(f)
    sources: dict[int, str] = {}
    applied = 0
    for cell in nb.cells:
        fitting = [f for f in by_cell.get(cell.number, ()) if all(_inside(e, cell) for e in f.fix.edits)]  # type: ignore[union-attr]
        new, count = apply_fixes(cell.source, fitting, unsafe=unsafe)
        sources[cell.number] = new
        applied += count
    return sources, applied


def fix_notebook(
    data: bytes, path: str, findings: list[Finding], rules: Sequence[Any], options: dict, unsafe: bool
) -> NotebookFix:
    """Fix a notebook file's bytes. Raises :class:`InvalidNotebook` (or NotebookError)."""
    text = decode(data)
    nb = original = parse(text)
    total = 0
    for _ in range(MAX_PASSES):
        sources, applied = apply_to_cells(nb, findings, unsafe)
        if not applied or all(sources[c.number] == c.source for c in nb.cells):
            break
        candidate = nb.with_sources(sources)
        fresh = candidate.to_cells(lint_source(candidate.source, path, rules=rules, options=options))
        if any(f.code in DIAGNOSTIC_CODES for f in fresh):
            break  # the fix broke the notebook: keep the last good version
        nb, findings, total = candidate, fresh, total + applied
    changed = {c.number: c.source for c, old in zip(nb.cells, original.cells) if c.source != old.source}
    if not changed:
        return NotebookFix(None, findings, total, "")
    new_text = replace_sources(text, changed)
    _validate(new_text)
    if data.startswith(b"\xef\xbb\xbf"):
        new_text = "\ufeff" + new_text
    diff = "".join(_cell_diff(path, number, original.cell(number).source, changed[number]) for number in sorted(changed))  # type: ignore[union-attr]
    return NotebookFix(new_text, findings, total, diff)


def _validate(text: str) -> None:
    import nbformat

    try:
        nbformat.validate(nbformat.reader.reads(text))
    except Exception as exc:  # noqa: BLE001 - ValidationError and what nbformat raises on odd input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidNotebook(f"the fixed notebook would not pass nbformat's validation: {first}") from None


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # a cell's last line has no newline; the diff shows it as a line
    return lines


def _cell_diff(path: str, number: int, old: str, new: str) -> str:
    where = f"{path}:cell {number}"
    return "".join(difflib.unified_diff(_lines(old), _lines(new), f"a/{where}", f"b/{where}"))


__all__ = ["InvalidNotebook", "NotebookError", "NotebookFix", "apply_to_cells", "fix_notebook"]
