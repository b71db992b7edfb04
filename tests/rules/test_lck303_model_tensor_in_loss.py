"""LCK303 model-tensor-in-loss: A loss captures a layer output (symbolic KerasTensor); it fails at fit time.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck303_model_tensor_in_loss import ModelTensorInLoss
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [ModelTensorInLoss])
