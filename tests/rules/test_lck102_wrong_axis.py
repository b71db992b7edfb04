"""LCK102 wrong-axis: Softmax/argmax/concat/gather/indexing on the batch axis (axis 0) of y_true/y_pred.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck102_wrong_axis import WrongAxis
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [WrongAxis])
