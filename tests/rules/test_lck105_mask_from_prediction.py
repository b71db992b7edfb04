"""LCK105 mask-from-prediction: A mask or gate computed from y_pred selects or multiplies the loss.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck105_mask_from_prediction import MaskFromPrediction
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [MaskFromPrediction])
