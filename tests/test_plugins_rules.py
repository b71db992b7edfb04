"""The PyTorch rule pack's VALID/INVALID examples, run through the *installed* entry point.

The core's tests/test_rule_examples.py runs the built-in rules only; this file runs the rules
that `losscheck_torch` contributes, loaded exactly as `losscheck lint` loads them.
"""

from __future__ import annotations

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.registry import load_registry
from losscheck.lint.rule import DOC_SECTIONS

pytest.importorskip("losscheck_torch", reason="pip install -e plugins/torch")

REGISTRY = load_registry(plugins=True)
RULES = [r for r in REGISTRY.rules if r.origin == "losscheck-torch"]

VALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-valid-{i}") for rule in RULES for i, case in enumerate(rule.valid_examples())
]
INVALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-invalid-{i}")
    for rule in RULES
    for i, case in enumerate(rule.invalid_examples())
]


def _findings(rule, code: str):
    return [f for f in lint_source(code, "example.py", rules=[rule]) if f.code == rule.code]


def test_pack_is_loaded_through_the_entry_point():
    assert not [e for e in REGISTRY.errors if "losscheck-torch" in e.plugin], REGISTRY.errors
    codes = {r.code for r in RULES}
    assert {"LTH101", "LTH102", "LTH103", "LTH104", "LTH201"} <= codes, codes
    for rule in RULES:
        assert rule.code.startswith("LTH") and len(rule.code) == 6  # flake8-compatible: 3 capitals + 3 digits


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_has_docs_and_examples(rule):
    docs = rule.docs()
    for section in DOC_SECTIONS:
        assert section in docs, f"{rule.code} docs lack {section!r}"
    assert list(rule.valid_examples()) and list(rule.invalid_examples())


@pytest.mark.parametrize("rule,case", VALID_CASES)
def test_valid(rule, case):
    findings = _findings(rule, case.code)
    assert findings == [], f"{rule.name} reported on VALID code:\n{case.code}\n{findings}"


@pytest.mark.parametrize("rule,case", INVALID_CASES)
def test_invalid(rule, case):
    findings = _findings(rule, case.code)
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
