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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from losscheck.lint import diagnostics, suppress
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

    from losscheck.lint.context import FileContext

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return [_syntax_error(path, exc, source)]
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        return [_syntax_error(path, exc)]
    ctx = FileContext(path=path, source=source, module=module, options=options)
    findings = run_rules(ctx, rules)
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
