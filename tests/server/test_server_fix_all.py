"""Fix-all (``source.fixAll.losscheck``) as the server builds it: the safe fixes of
``losscheck lint --fix``, for a Python buffer and for a notebook's cells."""

from __future__ import annotations

from lsp_support import BUGGY, apply_edits
from pygls.workspace.position_codec import PositionCodec

from losscheck.server.documents import Linter, Snapshot
from losscheck.server.features import fix_all_action
from losscheck.server.notebooks import Cell, notebook_json
from losscheck.server.projects import Projects, ServerOptions

KERAS2_CELL = "def keras2_mse(y_true, y_pred):\n    return K.mean(K.square(y_true - y_pred), axis=-1)\n"


def test_fix_all_in_a_buffer_keeps_the_unsafe_findings(tmp_path) -> None:
    linter = Linter(Projects(ServerOptions(isolated=True)))
    path = tmp_path / "losses.py"
    snapshot = Snapshot(path.as_uri(), str(path), 3, BUGGY.encode())
    fixed = linter.fix_all(snapshot)
    assert fixed is not None
    action = fix_all_action(snapshot, fixed, PositionCodec())
    assert action.kind == "source.fixAll.losscheck" and action.edit is not None
    (change,) = action.edit.document_changes
    assert change.text_document.version == 3  # the edit applies to the version it was made for
    after = apply_edits(BUGGY, change.edits)
    assert after == fixed.decode() and "keras.ops.mean(K.binary_crossentropy" in after
    again = linter.lint(Snapshot(path.as_uri(), str(path), 4, after.encode()))
    assert sorted(f.code for f in again) == ["LCK102", "LCK102", "LCK302"]  # unsafe fixes are not applied
    assert linter.fix_all(Snapshot(path.as_uri(), str(path), 4, after.encode())) is None  # nothing safe is left


def test_fix_all_in_a_notebook_edits_only_the_cells_it_fixes(tmp_path) -> None:
    linter = Linter(Projects(ServerOptions(isolated=True)))
    path = tmp_path / "train.ipynb"
    uri = path.as_uri()
    cells = (
        Cell(f"{uri}#c0", False, "markdown", "# Losses\n"),
        Cell(f"{uri}#c1", True, "python", "import keras\nimport keras.backend as K\n"),
        Cell(f"{uri}#c2", True, "python", KERAS2_CELL),
    )
    snapshot = Snapshot(uri, str(path), 1, notebook_json(cells), cells)
    findings = linter.lint(snapshot)
    assert [(f.code, f.cell, f.line) for f in findings] == [("LCK302", 3, 2), ("LCK302", 3, 2)]
    fixed = linter.fix_all(snapshot)
    assert fixed is not None
    action = fix_all_action(snapshot, fixed, PositionCodec())
    assert action.edit is not None and list(action.edit.changes or {}) == [f"{uri}#c2"]
    new_cell = apply_edits(KERAS2_CELL, action.edit.changes[f"{uri}#c2"])
    assert "keras.ops.mean(" in new_cell and "K.square" not in new_cell
