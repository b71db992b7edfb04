"""Lint one file: decode -> parse -> facts -> rules -> suppressions -> findings.

Pipeline position: discover -> prefilter -> **engine** -> cache -> reporters.

Nothing here stops a run: bad syntax becomes LCK999, undecodable bytes LCK998, a crashing
rule LCK997 naming the rule (its other findings for the file are dropped, other rules run).
libcst is imported on first parse only, so files the pre-filter rejects never pay for it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from losscheck.lint import chunks, diagnostics, suppress
from losscheck.lint.finding import Finding

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext
    from losscheck.lint.rule import Rule


def decode(data: bytes) -> str:
    """Decode like Python does (BOM, PEP 263 coding line, else UTF-8). Raises ValueError."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from exc


def run_rules(ctx: FileContext, rules: Sequence[type[Rule]]) -> list[Finding]:
    """Run each rule; a rule that raises becomes one LCK997 finding and loses its other findings."""
    for rule_cls in rules:
        if getattr(rule_cls, "after_suppressions", False):
            continue  # runs once the suppressions are known (LCK901)
        before = len(ctx.findings)
        try:
            produced = rule_cls().check(ctx)
            if produced is not None:
                for finding in produced:
                    if finding not in ctx.findings:
                        ctx.findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - a rule bug must not stop the run
            del ctx.findings[before:]
            ctx.findings.append(
                diagnostics.make(
                    diagnostics.INTERNAL_ERROR,
                    ctx.path,
                    f"rule {rule_cls.code} ({rule_cls.name}) crashed: {type(exc).__name__}: {exc}",
                )
            )
    unique: list[Finding] = []
    for finding in ctx.findings:
        if finding not in unique:
            unique.append(finding)
    return unique


def _syntax_error(path: str, exc: Exception, source: str | None = None) -> Finding:
    if source is not None:
        # CPython's own parser pinpoints the error better than libcst's; ask it first
        # (only bad files pay for this second parse).
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as py_exc:
            line = py_exc.lineno or 1
            column = py_exc.offset or 1
            return diagnostics.make(diagnostics.SYNTAX_ERROR, path, f"syntax error: {py_exc.msg}", line, column)
        except (ValueError, RecursionError, MemoryError, OverflowError):
            pass
    line = int(getattr(exc, "raw_line", 1) or 1)
    column = int(getattr(exc, "raw_column", 0) or 0) + 1
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    return diagnostics.make(diagnostics.SYNTAX_ERROR, path, f"syntax error: {message}", line, column)


def lint_source(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Lint ``source``; returns findings sorted by position, suppressions applied.

    ``options`` reaches rules as ``ctx.options``; the engine itself reads ``known_rules``
    (every rule that exists, for LCK901's "not enabled" vs "unknown" distinction).
    """
    options = dict(options or {})
    directives = suppress.parse_directives(source)
    file_ignores = suppress.file_level(directives)
    if any(d.entries is None for d in file_ignores):
        return []  # `# losscheck: ignore-file`: the file is not checked at all
    if file_ignores:  # `ignore-file[...]`: those rules do not run here
        dropped = {e.upper() for d in file_ignores for e in d.entries or ()} | {
            e.lower() for d in file_ignores for e in d.entries or ()
        }
        rules = [r for r in rules if r.code not in dropped and r.name not in dropped]

    import libcst as cst  # lazily: 0.25 s of import that pre-filtered files never pay

    from losscheck.lint import astutil
    from losscheck.lint.context import FileContext

    pieces = None
    if len(source) > chunks.CHUNK_THRESHOLD:
        pieces = chunks.chunks(source)
    if pieces is not None:
        # a very large file: one piece at a time, so only one piece's tree is alive (chunks.py)
        findings = _lint_chunks(source, path, pieces, rules, options)
        if any(f.code == diagnostics.SYNTAX_ERROR.code for f in findings):
            return findings
        # what LCK901 needs below: the whole file's text, no tree
        ctx = FileContext(path=path, source=source, module=cst.Module(body=[]), options=options)
    else:
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError as exc:
            return [_syntax_error(path, exc, source)]
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:
            return [_syntax_error(path, exc)]
        ctx = FileContext(path=path, source=source, module=module, options=options)
        findings = run_rules(ctx, rules)
        astutil.forget()  # the per-file memos hold the tree: let it go with the file
    findings = suppress.apply(findings, directives)
    for rule_cls in rules:
        if getattr(rule_cls, "after_suppressions", False):
            try:
                findings.extend(rule_cls.check_suppressions(ctx, directives, rules))
            except Exception as exc:  # noqa: BLE001
                findings.append(
                    diagnostics.make(
                        diagnostics.INTERNAL_ERROR,
                        path,
                        f"rule {rule_cls.code} ({rule_cls.name}) crashed: {type(exc).__name__}: {exc}",
                    )
                )
    return sorted(findings, key=Finding.sort_key)


def _lint_chunks(
    source: str,
    path: str,
    pieces: Iterable[chunks.Chunk],
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any],
) -> list[Finding]:
    import libcst as cst

    from losscheck.lint import astutil
    from losscheck.lint.context import FileContext

    found: list[Finding] = []
    options = {**options, "compile_uses": chunks.compile_uses(source)}
    for piece in pieces:
        try:
            module = cst.parse_module(piece.text)
        except cst.ParserSyntaxError as exc:  # reported where it is in the file, alone
            return [chunks.place(_syntax_error(path, exc, piece.text), piece, anywhere=True)]
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:
            return [chunks.place(_syntax_error(path, exc), piece, anywhere=True)]
        ctx = FileContext(path=path, source=piece.text, module=module, options=options)
        for finding in run_rules(ctx, rules):
            if chunks.defined_in_another_piece(finding, piece, source):
                continue
            # a diagnostic (a crashed rule: line 1) is kept, at the piece's first line
            placed = chunks.place(finding, piece, anywhere=finding.code in diagnostics.DIAGNOSTIC_CODES)
            if placed is not None:
                found.append(placed)
        del ctx, module  # before the next piece is parsed: one tree alive at a time
        astutil.forget()
    return found


def lint_bytes(
    data: bytes,
    path: str,
    *,
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any] | None = None,
) -> list[Finding]:
    try:
        source = decode(data)
    except ValueError as exc:
        return [diagnostics.make(diagnostics.UNREADABLE_FILE, path, f"cannot decode the file: {exc}")]
    return lint_source(source, path, rules=rules, options=options)
