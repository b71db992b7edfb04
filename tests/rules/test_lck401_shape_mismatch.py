"""LCK401 shape-mismatch: Tensor shapes in a loss that do not fit together (found by static shape inference).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck401_shape_mismatch import ShapeMismatch
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [ShapeMismatch])
