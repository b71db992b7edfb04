"""Jupyter notebooks as one Python module: read, mask IPython syntax, join cells, map positions.

The code cells are joined in order into one module, so a loss in cell 7 sees the imports of
cell 1, and the rules, suppressions and fixes work on it as on any file. IPython syntax is
masked with text of the same length (``magics.py``), so a line and column of the module are
a line and column of a cell: ``Notebook.to_cells`` turns findings into cell coordinates
(``cell`` is the 1-based position of the cell in the notebook, markdown cells included, as
Jupyter and ruff count them; ``line`` is the line within that cell).

nbformat (which imports jsonschema and traitlets: ~0.1 s) is imported only here, when a
notebook has to be read; a run over Python files, or over cached notebooks, never imports it,
nor this module.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from losscheck.lint import diagnostics
from losscheck.lint.discover import is_notebook
from losscheck.lint.finding import Edit, Finding, Fix
from losscheck.lint.magics import Masked, mask

SUPPORTED_VERSIONS = (3, 4)
_PYTHON_NAMES = ("python", "python2", "python3", "ipython", "ipython2", "ipython3")
__all__ = ["CodeCell", "Notebook", "NotebookError", "cell_sources", "decode", "is_notebook", "parse", "prepare"]


class NotebookError(Exception):
    """A file that is not a notebook losscheck can read; line and column in the file."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True)
class CodeCell:
    number: int  # 1-based position among all the notebook's cells
    source: str  # as the user wrote it
    masked: Masked = field(compare=False)

    @property
    def lines(self) -> int:
        """Lines the cell takes in the joined module."""
        text = self.masked.text
        return text.count("\n") + (0 if not text or text.endswith("\n") else 1)


@dataclass
class Notebook:
    version: int  # nbformat major version of the file
    cells: list[CodeCell]  # the Python code cells, in order
    source: str = ""  # the joined module, IPython syntax masked
    starts: list[int] = field(default_factory=list)  # per cell, its first line in the module

    @classmethod
    def build(cls, version: int, cells: Iterable[tuple[int, str]]) -> Notebook:
        code = [CodeCell(number, source, mask(source)) for number, source in cells]
        parts: list[str] = []
        starts: list[int] = []
        line = 1
        for cell in code:
            starts.append(line)
            text = cell.masked.text
            parts.append(text if not text or text.endswith("\n") else text + "\n")
            line += cell.lines
        return cls(version, code, "".join(parts), starts)

    def with_sources(self, sources: dict[int, str]) -> Notebook:
        """The same notebook with some cells' sources replaced (by cell number)."""
        return Notebook.build(self.version, ((c.number, sources.get(c.number, c.source)) for c in self.cells))

    def cell(self, number: int) -> CodeCell | None:
        return next((c for c in self.cells if c.number == number), None)

    def locate(self, line: int) -> int | None:
        """The index (in ``cells``) of the cell holding module line ``line``."""
        candidates = [i for i, c in enumerate(self.cells) if c.lines]
        if not candidates:
            return None
        starts = [self.starts[i] for i in candidates]
        return candidates[max(0, bisect.bisect_right(starts, line) - 1)]

    def to_cells(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings in module coordinates -> the same findings in cell coordinates. A fix's edits
        are relative to the finding's cell too; a fix reaching before that cell is dropped."""
        out = []
        for f in findings:
            index = self.locate(f.line)
            if index is None:
                out.append(f)
                continue
            shift = self.starts[index] - 1
            fix = f.fix
            if fix is not None:
                edits = tuple(
                    Edit(e.line - shift, e.column, e.end_line - shift, e.end_column, e.content) for e in fix.edits
                )
                fix = Fix(edits, fix.safe, fix.description) if all(e.line >= 1 for e in edits) else None
            out.append(
                replace(f, line=f.line - shift, end_line=max(f.end_line - shift, 1), cell=self.cells[index].number, fix=fix)
            )
        return out


def decode(data: bytes) -> str:
    """Notebook files are UTF-8 JSON (a byte-order mark is tolerated)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotebookError(f"cannot decode the notebook: not UTF-8 ({exc.reason} at byte {exc.start})", line) from None


def parse(text: str) -> Notebook:
    """Read a notebook's text (nbformat 3 or 4). Raises :class:`NotebookError`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a valid notebook: invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise NotebookError("not a valid notebook: the JSON is nested too deeply") from None
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise NotebookError('not a valid notebook: no "nbformat" version at the top level')
    version = raw["nbformat"]
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise NotebookError(f"not a valid notebook: nbformat {version!r} is not supported (3 and 4 are)")
    try:
        nb = raw
        if version != 4:
            # nbformat 3 keeps its cells in worksheets: nbformat converts. Version 4 (what every
            # current tool writes) is read as the JSON it is: importing nbformat, and jsonschema
            # with it, cost ~115 ms, half of a notebook's lint
            import nbformat

            nb = nbformat.convert(nbformat.from_dict(raw), 4)
        cells = nb["cells"]
        metadata = nb.get("metadata", {})
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds on malformed input
        raise NotebookError(f"not a valid notebook: {type(exc).__name__}: {exc}") from None
    if not isinstance(cells, list):
        raise NotebookError('not a valid notebook: "cells" is not a list')
    if not _python_notebook(metadata):
        return Notebook.build(version, [])
    return Notebook.build(version, _code_cells(cells))


def _python_notebook(metadata: object) -> bool:
    """False for a notebook whose kernel says it is not Python (R, Julia...)."""
    if not isinstance(metadata, dict):
        return True
    for key, name in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(name), str):
            return value[name].lower() in _PYTHON_NAMES
    return True


def _code_cells(cells: list[object]) -> list[tuple[int, str]]:
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f'not a valid notebook: cell {number} has no "cell_type"')
        if cell["cell_type"] != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f'not a valid notebook: the "source" of cell {number} is not text')
        language = cell.get("metadata", {}).get("vscode", {}) if isinstance(cell.get("metadata"), dict) else {}
        if isinstance(language, dict) and language.get("languageId", "python") not in _PYTHON_NAMES:
            continue  # a cell VS Code runs in another language
        out.append((number, source))
    return out


def prepare(data: bytes, display: str) -> tuple[bytes, Notebook] | Finding:
    """The module to lint for a notebook file, or the diagnostic that says why there is none."""
    try:
        nb = parse(decode(data))
    except NotebookError as exc:
        return diagnostics.make(diagnostics.UNREADABLE_FILE, display, exc.message, exc.line, exc.column)
    if "\0" in nb.source:  # Python refuses the whole module, as it would a file
        line = nb.source.count("\n", 0, nb.source.index("\0")) + 1
        diag = diagnostics.make(diagnostics.SYNTAX_ERROR, display, "syntax error: source code cannot contain null bytes", line)
        return nb.to_cells([diag])[0]
    return nb.source.encode("utf-8"), nb


def cell_sources(text: str) -> dict[int, str]:
    """Every cell's source in a notebook's text, by cell number (for showing the code)."""
    from losscheck.lint.notebook_json import source_spans

    out: dict[int, str] = {}
    for span in source_spans(text):
        if span.start < 0:
            continue
        value = json.loads(text[span.start : span.end])
        if isinstance(value, list):
            value = "".join(v for v in value if isinstance(v, str))
        if isinstance(value, str):
            out[span.number] = value
    return out
