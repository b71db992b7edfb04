"""Every built-in rule has a test module here, named after the rule's module, that runs its examples."""

from pathlib import Path

import pytest

from losscheck.lint.registry import load_registry

HERE = Path(__file__).parent


@pytest.mark.parametrize("rule", load_registry(plugins=False).rules, ids=lambda r: r.code)
def test_rule_has_a_test_module(rule) -> None:
    module = rule.__module__.rsplit(".", 1)[-1]
    test_file = HERE / f"test_{module}.py"
    assert test_file.is_file(), f"{rule.code}: add {test_file.relative_to(HERE.parent)}"
    text = test_file.read_text(encoding="utf-8")
    assert "add_lint_rule_tests_to_module" in text and rule.__name__ in text, f"{test_file} does not run {rule.__name__}'s examples"
