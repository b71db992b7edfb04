"""LCK101 batch-mean-reduction: A loss returns a value reduced over the batch axis (mean/sum without axis, axis=0, Loss objects).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [BatchMeanReduction])
