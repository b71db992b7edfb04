"""LCK501 sequential-multi-output: A Sequential model (one output) fitted or compiled with several targets, losses or weights.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck501_sequential_multi_output import SequentialMultiOutput
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [SequentialMultiOutput])
