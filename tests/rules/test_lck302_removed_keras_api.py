"""LCK302 removed-keras-api: Keras 2 backend functions called through Keras 3's keras.backend, which no longer has them.

Its VALID and INVALID examples (in the rule's module) run here as tests, one test per example.
"""

from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi
from losscheck.testing import add_lint_rule_tests_to_module

add_lint_rule_tests_to_module(globals(), [RemovedKerasApi])
