"""LCK902 inference-gap: Shape inference lost track of a known shape here (informational, off by default).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck902_inference_gap import InferenceGap
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [InferenceGap])
