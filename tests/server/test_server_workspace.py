"""``losscheck server`` with a project: ``[tool.losscheck]`` and per-file ignores honoured and
reloaded when they change, and notebook documents linted as the CLI lints notebooks."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from lsp_support import BATCH_MEAN, codes, diagnostics, open_document, start
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio


def write_config(root, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'demo'\n\n[tool.losscheck]\n{body}\n", encoding="utf-8")


async def test_config_and_per_file_ignores_are_honoured_and_reloaded(client: LanguageClient, tmp_path) -> None:
    write_config(tmp_path, 'per-file-ignores = { "legacy/*.py" = ["batch-mean-reduction"] }')
    (tmp_path / "legacy").mkdir()
    await start(client, tmp_path, watched_files=True)
    legacy = open_document(client, tmp_path / "legacy" / "old.py", BATCH_MEAN)
    fresh = open_document(client, tmp_path / "new.py", BATCH_MEAN)
    assert await diagnostics(client, legacy) == []
    assert codes(await diagnostics(client, fresh, lambda d: bool(d))) == ["LCK101"]
    (watch,) = client.registrations
    assert watch.method == "workspace/didChangeWatchedFiles"

    # the config changes on disk: the client's file watcher says so
    write_config(tmp_path, 'ignore = ["LCK101"]')
    mark = len(client.published)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams([types.FileEvent((tmp_path / "pyproject.toml").as_uri(), types.FileChangeType.Changed)])
    )
    assert await diagnostics(client, fresh, lambda d: True, after=mark) == []

    # saved in the editor (no watcher event): read again too
    write_config(tmp_path, "")
    mark = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier((tmp_path / "pyproject.toml").as_uri())))
    assert codes(await diagnostics(client, legacy, lambda d: True, after=mark)) == ["LCK101"]


async def test_a_broken_config_is_reported_and_the_documents_still_linted(client: LanguageClient, tmp_path) -> None:
    write_config(tmp_path, 'select = ["LCK1"]\nno-such-key = 1')
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BATCH_MEAN)
    assert codes(await diagnostics(client, uri, lambda d: bool(d))) == ["LCK101"]
    shown = [m.message for m in client.messages]
    assert any("no-such-key" in m and "pyproject.toml" in m for m in shown), shown


NOTEBOOK_CELLS = [
    (types.NotebookCellKind.Markup, "markdown", "# Training\n"),
    (types.NotebookCellKind.Code, "python", "%matplotlib inline\nimport tensorflow as tf\n"),
    (types.NotebookCellKind.Code, "python", "def seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"),
]


def open_notebook(client: LanguageClient, path) -> tuple[str, list[str]]:
    uri = path.as_uri()
    cell_uris = [f"{uri}#cell{i}" for i in range(len(NOTEBOOK_CELLS))]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=uri,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[types.NotebookCell(kind=k, document=c) for (k, _, _), c in zip(NOTEBOOK_CELLS, cell_uris)],
            ),
            cell_text_documents=[
                types.TextDocumentItem(uri=c, language_id=lang, version=1, text=text)
                for (_, lang, text), c in zip(NOTEBOOK_CELLS, cell_uris)
            ],
        )
    )
    return uri, cell_uris


async def test_notebook_documents_get_diagnostics_in_the_right_cell(client: LanguageClient, tmp_path) -> None:
    result = await start(client, tmp_path, notebooks=True)
    assert result.capabilities.notebook_document_sync is not None
    uri, cells = open_notebook(client, tmp_path / "train.ipynb")
    found = await diagnostics(client, cells[2], lambda d: bool(d))
    assert codes(found) == ["LCK101"]
    assert (found[0].range.start.line, found[0].range.start.character) == (1, 11)  # line 2 of the cell
    assert await diagnostics(client, cells[1]) == []  # the magic is masked, as the CLI masks it

    # the CLI says the same of the same notebook: cell 3, line 2, column 12
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": NOTEBOOK_CELLS[0][2]},
            *({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text} for _, _, text in NOTEBOOK_CELLS[1:]),
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 4,
    }
    (tmp_path / "train.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "losscheck", "lint", "--format", "json", "--no-cache", str(tmp_path / "train.ipynb"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert [(f["code"], f["cell"], f["line"], f["column"]) for f in json.loads(out)] == [("LCK101", 3, 2, 12)]

    # a cell edited to reduce per example: the finding goes away
    mark = len(client.published)
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=2, uri=uri),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                            changes=[
                                types.TextDocumentContentChangePartial(
                                    range=types.Range(types.Position(1, 52), types.Position(1, 52)), text=", axis=-1"
                                )
                            ],
                        )
                    ]
                )
            ),
        )
    )
    assert await diagnostics(client, cells[2], lambda d: True, after=mark) == []

    # a code action on the cell: the noqa lands in the cell
    mark = len(client.published)
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=3, uri=uri),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(uri=cells[2], version=3),
                            changes=[types.TextDocumentContentChangeWholeDocument(text=NOTEBOOK_CELLS[2][2])],
                        )
                    ]
                )
            ),
        )
    )
    (finding,) = await diagnostics(client, cells[2], lambda d: bool(d), after=mark)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(types.TextDocumentIdentifier(cells[2]), finding.range, types.CodeActionContext([finding]))
    )
    noqa = next(a for a in actions or [] if isinstance(a, types.CodeAction) and "noqa" in a.title)
    assert noqa.edit is not None and list(noqa.edit.changes or {}) == [cells[2]]
    (edit,) = noqa.edit.changes[cells[2]]
    assert edit.range.start.line == 1 and edit.new_text == "  # noqa: LCK101"


HYBRID = "from .terms import focal_term\n\n\ndef hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n"
TERMS_REDUCED = "import tensorflow as tf\n\n\ndef focal_term(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
TERMS_PER_EXAMPLE = TERMS_REDUCED.replace("y_pred))\n", "y_pred), axis=-1)\n")


async def test_saving_another_module_lints_the_open_documents_again(client: LanguageClient, tmp_path) -> None:
    """A loss is judged by the helpers it imports from other modules of the project: when one of
    them is saved, the open documents are linted again with its new text."""
    write_config(tmp_path, "")
    (tmp_path / "losses").mkdir()
    (tmp_path / "losses" / "__init__.py").write_text("")
    terms = tmp_path / "losses" / "terms.py"
    terms.write_text(TERMS_PER_EXAMPLE)
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses" / "hybrid.py", HYBRID)
    assert await diagnostics(client, uri) == []

    terms.write_text(TERMS_REDUCED)  # the helper now reduces over the batch, saved by the editor
    mark = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(terms.as_uri())))
    assert codes(await diagnostics(client, uri, lambda d: bool(d), after=mark)) == ["LCK101"]
