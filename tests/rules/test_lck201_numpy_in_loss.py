"""LCK201 numpy-in-loss: NumPy calls or .numpy() on tensors inside loss or metric code.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck201_numpy_in_loss import NumpyInLoss
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [NumpyInLoss])
