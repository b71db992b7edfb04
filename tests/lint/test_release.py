"""A linted file's tree and facts go by reference counting as soon as the file is done: the run
keeps the cycle collector off while it lints (``parallel.after_file``), and a tree caught in a
reference cycle would wait for a collection that walks every node of it."""

from __future__ import annotations

import gc
from pathlib import Path

import libcst as cst
import pytest

from losscheck.lint.astutil import docstring
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry

RULES = load_registry(plugins=False).rules
LOSS_MODULE = Path(__file__).parents[2] / "benchmarks" / "data" / "loss_module_300.py"

# module-level statements of every kind the scope index merges (stand-in scopes), defaults
# that the branch facts read, docstrings the shape engine reads, a class with methods
PROGRAM = '''
"""A module."""
import tensorflow as tf
from tensorflow import keras

WEIGHTS = {"seg": 1.0, "depth": 0.5}
SCALE = 0x10


def masked_loss(y_true, y_pred, ignore=-1, name="loss", eps=1e-7, flag=True):
    """Shapes: y_true (batch, h, w), y_pred (batch, h, w)."""
    mask = tf.cast(tf.not_equal(y_true, ignore), y_pred.dtype)
    if flag:
        y_pred = y_pred + eps
    return tf.reduce_sum(tf.abs(y_true - y_pred) * mask) / tf.reduce_sum(mask)


class PairLoss(keras.losses.Loss):
    "A loss."

    def call(self, y_true, y_pred):
        for k in range(2):
            y_pred = y_pred * k
        return tf.reduce_mean(tf.square(y_true - y_pred))


model = keras.Model()
model.compile(loss={"seg": masked_loss, "pair": PairLoss()}, loss_weights=WEIGHTS)
'''


@pytest.mark.parametrize(("source", "buggy"), [(PROGRAM, True), (LOSS_MODULE.read_text(), False)],
                         ids=["program", "loss_module_300"])
def test_a_linted_file_leaves_nothing_for_the_cycle_collector(source, buggy):
    lint_source(source, "m.py", rules=RULES)  # the first run imports and fills per-process caches
    gc.collect()
    gc.disable()
    try:
        findings = lint_source(source, "m.py", rules=RULES)
        left_in_cycles = gc.collect()
    finally:
        gc.enable()
    assert bool(findings) == buggy  # the rules ran on it
    assert left_in_cycles == 0


@pytest.mark.parametrize("body", [
    '"""plain"""', "r'''raw \\n'''", '"a" "b"', "b'bytes'", "f'{x}'", "'esc\\tape'", "x = 1", "pass",
])
@pytest.mark.parametrize("shape", ["def f():\n    {}\n    return 1\n", "def f(): {}\n", "class C:\n    {}\n"])
def test_docstring_reads_what_libcst_reads(body, shape):
    node = cst.parse_module(shape.format(body)).body[0]
    assert docstring(node) == node.get_docstring(clean=False)


def test_the_collector_runs_on_its_own_only_outside_a_lint():
    """While a file is linted the collector's automatic runs are off (the tree it would walk
    lives until the file is done); the caller's thresholds are back after it, also when the
    lint fails."""
    from losscheck.lint.rule import Rule

    seen: list[tuple[int, int, int]] = []

    class Records(Rule):
        code = "LCK995"
        name = "records-thresholds"
        summary = "records the collector's thresholds"

        def check(self, ctx):
            seen.append(gc.get_threshold())
            raise RuntimeError("a rule that fails")

    original = gc.get_threshold()
    gc.set_threshold(701, 11, 12)
    try:
        findings = lint_source(PROGRAM, "m.py", rules=[Records])
        assert seen == [(0, 11, 12)] and gc.get_threshold() == (701, 11, 12)
        assert [f.code for f in findings] == ["LCK997"]  # the failing rule, reported
    finally:
        gc.set_threshold(*original)
