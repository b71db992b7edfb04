"""LCK301 undefined-name: A name used in loss code that no scope defines (NameError at fit time, not at compile).

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck301_undefined_name import UndefinedName
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [UndefinedName])
