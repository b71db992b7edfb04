"""``losscheck server`` end to end: diagnostics on open, change and save, code actions, hover,
documents that change while linted, bad requests and a clean exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from lsp_support import (
    BATCH_MEAN,
    BUGGY,
    CLEAN,
    RawSession,
    apply_edits,
    codes,
    diagnostics,
    edits_for,
    open_document,
    replace_text,
    start,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from losscheck.lint.stdin import StdinFile


def lint_codes(path: str, text: str) -> list[str]:
    """What ``losscheck lint -`` finds in ``text``: the server must agree with it."""
    from losscheck.lint import config, runner

    the_plan = runner.plan(config.build_settings([path]), use_cache=False)
    return sorted(f.code for f in runner.run([], the_plan, use_cache=False, stdin=StdinFile(path, text.encode())).findings)


@pytest.mark.asyncio
async def test_open_publishes_the_findings_with_codes_ranges_and_docs(client: LanguageClient, tmp_path) -> None:
    result = await start(client, tmp_path)
    assert result.capabilities.code_action_provider is not None and result.capabilities.hover_provider
    uri = open_document(client, tmp_path / "losses.py", BUGGY)
    found = await diagnostics(client, uri, lambda d: bool(d))
    assert codes(found) == lint_codes(str(tmp_path / "losses.py"), BUGGY) == ["LCK102", "LCK102", "LCK302", "LCK302"]
    mean = next(d for d in found if d.code == "LCK302" and "mean" in d.message)
    # `K.mean` on line 6 (0-based 5), characters 11 to 17
    assert (mean.range.start.line, mean.range.start.character, mean.range.end.character) == (5, 11, 17)
    assert mean.source == "losscheck" and "[removed-keras-api]" in mean.message
    assert mean.code_description is not None and mean.code_description.href.endswith("/rules/removed-keras-api")
    assert mean.severity == types.DiagnosticSeverity.Error
    sample = next(d for d in found if d.code == "LCK102")
    assert (sample.range.start.line, sample.range.start.character) == (9, 43)


@pytest.mark.asyncio
async def test_change_updates_and_save_relints(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BUGGY)
    await diagnostics(client, uri, lambda d: bool(d))
    mark = len(client.published)
    replace_text(client, uri, CLEAN, 2)
    assert await diagnostics(client, uri, lambda d: True, after=mark) == []
    mark = len(client.published)
    replace_text(client, uri, BATCH_MEAN, 3)
    assert codes(await diagnostics(client, uri, lambda d: bool(d), after=mark)) == ["LCK101"]
    mark = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert codes(await diagnostics(client, uri, lambda d: True, after=mark)) == ["LCK101"]


@pytest.mark.asyncio
async def test_quickfix_applies_the_fix_and_the_result_relints_clean(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BUGGY)
    found = await diagnostics(client, uri, lambda d: bool(d))
    mean = next(d for d in found if d.code == "LCK302" and "mean" in d.message)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=mean.range,
            context=types.CodeActionContext(diagnostics=[mean], only=[types.CodeActionKind.QuickFix]),
        )
    )
    assert actions is not None
    fix = next(a for a in actions if isinstance(a, types.CodeAction) and a.title.startswith("Fix LCK302"))
    assert fix.is_preferred and "unsafe" not in fix.title
    fixed = apply_edits(BUGGY, edits_for(fix, uri))
    assert "keras.ops.mean(K.binary_crossentropy" in fixed
    assert lint_codes(str(tmp_path / "losses.py"), fixed).count("LCK302") == 1  # the other, unsafe one is left
    # an unsafe fix is offered too, marked, and not preferred
    sample = next(d for d in found if d.code == "LCK102")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(types.TextDocumentIdentifier(uri), sample.range, types.CodeActionContext([sample]))
    )
    unsafe = next(a for a in actions or [] if isinstance(a, types.CodeAction) and a.title.startswith("Fix LCK102"))
    assert "unsafe" in unsafe.title and not unsafe.is_preferred


@pytest.mark.asyncio
async def test_noqa_action_suppresses_the_finding(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BATCH_MEAN)
    (finding,) = await diagnostics(client, uri, lambda d: bool(d))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(types.TextDocumentIdentifier(uri), finding.range, types.CodeActionContext([finding]))
    )
    noqa = next(a for a in actions or [] if isinstance(a, types.CodeAction) and "noqa" in a.title)
    suppressed = apply_edits(BATCH_MEAN, edits_for(noqa, uri))
    assert "return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LCK101\n" in suppressed
    assert lint_codes(str(tmp_path / "losses.py"), suppressed) == []
    mark = len(client.published)
    replace_text(client, uri, suppressed, 2)
    assert await diagnostics(client, uri, lambda d: True, after=mark) == []


@pytest.mark.asyncio
async def test_fix_all_applies_every_safe_fix(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BUGGY)
    await diagnostics(client, uri, lambda d: bool(d))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri),
            types.Range(types.Position(0, 0), types.Position(0, 0)),
            types.CodeActionContext([], only=["source.fixAll.losscheck"]),
        )
    )
    (fix_all,) = [a for a in actions or [] if isinstance(a, types.CodeAction)]
    assert fix_all.kind == "source.fixAll.losscheck"
    fixed = apply_edits(BUGGY, edits_for(fix_all, uri))
    # the safe fix only: the unsafe ones (values change) stay findings
    assert lint_codes(str(tmp_path / "losses.py"), fixed) == ["LCK102", "LCK102", "LCK302"]
    assert "keras.ops.mean(" in fixed and "y_true[0]" in fixed


@pytest.mark.asyncio
async def test_hover_shows_the_rules_page(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    uri = open_document(client, tmp_path / "losses.py", BATCH_MEAN)
    (finding,) = await diagnostics(client, uri, lambda d: bool(d))
    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(4, 20))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert "**LCK101** `batch-mean-reduction`" in text
    assert "## Why is this bad?" in text and "# batch-mean-reduction (LCK101)" in text  # `losscheck explain`'s page
    assert hover.range == finding.range
    nothing = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
    )
    assert nothing is None


@pytest.mark.asyncio
async def test_document_changed_while_linted_publishes_the_last_version_only(client: LanguageClient, tmp_path) -> None:
    await start(client, tmp_path)
    big = BUGGY + "".join(f"\n\ndef loss_{i}(y_true, y_pred):\n    return y_pred[0] - y_true[0]\n" for i in range(60))
    uri = open_document(client, tmp_path / "losses.py", big)
    # new versions arrive while version 1 is being linted, the last one clean
    for version in range(2, 8):
        await asyncio.sleep(0.01)
        replace_text(client, uri, big + f"\n# edit {version}\n", version)
    replace_text(client, uri, CLEAN, 8)
    assert await diagnostics(client, uri, lambda d: d == []) == []
    await asyncio.sleep(0.5)  # anything still in flight would arrive now
    published = [p for p in client.published if p.uri == uri]
    versions = [p.version for p in published]
    assert versions[-1] == 8 and list(client.diagnostics[uri]) == []
    assert versions == sorted(versions)  # never an older version after a newer one
    assert len(versions) < 8  # the debounce let the quick edits through without a lint each
    # what was published for a version is that version's findings (1-7 buggy, 8 clean)
    assert all((p.version == 8) == (list(p.diagnostics) == []) for p in published)


def test_bad_requests_get_errors_and_the_server_carries_on(tmp_path) -> None:
    session = RawSession(tmp_path)
    try:
        assert "capabilities" in session.initialize()["result"]
        # parameters of the wrong shape, an unknown method, a request without parameters
        session.send({"id": 1, "method": "textDocument/hover", "params": {"textDocument": 7}})
        assert session.response(1)["error"]["code"] in (-32602, -32603)
        session.send({"id": 2, "method": "losscheck/noSuchMethod", "params": {}})
        assert session.response(2)["error"]["code"] == -32601
        session.send({"id": 3, "method": "textDocument/codeAction"})
        assert "error" in session.response(3)
        session.send_bytes(b"{this is not json")
        assert session.receive()["error"]["code"] == -32700  # a parse error, with no id to answer
        session.send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": 3}}})  # a bad notification
        # half-typed code and a hostile nesting depth: diagnostics, not a crash
        for name, text in (
            ("typing.py", "def loss(y_true, y_pred:\n    return tf.reduce_mean(\n"),
            ("deep.py", "def loss(y_true, y_pred):\n    return " + "(" * 3000 + "y_pred" + ")" * 3000 + "\n"),
            ("ok.py", BATCH_MEAN),
        ):
            uri = (tmp_path / name).as_uri()
            session.send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}})
            while True:
                message = session.receive()
                if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                    break
            found = [d["code"] for d in message["params"]["diagnostics"]]
            expected = {"typing.py": ["LCK999"], "ok.py": ["LCK101"]}.get(name)
            assert found == expected if expected else found and set(found) <= {"LCK996", "LCK999"}
        # still answering requests
        session.send({"id": 4, "method": "textDocument/hover", "params": {"textDocument": {"uri": (tmp_path / "ok.py").as_uri()}, "position": {"line": 4, "character": 20}}})
        assert "LCK101" in session.response(4)["result"]["contents"]["value"]
        session.send({"id": 5, "method": "shutdown"})
        assert session.response(5)["result"] is None
        session.send({"method": "exit"})
        assert session.process.wait(timeout=30) == 0
    finally:
        session.close()


def test_exit_without_shutdown_ends_with_code_1(tmp_path) -> None:
    session = RawSession(tmp_path)
    try:
        session.initialize()
        session.send({"method": "exit"})
        assert session.process.wait(timeout=30) == 1  # the protocol's code for an exit not preceded by shutdown
    finally:
        session.close()


def test_without_pygls_the_command_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['pygls'] = None; from losscheck.cli import main; sys.exit(main(['server']))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ['losscheck: error: the language server needs pygls: pip install "losscheck[server]"']
