"""Shared by the language server tests: a test client that records every diagnostics
notification with its version, waiting for diagnostics, and applying text edits."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

# A short debounce keeps the tests fast; the default (150 ms) is what editors get.
SERVER_COMMAND = [sys.executable, "-m", "losscheck", "server", "--debounce-ms", "30"]
TIMEOUT = 30.0  # seconds: generous for a loaded machine; a passing test takes far less

BUGGY = '''import keras
import keras.backend as K


def keras2_bce(y_true, y_pred):
    return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


def first_output_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true[0] - y_pred[0]), axis=-1)
'''
CLEAN = '''import keras


def mse(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
'''
BATCH_MEAN = '''import tensorflow as tf


def seg_loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))
'''


def make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every ``publishDiagnostics`` in ``client.published`` and
    accepting the server's ``client/registerCapability`` (kept in ``client.registrations``)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]

    def publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.append(params)  # type: ignore[attr-defined]

    client.registrations = []  # type: ignore[attr-defined]

    def register_capability(ls: LanguageClient, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    register_lsp_features(
        client,
        {
            **DEFAULT_CLIENT_FEATURES,
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
            types.CLIENT_REGISTER_CAPABILITY: register_capability,
        },
    )
    return client


def capabilities(*, notebooks: bool = False, watched_files: bool = False) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=watched_files),
        ),
        text_document=types.TextDocumentClientCapabilities(
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            code_action=types.CodeActionClientCapabilities(),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
        ),
        notebook_document=types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        ) if notebooks else None,
    )


async def start(client: LanguageClient, root: Path, **caps: bool) -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(**caps),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        )
    )


async def diagnostics(
    client: LanguageClient,
    uri: str,
    until: Callable[[Sequence[types.Diagnostic]], bool] = lambda d: True,
    after: int = 0,
) -> Sequence[types.Diagnostic]:
    """The first diagnostics published for ``uri`` (the ``after``-th notification on) that
    satisfy ``until``; fails after ``TIMEOUT`` seconds."""
    published: list[types.PublishDiagnosticsParams] = client.published  # type: ignore[attr-defined]

    async def poll() -> Sequence[types.Diagnostic]:
        seen = after
        while True:
            for params in published[seen:]:
                if params.uri == uri and until(list(params.diagnostics)):
                    return list(params.diagnostics)
            seen = len(published)
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(poll(), TIMEOUT)


def codes(diags: Sequence[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diags)


def open_document(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text))
    )
    return uri


def replace_text(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def apply_edits(text: str, edits: Sequence[types.TextEdit]) -> str:
    """``edits`` applied to ``text`` (ASCII text: UTF-16 units are characters)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: types.Position) -> int:
        if position.line >= len(starts):
            return len(text)
        return min(starts[position.line] + position.character, len(text))

    out = text
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        out = out[: offset(edit.range.start)] + edit.new_text + out[offset(edit.range.end) :]
    return out


def edits_for(action: types.CodeAction, uri: str) -> list[types.TextEdit]:
    edit = action.edit
    assert edit is not None
    if edit.document_changes:
        return [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    return list((edit.changes or {}).get(uri, []))


class RawSession:
    """The server process spoken to in raw JSON-RPC frames: for messages no well-behaved client
    sends (malformed parameters, broken JSON) and for watching the process end. A thread reads
    the frames, so that a silent server fails the test after ``TIMEOUT`` instead of hanging it."""

    def __init__(self, root: Path) -> None:
        import queue
        import subprocess
        import threading

        self.process = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root)
        self.root = root
        self.frames: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import json

        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.frames.put(None)
                    return
                if line.strip() == b"" and length is not None:
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.frames.put(json.loads(stream.read(length)))

    def send_bytes(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def send(self, message: dict) -> None:
        import json

        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8"))

    def receive(self) -> dict:
        frame = self.frames.get(timeout=TIMEOUT)
        if frame is None:
            raise EOFError("the server closed its output")
        return frame

    def response(self, request_id: object) -> dict:
        """The response to ``request_id``, skipping notifications."""
        while True:
            message = self.receive()
            if message.get("id") == request_id and "method" not in message:
                return message

    def initialize(self) -> dict:
        self.send({"id": 0, "method": "initialize", "params": {"processId": None, "rootUri": self.root.as_uri(), "capabilities": {}}})
        answer = self.response(0)
        self.send({"method": "initialized", "params": {}})
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
