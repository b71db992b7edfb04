"""The LSP methods the server answers, registered on a :class:`LosscheckServer`.

Code actions for a finding: its fix as a quickfix (a safe fix is the preferred action; an
unsafe one, which changes the loss's values, says so in its title), and adding its code to a
``# noqa`` on its line. For the whole document: ``source.fixAll.losscheck`` applies every safe
fix as ``losscheck lint --fix`` does (re-linting between passes).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from lsprotocol import types

from losscheck.lint.finding import Finding
from losscheck.server import convert
from losscheck.server.documents import Snapshot
from losscheck.server.projects import CONFIG_NAMES
from losscheck.server.server import FIX_ALL_KIND, WATCHED_GLOBS, LosscheckServer

QUICKFIX = types.CodeActionKind.QuickFix.value
log = logging.getLogger(__name__)


def register(server: LosscheckServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: LosscheckServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounceMs"), (int, float)):
            ls.debounce = max(0.0, float(options["debounceMs"]) / 1000)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LosscheckServer, params: types.InitializedParams) -> None:
        watched = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if not (watched and watched.dynamic_registration):
            return  # saves of the config in the editor still reload it
        registration = types.Registration(
            id="losscheck-watched-files",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                watchers=[types.FileSystemWatcher(glob_pattern=g) for g in WATCHED_GLOBS]
            ),
        )
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
        except Exception as exc:  # noqa: BLE001 - a client that refuses still gets reloads on save
            log.info("the client did not register the file watchers: %s", exc)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LosscheckServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LosscheckServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: LosscheckServer, params: types.DidSaveTextDocumentParams) -> None:
        path = convert_path(params.text_document.uri)
        if path is not None and (os.path.basename(path) in CONFIG_NAMES or ls.projects.watches(path)):
            await ls.reload()
        elif path is not None and path.endswith((".py", ".ipynb")):
            # other modules' helpers, uses and Keras evidence are read from disk: read them again,
            # and lint again every open document, which may depend on the saved one
            ls.forget_disk_reads()
            for uri in list(ls.workspace.text_documents):
                ls.schedule(ls.target_of(uri))
        elif params.text_document.uri in ls.workspace.text_documents:
            ls.schedule(ls.target_of(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LosscheckServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)
        ls._send(params.text_document.uri, None, [])

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: LosscheckServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: LosscheckServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, ls.debounce)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: LosscheckServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: LosscheckServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.close(params.notebook_document.uri)
        for cell in ls.published_cells.pop(params.notebook_document.uri, set()):
            ls._send(cell, None, [])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: LosscheckServer, params: types.DidChangeWatchedFilesParams) -> None:
        paths = [convert_path(change.uri) for change in params.changes]
        if any(p is not None and ls.projects.watches(p) for p in paths):
            await ls.reload()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=False),
    )
    async def code_action(ls: LosscheckServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        snapshot = ls.snapshot(ls.target_of(uri))
        if snapshot is None:
            return []
        findings = await ls.on_worker(ls.linter.lint, snapshot)
        lines = convert.lines_of(cell_text(snapshot, uri))
        codec = ls.codec
        start = codec.position_from_client_units(lines, params.range.start)
        end = codec.position_from_client_units(lines, params.range.end)
        here = [
            f for f in findings_in(snapshot, uri, findings)
            if convert.overlaps(f, (start.line, start.character), (end.line, end.character))
        ]
        actions: list[types.CodeAction] = []
        if wanted(params, QUICKFIX):
            for f in here:
                actions.extend(quick_fixes(f, uri, lines, codec, snapshot.version if not snapshot.cells else None))
        if wanted(params, FIX_ALL_KIND):
            fixed = await ls.on_worker(ls.linter.fix_all, snapshot)
            if fixed is not None:
                actions.append(fix_all_action(snapshot, fixed, codec))
        return actions

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LosscheckServer, params: types.HoverParams) -> types.Hover | None:
        from losscheck.lint.cli import _all_rules, explain_text

        uri = params.text_document.uri
        snapshot = ls.snapshot(ls.target_of(uri))
        if snapshot is None:
            return None
        findings = await ls.on_worker(ls.linter.lint, snapshot)
        lines = convert.lines_of(cell_text(snapshot, uri))
        at = ls.codec.position_from_client_units(lines, params.position)
        under = [f for f in findings_in(snapshot, uri, findings) if convert.covers(f, at.line, at.character)]
        if not under:
            return None
        if ls.explain_rules is None:  # the rules' pages, plugins' included: read once
            ls.explain_rules = _all_rules()[0]
        pages = {f.code: explain_text(f.code, ls.explain_rules) for f in under}
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=convert.hover_markdown(under, pages)),
            range=convert.finding_range(under[0], lines, ls.codec),
        )

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LosscheckServer, params: Any) -> None:
        for task in ls.pending.values():
            task.cancel()
        ls.worker.shutdown(wait=False, cancel_futures=True)


def convert_path(uri: str) -> str | None:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return os.path.normpath(unquote(parsed.path)) if parsed.scheme == "file" else None


def wanted(params: types.CodeActionParams, kind: str) -> bool:
    """Did the client ask for actions of ``kind`` (all kinds when it names none)?"""
    only = params.context.only
    if not only:
        return True
    return any(kind == k or kind.startswith(f"{k}.") for k in (str(getattr(k, "value", k)) for k in only))


def cell_text(snapshot: Snapshot, uri: str) -> str:
    """The text of ``uri``: a cell of the notebook, or the document itself."""
    for cell in snapshot.cells:
        if cell.uri == uri:
            return cell.source
    return snapshot.data.decode("utf-8") if not snapshot.cells else ""


def findings_in(snapshot: Snapshot, uri: str, findings: list[Finding]) -> list[Finding]:
    if not snapshot.cells:
        return findings
    from losscheck.server.notebooks import cell_uri

    return [f for f in findings if cell_uri(snapshot.cells, f.cell) == uri]


def quick_fixes(f: Finding, uri: str, lines: list[str], codec: Any, version: int | None) -> list[types.CodeAction]:
    diagnostic = convert.diagnostic(f, lines, codec)
    actions = []
    if f.fix is not None and f.fix.edits:
        title = f"Fix {f.code}: {f.fix.description}" + ("" if f.fix.safe else " (unsafe: changes the loss's values)")
        actions.append(
            types.CodeAction(
                title=title,
                kind=QUICKFIX,
                diagnostics=[diagnostic],
                is_preferred=f.fix.safe,
                edit=workspace_edit(uri, version, convert.text_edits(f.fix.edits, lines, codec)),
            )
        )
    noqa = convert.noqa_edit(f, lines, codec)
    if noqa is not None:
        actions.append(
            types.CodeAction(
                title=f"Suppress {f.code} with `# noqa: {f.code}`",
                kind=QUICKFIX,
                diagnostics=[diagnostic],
                edit=workspace_edit(uri, version, [noqa]),
            )
        )
    return actions


def fix_all_action(snapshot: Snapshot, fixed: bytes, codec: Any) -> types.CodeAction:
    from losscheck.lint.decoding import decode

    if not snapshot.cells:
        old = snapshot.data.decode("utf-8")
        edit = workspace_edit(snapshot.uri, snapshot.version, [convert.whole_text_edit(old, decode(fixed), codec)])
    else:
        from losscheck.lint.notebook import cell_sources

        sources = cell_sources(fixed.decode("utf-8"))
        changes: dict[str, list[types.TextEdit]] = {}
        for number, cell in enumerate(snapshot.cells, 1):
            new = sources.get(number)
            if cell.code and new is not None and new != cell.source:
                changes[cell.uri] = [convert.whole_text_edit(cell.source, new, codec)]
        edit = types.WorkspaceEdit(changes=changes)
    return types.CodeAction(title="Fix all safe losscheck findings", kind=FIX_ALL_KIND, edit=edit)


def workspace_edit(uri: str, version: int | None, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    if version is None:
        return types.WorkspaceEdit(changes={uri: edits})
    document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)])
