"""losscheck.testing: the checks fail when a rule's examples or docs are wrong, and the generated
tests land in the calling module."""

from __future__ import annotations

import types

import pytest

from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction
from losscheck.testing import add_lint_rule_tests_to_module, check_docs, check_invalid, check_valid

BATCH_MEAN = "import tensorflow as tf\n\ndef loss(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)\n"
PER_EXAMPLE = "import tensorflow as tf\n\ndef loss(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred, axis=-1)\n"


class Silent(Rule):
    """Reports nothing, whatever its examples say."""

    code = "LCK990"
    name = "silent"
    summary = "never reports"
    VALID = [PER_EXAMPLE]
    INVALID = [BATCH_MEAN]

    def check(self, ctx):
        return None


def test_a_missed_invalid_example_fails() -> None:
    with pytest.raises(AssertionError, match="missed INVALID"):
        check_invalid(Silent, Invalid(BATCH_MEAN))


def test_a_finding_on_a_valid_example_fails() -> None:
    with pytest.raises(AssertionError, match="reported on VALID"):
        check_valid(BatchMeanReduction, Valid(BATCH_MEAN))


def test_declared_message_line_and_count_are_checked() -> None:
    check_invalid(BatchMeanReduction, Invalid(BATCH_MEAN, line=4, count=1))
    with pytest.raises(AssertionError, match="reported on line 4"):
        check_invalid(BatchMeanReduction, Invalid(BATCH_MEAN, line=3))
    with pytest.raises(AssertionError, match="the example expects 2"):
        check_invalid(BatchMeanReduction, Invalid(BATCH_MEAN, count=2))
    with pytest.raises(AssertionError, match="is not in"):
        check_invalid(BatchMeanReduction, Invalid(BATCH_MEAN, message="no such words"))


def test_missing_doc_sections_fail() -> None:
    with pytest.raises(AssertionError, match="docs lack"):
        check_docs(Silent)


def test_tests_are_added_to_the_calling_module() -> None:
    module = types.ModuleType("test_some_plugin")
    add_lint_rule_tests_to_module(module.__dict__, [BatchMeanReduction])
    added = {name for name in vars(module) if name.startswith("test_")}
    assert added == {"test_rule_docs", "test_valid_example", "test_invalid_example"}
    assert module.test_valid_example.__module__ == "test_some_plugin"
    with pytest.raises(ValueError):
        add_lint_rule_tests_to_module({}, [])
