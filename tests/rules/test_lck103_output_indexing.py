"""LCK103 output-indexing: A loss indexes or iterates y_true/y_pred as if they held several outputs.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck103_output_indexing import OutputIndexing
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [OutputIndexing])
