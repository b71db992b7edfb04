"""LSP notebook documents as the notebook JSON that ``losscheck lint`` reads.

An editor sends a notebook as an ordered list of cells, each a text document of its own. The
runner lints notebooks from their JSON (``lint/notebook.py``: code cells joined in order,
IPython syntax masked, findings put back into cells), so the server writes the cells out as a
minimal nbformat 4 notebook and hands it to the same path: the cells are joined exactly as the
CLI joins them, and a finding's ``cell`` (1-based, markup cells counted, as Jupyter counts
them) is the index of the LSP cell it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Languages whose cells are Python (the rest are written as cells of another language, which
# the notebook reader skips, as it skips a VS Code cell in another language).
PYTHON_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython2", "ipython3"})


@dataclass(frozen=True)
class Cell:
    uri: str
    code: bool  # a code cell (else markup)
    language: str  # the cell document's languageId
    source: str


def notebook_json(cells: Sequence[Cell], metadata: Mapping[str, Any] | None = None) -> bytes:
    """The cells as an nbformat 4 notebook. The notebook's metadata (its kernel's language) is
    kept, so a notebook whose kernel is not Python is skipped as the CLI skips it."""
    written = []
    for cell in cells:
        if not cell.code:
            written.append({"cell_type": "markdown", "metadata": {}, "source": cell.source})
            continue
        cell_metadata: dict[str, Any] = {}
        if cell.language and cell.language.lower() not in PYTHON_LANGUAGES:
            cell_metadata["vscode"] = {"languageId": cell.language}
        written.append(
            {"cell_type": "code", "execution_count": None, "metadata": cell_metadata, "outputs": [], "source": cell.source}
        )
    data = {
        "cells": written,
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
        "nbformat": 4,
        "nbformat_minor": 4,  # 4.5 would require cell ids, which LSP cells do not carry
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8", errors="replace")


def cell_uri(cells: Sequence[Cell], number: int | None) -> str | None:
    """The URI of cell ``number`` (1-based); a finding with no cell goes to the first code cell."""
    if number is not None and 1 <= number <= len(cells):
        return cells[number - 1].uri
    return next((c.uri for c in cells if c.code), cells[0].uri if cells else None)
