"""LCK502 list-for-dict-outputs: A list of losses/weights/targets for a model with dict outputs (Keras pairs them in sorted-name order).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck502_list_for_dict_outputs import ListForDictOutputs
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [ListForDictOutputs])
