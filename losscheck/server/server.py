"""The language server: document sync, debounced linting, code actions, hover, config reloads.

Linting runs on one worker thread, off the event loop, so the server keeps reading messages
(a newer version, a cancellation, a shutdown) while a lint is under way. A lint publishes its
diagnostics only if the document is still at the version it linted: a document that changed
meanwhile has a newer lint scheduled, and its old findings are never shown. Opening and saving
lint at once, typing after ``debounce`` seconds of quiet.

Code actions and hover lint the document's current text (a hash lookup when the diagnostics
are up to date: ``documents.Linter`` keeps each document's last result), so their ranges
always match the text the editor has.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from losscheck import __version__
from losscheck.lint.finding import Finding
from losscheck.server import convert
from losscheck.server.documents import Linter, Snapshot, path_of
from losscheck.server.notebooks import Cell, cell_uri, notebook_json
from losscheck.server.projects import Projects, ServerOptions
from losscheck.server.protocol import Protocol, report_bad_message

FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.losscheck"
DEBOUNCE_SECONDS = 0.15
PYTHON_LANGUAGES = ("python", "python3", "ipython")
WATCHED_GLOBS = ("**/pyproject.toml", "**/losscheck.toml", "**/requirements*.txt", "**/setup.cfg", "**/*.json")
log = logging.getLogger(__name__)
_T = TypeVar("_T")


class LosscheckServer(LanguageServer):
    def __init__(self, options: ServerOptions, debounce: float = DEBOUNCE_SECONDS) -> None:
        super().__init__(
            "losscheck",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[types.NotebookCellLanguage(language="python")]
                    )
                ],
                save=True,
            ),
            protocol_cls=Protocol,
        )
        self.debounce = debounce
        self.projects = Projects(options, on_error=self._report_from_worker)
        self.linter = Linter(self.projects)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="losscheck-lint")
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.published_cells: dict[str, set[str]] = {}  # notebook uri -> cells given diagnostics
        self.loop: asyncio.AbstractEventLoop | None = None
        self.explain_rules: list[Any] | None = None  # what hover shows: `losscheck explain`'s pages

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A message that could not be read was answered with an error (``protocol.py``); it is
        not worth a pop-up in the editor. Other errors are shown as pygls shows them."""
        if isinstance(error, (JsonRpcException, json.JSONDecodeError)) or isinstance(error.__cause__, JsonRpcException):
            report_bad_message(self.protocol, error)
            return
        super().report_server_error(error, source)

    # -- running lints ---------------------------------------------------------------------

    async def on_worker(self, function: Callable[..., _T], *args: Any) -> _T:
        self.loop = asyncio.get_running_loop()
        return await self.loop.run_in_executor(self.worker, function, *args)

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        """Lint the document (or notebook) at ``uri`` after ``delay`` seconds; a lint scheduled
        earlier and not started yet is replaced."""
        previous = self.pending.pop(uri, None)
        if previous is not None and not previous.done():
            previous.cancel()
        self.pending[uri] = asyncio.ensure_future(self._lint_later(uri, delay))

    async def _lint_later(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        snapshot = self.snapshot(uri)
        if snapshot is None:
            return
        try:
            findings = await self.on_worker(self.linter.lint, snapshot)
        except Exception as exc:
            log.exception("lint failed")
            self.window_log_message(types.LogMessageParams(types.MessageType.Error, f"losscheck: {uri}: {exc}"))
            return
        if self.version_of(uri) != snapshot.version:
            return  # changed while it was linted: the newer version's lint publishes
        self.publish(snapshot, findings)

    def version_of(self, uri: str) -> int | None:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            return notebook.version
        document = self.workspace.text_documents.get(uri)
        return document.version if document is not None else None

    def snapshot(self, uri: str) -> Snapshot | None:
        """The current text of a Python document, or of a notebook as notebook JSON; None for a
        document that is closed or is not Python."""
        root = self.workspace.root_path
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            cells = []
            for cell in notebook.cells:
                document = self.workspace.text_documents.get(cell.document)
                cells.append(
                    Cell(
                        uri=cell.document,
                        code=cell.kind == types.NotebookCellKind.Code,
                        language=(document.language_id or "python") if document is not None else "python",
                        source=document.source if document is not None else "",
                    )
                )
            data = notebook_json(cells, notebook.metadata if isinstance(notebook.metadata, dict) else None)
            return Snapshot(uri, path_of(uri, root, notebook=True), notebook.version, data, tuple(cells))
        document = self.workspace.text_documents.get(uri)
        if document is None:
            return None
        path = path_of(uri, root)
        if (document.language_id or "python") not in PYTHON_LANGUAGES and not path.endswith((".py", ".pyi")):
            return None
        # errors="replace": a lone surrogate from the client must not stop the server
        return Snapshot(uri, path, document.version, document.source.encode("utf-8", errors="replace"))

    def forget_disk_reads(self) -> None:
        """A file on disk changed: what the lints read from other files (helpers of other
        modules, their uses, the project's Keras) and the documents' last results are stale.
        On the worker, in order with the lints it runs."""
        from losscheck.lint.project import forget_reads

        def forget() -> None:
            forget_reads()
            self.linter.forget_all()

        self.worker.submit(forget)

    def target_of(self, uri: str) -> str:
        """The document a lint is about: a cell's notebook, else the document itself."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else uri

    # -- publishing ------------------------------------------------------------------------

    def publish(self, snapshot: Snapshot, findings: list[Finding]) -> None:
        if not snapshot.cells:
            lines = convert.lines_of(snapshot.data.decode("utf-8"))
            diagnostics = [convert.diagnostic(f, lines, self.codec) for f in findings]
            self._send(snapshot.uri, snapshot.version, diagnostics)
            return
        by_cell: dict[str, list[Finding]] = {c.uri: [] for c in snapshot.cells}
        for f in findings:
            uri = cell_uri(snapshot.cells, f.cell)
            if uri is not None:
                by_cell[uri].append(f)
        for cell in snapshot.cells:
            lines = convert.lines_of(cell.source)
            self._send(cell.uri, None, [convert.diagnostic(f, lines, self.codec) for f in by_cell[cell.uri]])
        for gone in self.published_cells.get(snapshot.uri, set()) - set(by_cell):
            self._send(gone, None, [])
        self.published_cells[snapshot.uri] = set(by_cell)

    def _send(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    @property
    def codec(self) -> Any:
        return self.workspace.position_codec

    def _report_from_worker(self, message: str) -> None:
        """A config error, found on the lint thread: shown from the event loop."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(
                self.window_show_message, types.ShowMessageParams(types.MessageType.Error, message)
            )

    # -- configuration ---------------------------------------------------------------------

    async def reload(self) -> None:
        """Read the configs and layouts again and lint every open document with them."""
        await self.on_worker(self.projects.invalidate)
        for uri in self.open_targets():
            self.schedule(uri)

    def open_targets(self) -> list[str]:
        cells = {c.document for nb in self.workspace.notebook_documents.values() for c in nb.cells}
        documents = [uri for uri in self.workspace.text_documents if uri not in cells]
        return [*self.workspace.notebook_documents, *documents]

    def close(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.worker.submit(self.linter.forget, uri)


def create_server(options: ServerOptions | None = None, debounce: float = DEBOUNCE_SECONDS) -> LosscheckServer:
    from losscheck.server import features

    server = LosscheckServer(options or ServerOptions(), debounce)
    features.register(server)
    return server


def serve(options: ServerOptions, debounce: float = DEBOUNCE_SECONDS) -> int:
    """Serve on standard input and output until the client says ``exit``."""
    import sys

    stdin, stdout = sys.stdin.buffer, sys.__stdout__.buffer  # type: ignore[union-attr]
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol stream
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    server = create_server(options, debounce)
    server.start_io(stdin, stdout)
    # LSP: exit code 0 after a shutdown request, 1 for an exit (or a closed input) without one
    return 0 if server.protocol._shutdown else 1
