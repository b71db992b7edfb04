"""Snippets pasted without their imports: `np`, `tf`, `K`, `keras`, `ops`, `layers` are read as
everyone means them, unless the module binds the name itself; undefined-name still reports them."""

from __future__ import annotations

import textwrap

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import builtin_rules

RULES = [r for r in builtin_rules() if r.code in {"LCK101", "LCK301", "LCK302"}]


def _codes(source: str) -> list[tuple[int, str]]:
    findings = lint_source(textwrap.dedent(source), "snippet.py", rules=RULES)
    return sorted((f.line, f.code) for f in findings)


def test_an_unimported_backend_alias_is_read_as_keras_backend() -> None:
    source = """
    def focal(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred))
    """
    assert _codes(source) == [(3, "LCK101"), (3, "LCK301")]  # the batch mean, and the missing import


def test_a_name_the_module_binds_is_not_assumed() -> None:
    for binding in ("K = my_backend", "def K():\n    pass", "from mylib import K", "for K in backends:\n    pass",
                    "(a, K) = pair", "print(K)  # any use other than K.attr counts as a binding"):
        source = binding + "\n\ndef focal(y_true, y_pred):\n    return K.mean(K.square(y_true - y_pred))\n"
        ctx = FileContext("t.py", source, cst.parse_module(source))
        assert ctx.imports.qualname(cst.parse_expression("K.mean")) != "keras.backend.mean", binding


def test_removed_api_is_not_reported_on_an_assumed_alias() -> None:
    # `K.mean` without `import keras.backend as K` is undefined-name's to report, not removed-keras-api's
    source = """
    import keras

    def loss(y_true, y_pred):
        return K.mean(keras.ops.square(y_true - y_pred), axis=-1)
    """
    assert [code for _line, code in _codes(source)] == ["LCK301"]
