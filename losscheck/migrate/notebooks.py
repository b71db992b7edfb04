"""``losscheck migrate`` on Jupyter notebooks: the code cells migrate as one program.

A notebook is one program run cell by cell: the backend import of cell 1 serves the ``K.mean``
of cell 7, so the cells cannot be migrated one by one (the import would stay, the calls would
not be seen as backend calls). They are joined into one module, migrated by
:func:`losscheck.migrate.run.migrate_source` as a file is, and the result is split back:

- IPython syntax (``%time``, ``!pip``, a ``%%time`` line) is masked as ``lint`` masks it
  (``lint/magics.py``: text of the same length that parses as Python), so the migration never
  sees it and never changes it; afterwards each masked line gets its original text back. Cells
  whose body is not Python (``%%bash``) and blank cells are left out: nothing in them can change.
- Between two cells the module holds a line with the bare name :data:`BOUNDARY`. It is a
  statement of its own, which no rewrite touches, so a cell's comments and blank lines stay
  on its side of the line. (A comment line would not do: libcst makes it a leading line of the
  next statement, so it would go with an import the migration removes, and it would count as
  a comment on that import, which keeps the import.) An import the migration adds goes after
  the notebook's backend import, in that import's cell; one it removes goes from its own cell.
- Each piece between boundaries must be the migration of exactly one cell: the number of
  pieces must be the number of cells, every masked line must come back unchanged, and masking
  the restored cell again must give the migrated piece. A notebook that fails a check is
  refused with a one-line reason, and nothing is written.

Only the changed cells' ``source`` values are rewritten in the file's JSON
(``notebook_json.replace_sources``): outputs, metadata, key order and layout keep every byte,
and the new text must pass nbformat's validation, else nothing is written.
"""

from __future__ import annotations

import ast
import bisect
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from losscheck.lint.magics import Masked, mask
from losscheck.lint.notebook import CodeCell, NotebookError, decode, parse
from losscheck.lint.notebook_fix import InvalidNotebook, _cell_diff, _validate
from losscheck.lint.notebook_json import replace_sources
from losscheck.migrate.rewrite import Note
from losscheck.migrate.run import MigrateError, Migration, migrate_source, read_bytes

# The statement between two cells in the joined module: a bare name, which no rewrite touches.
BOUNDARY = "__losscheck_cell_boundary__"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class CellNote:
    """A summary line of a notebook: the cell (numbered as Jupyter and ``lint`` number them,
    markdown cells included), the line in that cell, and what was or was not changed."""

    cell: int
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"cell {self.cell}:{self.line}"


@dataclass
class NotebookMigration:
    """What ``migrate`` does to a notebook; read by the CLI as it reads a file's :class:`Migration`."""

    path: str
    original: dict[int, str]  # cell number -> source, for the cells that change
    sources: dict[int, str]  # cell number -> migrated source, for the same cells
    changed: list[CellNote] = field(default_factory=list)
    not_changed: list[CellNote] = field(default_factory=list)

    @property
    def modified(self) -> bool:
        return bool(self.sources)

    @property
    def diff(self) -> str:
        """A unified diff per changed cell, headed ``a/PATH:cell N`` as ``lint --diff`` heads it."""
        return "".join(_cell_diff(self.path, n, self.original[n], self.sources[n]) for n in sorted(self.sources))


def _terminated(text: str) -> str:
    """Each cell ends with a newline in the module (a cell's last line usually has none)."""
    return text if not text or text.endswith("\n") else text + "\n"


def _migratable(cell: CodeCell) -> bool:
    """Blank cells and cells of another language (``%%bash``) cannot change: they stay out."""
    return cell.masked.python and bool(cell.masked.text.strip())


def join(cells: list[CodeCell]) -> str:
    """The module the cells make, IPython syntax masked, a boundary line between two cells."""
    return f"{BOUNDARY}\n".join(_terminated(c.masked.text) for c in cells)


def split(code: str) -> list[str]:
    """The pieces of a joined module between its boundary lines."""
    pieces = [""]
    for line in code.splitlines(keepends=True):
        if line.rstrip("\r\n") == BOUNDARY:
            pieces.append("")
        else:
            pieces[-1] += line
    return pieces


def locator(code: str, cells: list[CodeCell]) -> Callable[[int], tuple[int, int]]:
    """Line of a joined module -> (cell number, line in that cell)."""
    starts = [1]  # per cell, its first line in the module
    for number, line in enumerate(code.splitlines(), 1):
        if line == BOUNDARY:
            starts.append(number + 1)

    def locate(line: int) -> tuple[int, int]:
        index = min(max(bisect.bisect_right(starts, line) - 1, 0), len(cells) - 1)
        return cells[index].number, max(line - starts[index] + 1, 1)

    return locate


def restore(cell: CodeCell, migrated: str) -> str | None:
    """The cell's source with the migration applied and its IPython lines as written; None when
    the migrated piece cannot be matched to the cell exactly."""
    before = _terminated(cell.masked.text)
    if migrated == before:
        return cell.source  # untouched: not even a newline added
    written = _terminated(cell.source).splitlines(keepends=True)
    old, new = before.splitlines(keepends=True), migrated.splitlines(keepends=True)
    # Each masked line must be in a run of lines the migration kept; it gets its text back.
    kept: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for block in matcher.get_matching_blocks():
        kept.update((block.a + k, block.b + k) for k in range(block.size))
    masked_lines = sorted({span.line for span in cell.masked.spans})
    if any(i not in kept for i in masked_lines):
        return None
    for i in masked_lines:
        new[kept[i]] = written[i]
    text = "".join(new)
    if not cell.source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    again = mask(text)
    if _terminated(again.text) != migrated or _ipython_lines(text, again) != _ipython_lines(cell.source, cell.masked):
        return None
    return text


def _ipython_lines(source: str, masked: Masked) -> list[str]:
    """The lines holding IPython syntax, as written, in order."""
    lines = source.splitlines()
    return [lines[span.line] for span in masked.spans]


def _syntax_check(path: str, module: str, cells: list[CodeCell]) -> None:
    """A syntax error is reported where it is: the cell and the line in it."""
    try:
        compile(module, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        number, line = locator(module, cells)(exc.lineno or 1)
        raise MigrateError(f"{path}:cell {number}:{line}:{exc.offset or 1}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise MigrateError(f"{path}: cannot parse it: {type(exc).__name__}") from None


def migrate_cells(cells: list[CodeCell], path: str, *, unsafe: bool) -> NotebookMigration:
    """Migrate the code cells as one program. Raises :class:`MigrateError`."""
    cells = [c for c in cells if _migratable(c)]
    if not cells:
        return NotebookMigration(path, {}, {})
    if any(BOUNDARY in c.source for c in cells):
        raise MigrateError(f"{path}: not migrated: it uses the name {BOUNDARY}, which marks the cells' boundaries")
    module = join(cells)
    _syntax_check(path, module, cells)
    result = migrate_source(module, path, unsafe=unsafe)
    pieces = split(result.code)
    if len(pieces) != len(cells):
        raise MigrateError(f"{path}: not migrated: the migrated code cannot be split back into its cells")
    original: dict[int, str] = {}
    sources: dict[int, str] = {}
    for cell, piece in zip(cells, pieces):
        text = restore(cell, piece)
        if text is None:
            raise MigrateError(f"{path}: not migrated: the migration of cell {cell.number} cannot be mapped back "
                               "onto the cell exactly")
        if text != cell.source:
            original[cell.number], sources[cell.number] = cell.source, text
    out = NotebookMigration(path, original, sources)
    out.changed, out.not_changed = _cell_notes(result, cells)
    return out


def _cell_notes(result: Migration, cells: list[CodeCell]) -> tuple[list[CellNote], list[CellNote]]:
    """The migration's notes in cell coordinates, each through the text its line counts in."""
    locate = {
        "source": locator(result.original, cells),
        "rewritten": locator(result.rewritten, cells),
        "code": locator(result.code, cells),
    }

    def place(notes: list[Note]) -> list[CellNote]:
        placed = [CellNote(*locate[n.counted_in](n.line), n.text) for n in notes]
        return sorted(placed, key=lambda n: (n.cell, n.line))

    return place(result.changed), place(result.not_changed)


def migrate_notebook(path: str, *, unsafe: bool) -> tuple[NotebookMigration, bytes]:
    """Migrate the notebook at ``path``; the migration and the file's new bytes (empty when no
    cell changes). Raises :class:`MigrateError`."""
    data = read_bytes(path)
    try:
        text = decode(data)
        notebook = parse(text)
    except NotebookError as exc:
        raise MigrateError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    result = migrate_cells(notebook.cells, path, unsafe=unsafe)
    if not result.modified:
        return result, b""
    new_text = replace_sources(text, result.sources)
    try:
        _validate(new_text)  # as `lint --fix` checks a notebook it fixed
    except InvalidNotebook as exc:
        raise MigrateError(f"{path}: not migrated: {str(exc).replace('fixed notebook', 'migrated notebook')}") from None
    prefix = _BOM if data.startswith(_BOM) else b""  # decode() dropped it; the file keeps it
    return result, prefix + new_text.encode("utf-8")
