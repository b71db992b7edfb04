"""LCK106 probabilities-as-logits: A softmax or sigmoid output is passed where the loss expects logits.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck106_probabilities_as_logits import ProbabilitiesAsLogits
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [ProbabilitiesAsLogits])
