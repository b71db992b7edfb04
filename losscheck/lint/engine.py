"""Lint one source text: parse -> facts -> rules -> findings (suppressions applied by the caller's pipeline)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finding import Finding
from losscheck.lint.rule import Rule


def run_rules(ctx: FileContext, rules: Sequence[type[Rule]]) -> list[Finding]:
    for rule_cls in rules:
        produced = rule_cls().check(ctx)
        if produced is not None:
            for finding in produced:
                if finding not in ctx.findings:
                    ctx.findings.append(finding)
    return sorted(ctx.findings, key=Finding.sort_key)


def lint_source(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Parse ``source`` and run ``rules`` on it. Raises ``libcst.ParserSyntaxError`` on bad syntax."""
    module = cst.parse_module(source)
    ctx = FileContext(path=path, source=source, module=module, options=options or {})
    return run_rules(ctx, rules)
