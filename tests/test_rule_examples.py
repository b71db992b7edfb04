"""Every rule's VALID and INVALID examples, run as tests (one generator for all rules, as Fixit does)."""

from __future__ import annotations

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.registry import load_registry
from losscheck.lint.rule import DOC_SECTIONS

RULES = load_registry(plugins=False).rules

VALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-valid-{i}")
    for rule in RULES
    for i, case in enumerate(rule.valid_examples())
]
INVALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-invalid-{i}")
    for rule in RULES
    for i, case in enumerate(rule.invalid_examples())
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_has_docs_and_examples(rule):
    docs = rule.docs()
    for section in DOC_SECTIONS:
        assert section in docs, f"{rule.code} docs lack {section!r}"
    assert list(rule.valid_examples()), f"{rule.code} has no VALID examples"
    assert list(rule.invalid_examples()), f"{rule.code} has no INVALID examples"


@pytest.mark.parametrize("rule,case", VALID_CASES)
def test_valid(rule, case):
    findings = [f for f in lint_source(case.code, "example.py", rules=[rule]) if f.code == rule.code]
    assert findings == [], f"{rule.name} reported on VALID code:\n{case.code}\n{findings}"


@pytest.mark.parametrize("rule,case", INVALID_CASES)
def test_invalid(rule, case):
    findings = [f for f in lint_source(case.code, "example.py", rules=[rule]) if f.code == rule.code]
    assert findings, f"{rule.name} missed INVALID code:\n{case.code}"
    if case.count is not None:
        assert len(findings) == case.count, findings
    first = findings[0]
    if case.message is not None:
        assert case.message in first.message, first.message
    if case.line is not None:
        assert first.line == case.line, first
    if case.fixed is not None:
        fixed, _applied = apply_fixes(case.code, findings, unsafe=True)
        assert fixed == case.fixed
