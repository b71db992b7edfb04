"""Where a notebook finding is, for the reporters: ``cell 3:2:12`` for people, and the line and
column of the ``.ipynb`` file (its JSON text) for tools that show the file as stored."""

from __future__ import annotations

from typing import Any

from losscheck.lint.reporters import ReportContext, cell_place, location

__all__ = ["NotebookTexts", "cell_place", "location"]


class NotebookTexts:
    """The notebooks' texts (through ``ctx.read_source``), read once per path. A plain class:
    every report imports this module, and a dataclass costs start-up time."""

    def __init__(self, ctx: ReportContext) -> None:
        self.ctx = ctx
        self._texts: dict[str, str | None] = {}
        self._sources: dict[str, dict[int, str]] = {}
        self._spans: dict[str, dict[int, Any]] = {}  # cell -> notebook_json.SourceSpan

    def text(self, path: str) -> str | None:
        if path not in self._texts:
            self._texts[path] = self.ctx.read_source(path)
        return self._texts[path]

    def cell_lines(self, path: str, cell: int) -> list[str]:
        if path not in self._sources:
            from losscheck.lint.notebook import cell_sources

            text = self.text(path)
            self._sources[path] = cell_sources(text) if text is not None else {}
        return self._sources[path].get(cell, "").splitlines()

    def file_position(self, path: str, cell: int, line: int, column: int) -> tuple[int, int] | None:
        """(line, column), both 1-based, in the notebook file of a cell's ``line``:``column``."""
        from losscheck.lint.notebook_json import file_offset, source_spans

        text = self.text(path)
        if text is None:
            return None
        if path not in self._spans:
            self._spans[path] = {s.number: s for s in source_spans(text)}
        span = self._spans[path].get(cell)
        if span is None:
            return None
        self.cell_lines(path, cell)
        source = self._sources[path].get(cell, "")
        before = source.splitlines(keepends=True)[: max(line - 1, 0)]
        at = file_offset(text, span, min(sum(map(len, before)) + max(column - 1, 0), len(source)))  # type: ignore[arg-type]
        if at is None:
            return None
        return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
