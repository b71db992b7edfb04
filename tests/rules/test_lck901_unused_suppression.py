"""LCK901 unused-suppression: A suppression comment that suppresses nothing.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck901_unused_suppression import UnusedSuppression
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [UnusedSuppression])
