"""LCK104 masked-mean: A masked loss averaged over all positions instead of the mask's count (or divided by an unguarded count).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck104_masked_mean import MaskedMean
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [MaskedMean])
