"""Turn a rule's VALID and INVALID examples into tests: the kit the built-in rules and plugins use.

A rule carries its own examples (``VALID``/``INVALID`` class attributes, see
:mod:`losscheck.lint.rule`). This module checks them the way ``losscheck lint`` would run the rule,
so a plugin author writes no test code for them:

.. code-block:: python

    # tests/test_my_rules.py of a plugin
    from losscheck.testing import add_lint_rule_tests_to_module
    from my_plugin import RULES

    add_lint_rule_tests_to_module(globals(), RULES)

That adds three pytest tests per module: every rule has the four doc sections and at least one
example of each kind; every VALID example draws no finding of its rule; every INVALID example
draws at least one, with the message, line, count and fixed source it declares. Each example is
its own test case, named ``<rule-name>-valid-<i>``/``<rule-name>-invalid-<i>``.

The checks are plain functions too (:func:`check_docs`, :func:`check_valid`,
:func:`check_invalid`), which raise ``AssertionError`` and need no test framework. Only
:func:`add_lint_rule_tests_to_module` imports pytest, when it is called.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

from losscheck.lint.finding import Finding
from losscheck.lint.rule import DOC_SECTIONS, Invalid, Rule, Valid

__all__ = ["add_lint_rule_tests_to_module", "check_docs", "check_invalid", "check_valid", "findings_of"]


def findings_of(rule: type[Rule], code: str, path: str = "example.py") -> list[Finding]:
    """The findings ``rule`` reports on ``code``, run alone through the lint engine (suppressions,
    loss-code finding and every fact as in a real run)."""
    from losscheck.lint.engine import lint_source

    return [f for f in lint_source(code, path, rules=[rule]) if f.code == rule.code]


def check_docs(rule: type[Rule]) -> None:
    """The rule documents itself (the four sections) and has examples of both kinds."""
    docs = rule.docs()
    missing = [section for section in DOC_SECTIONS if section not in docs]
    assert not missing, f"{rule.code} ({rule.name}) docs lack {missing}"
    assert list(rule.valid_examples()), f"{rule.code} ({rule.name}) has no VALID example"
    assert list(rule.invalid_examples()), f"{rule.code} ({rule.name}) has no INVALID example"


def check_valid(rule: type[Rule], case: Valid) -> None:
    """The rule stays quiet on a VALID example."""
    findings = findings_of(rule, case.code)
    assert findings == [], f"{rule.name} reported on VALID code:\n{case.code}\n{_listing(findings)}"


def check_invalid(rule: type[Rule], case: Invalid) -> None:
    """The rule reports on an INVALID example, as the example declares."""
    from losscheck.lint.fixer import fix_source

    findings = findings_of(rule, case.code)
    assert findings, f"{rule.name} missed INVALID code:\n{case.code}"
    if case.count is not None:
        assert len(findings) == case.count, (
            f"{rule.name}: {len(findings)} findings, the example expects {case.count}:\n{_listing(findings)}")
    first = findings[0]
    if case.message is not None:
        assert case.message in first.message, f"{rule.name}: {case.message!r} is not in {first.message!r}"
    if case.line is not None:
        assert first.line == case.line, f"{rule.name}: reported on line {first.line}, expected {case.line}"
    if case.fixed is not None:
        # as `--fix --unsafe-fixes` writes it: passes until nothing more applies
        fixed, _left, _applied = fix_source(case.code, findings, [rule], "example.py", {}, unsafe=True)
        assert fixed == case.fixed, f"{rule.name}: fixed source differs:\n{fixed}\n--- expected ---\n{case.fixed}"


def add_lint_rule_tests_to_module(module_globals: MutableMapping[str, Any], rules: Iterable[type[Rule]]) -> None:
    """Add ``test_rule_docs``, ``test_valid_example`` and ``test_invalid_example`` (pytest,
    parametrized over ``rules`` and their examples) to a test module's globals."""
    import pytest

    rules = list(rules)
    if not rules:
        raise ValueError("add_lint_rule_tests_to_module: no rules given")
    valid = [pytest.param(rule, case, id=f"{rule.name}-valid-{i}")
             for rule in rules for i, case in enumerate(rule.valid_examples())]
    invalid = [pytest.param(rule, case, id=f"{rule.name}-invalid-{i}")
               for rule in rules for i, case in enumerate(rule.invalid_examples())]

    @pytest.mark.parametrize("rule", rules, ids=_rule_id)
    def test_rule_docs(rule: type[Rule]) -> None:
        check_docs(rule)

    @pytest.mark.parametrize(("rule", "case"), valid)
    def test_valid_example(rule: type[Rule], case: Valid) -> None:
        check_valid(rule, case)

    @pytest.mark.parametrize(("rule", "case"), invalid)
    def test_invalid_example(rule: type[Rule], case: Invalid) -> None:
        check_invalid(rule, case)

    for test in (test_rule_docs, test_valid_example, test_invalid_example):
        test.__module__ = str(module_globals.get("__name__", test.__module__))
        module_globals[test.__name__] = test


def _rule_id(rule: type[Rule]) -> str:
    return rule.name


def _listing(findings: Sequence[Finding]) -> str:
    return "\n".join(f"  {f.line}:{f.column} {f.code} {f.message}" for f in findings) or "  (none)"
