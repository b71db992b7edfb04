"""batch-mean-reduction and wrong-axis: generated reductions, axes, aliases and data flow."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.context import FileContext
from losscheck.lint.engine import lint_source
from losscheck.lint.reductions import BATCH_AXIS_HOOKS
from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction
from losscheck.lint.rules.lck102_wrong_axis import WrongAxis


def codes(source: str, rule) -> list[tuple[int, str]]:
    findings = lint_source(textwrap.dedent(source), "t.py", rules=[rule])
    return [(f.line, f.message) for f in findings if f.code == rule.code]


# (import line, callee for a mean, callee for a sum) across the namespaces people use
NAMESPACES = [
    ("import tensorflow as tf", "tf.reduce_mean", "tf.reduce_sum"),
    ("import tensorflow as tf", "tf.math.reduce_mean", "tf.math.reduce_max"),
    ("from tensorflow import math as tm", "tm.reduce_mean", "tm.reduce_sum"),
    ("from keras import ops", "ops.mean", "ops.sum"),
    ("import keras", "keras.ops.mean", "keras.ops.max"),
    ("import keras.backend as K", "K.mean", "K.sum"),
    ("from tensorflow.keras import backend as K", "K.mean", "K.sum"),
    ("import numpy as np", "np.mean", "np.sum"),
]
AXES = {
    "": True,
    ", axis=None": True,
    ", axis=0": True,
    ", 0": True,
    ", axis=[0, 1]": True,
    ", axis=(0,)": True,
    ", axis=-1": False,
    ", axis=[1, 2, 3]": False,
    ", 1": False,
    ", axis=(1, 2)": False,
}
SHAPES = ["direct", "named", "scaled", "unused"]


def _loss_source(namespace: tuple[str, str, str], which: int, axis: str, shape: str) -> str:
    imp, mean, other = namespace
    callee = mean if which == 0 else other
    reduced = f"{callee}(tf_sq{axis})"
    per_example = f"{mean}(tf_sq, axis=-1)"
    body = {
        "direct": f"return {reduced}",
        "named": f"loss = {reduced}\n    return loss",
        "scaled": f"loss = 0.5 * {reduced} / 4.0\n    return loss",
        # the reduction does not reach the return: the loss is per-example
        "unused": f"tf_stat = {reduced}\n    return {per_example}",
    }[shape]
    return f"import tensorflow as tf\n{imp}\n\ndef my_loss(y_true, y_pred):\n    tf_sq = (y_true - y_pred) ** 2\n    {body}\n"


@settings(max_examples=120, deadline=None)
@given(
    namespace=st.sampled_from(NAMESPACES),
    which=st.integers(0, 1),
    axis=st.sampled_from(sorted(AXES)),
    shape=st.sampled_from(SHAPES),
)
def test_batch_mean_fires_iff_batch_axis_reaches_return(namespace, which, axis, shape) -> None:
    source = _loss_source(namespace, which, axis, shape)
    expected = AXES[axis] and shape != "unused"
    found = codes(source, BatchMeanReduction)
    assert bool(found) == expected, source
    if found:
        assert len(found) == 1
        assert "reduces over the batch axis" in found[0][1]


@settings(max_examples=40, deadline=None)
@given(namespace=st.sampled_from(NAMESPACES), axis=st.sampled_from(sorted(AXES)), shape=st.sampled_from(SHAPES))
def test_batch_mean_is_quiet_on_metrics(namespace, axis, shape) -> None:
    source = _loss_source(namespace, 0, axis, shape) + "\nmodel.compile(loss='mse', metrics=[my_loss])\n"
    assert codes(source, BatchMeanReduction) == []


def test_loss_object_from_init_and_module() -> None:
    source = """
    import tensorflow as tf

    BCE = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    class Combo(tf.keras.losses.Loss):
        def __init__(self):
            super().__init__()
            self.cce = tf.keras.losses.CategoricalCrossentropy()
            self.raw = tf.keras.losses.CategoricalCrossentropy(reduction=tf.keras.losses.Reduction.NONE)

        def call(self, y_true, y_pred):
            return self.cce(y_true, y_pred)

    class Fine(tf.keras.losses.Loss):
        def __init__(self):
            super().__init__()
            self.raw = tf.keras.losses.CategoricalCrossentropy(reduction="none")

        def call(self, y_true, y_pred):
            return self.raw(y_true, y_pred)

    def module_level(y_true, y_pred):
        return BCE(y_true, y_pred)
    """
    found = codes(source, BatchMeanReduction)
    assert [line for line, _ in found] == [13, 24]
    assert all("Loss object" in message for _, message in found)


def test_mixed_returns_are_not_reported() -> None:
    source = """
    import tensorflow as tf

    def maybe(y_true, y_pred, reduce=False):
        if reduce:
            return tf.reduce_mean(y_true - y_pred)
        return tf.reduce_mean(y_true - y_pred, axis=-1)
    """
    assert codes(source, BatchMeanReduction) == []


def test_accumulated_reductions_and_lambda() -> None:
    source = """
    import tensorflow as tf

    def total(y_true, y_pred):
        loss = 0.0
        for k in range(3):
            loss += tf.reduce_mean(tf.abs(y_true[..., k] - y_pred[..., k]))
        return loss

    model.compile(loss={"a": lambda t, p: tf.reduce_sum(t * p)})
    """
    assert [line for line, _ in codes(source, BatchMeanReduction)] == [7, 10]


@pytest.mark.parametrize(
    "expr,fires",
    [
        ("y_true[0]", True),
        ("y_true[0, ...]", True),
        ("y_pred[2, :, 1]", True),
        ("y_true[..., 0]", False),
        ("y_true[:, 0]", False),
        ("tf.shape(y_true)[0]", False),
        ("y_true.shape[0]", False),
        ("tf.keras.backend.int_shape(y_true)[0]", False),
        ("tf.stack([y_true, y_pred])[0]", False),
        ("tf.unstack(y_pred)[0]", True),  # unstack cuts the batch axis: [0] is the first sample
        ("tf.transpose(y_pred)[0]", False),
        ("y_true[-1]", True),
    ],
)
def test_integer_index_on_axis_0(expr: str, fires: bool) -> None:
    source = f"""
    import tensorflow as tf

    def my_loss(y_true, y_pred):
        value = {expr}
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + tf.reduce_sum(value)
    """
    found = codes(source, WrongAxis)
    assert bool(found) == fires, found
    if fires:
        assert "SAMPLE" in found[0][1] or "along axis 0, the batch axis" in found[0][1]


def test_reassigned_parameter_after_stack_is_not_the_batch() -> None:
    source = """
    import tensorflow as tf

    def my_loss(y_true, y_pred):
        y_pred = tf.stack([y_pred[:, 0], y_pred[:, 1]])
        return tf.abs(y_true[:, 0] - y_pred[0])
    """
    assert codes(source, WrongAxis) == []


def test_cast_keeps_the_batch() -> None:
    source = """
    import tensorflow as tf

    def my_loss(y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        return tf.abs(y_true[1] - y_pred[:, 1])
    """
    assert [line for line, _ in codes(source, WrongAxis)] == [6]


@settings(max_examples=60, deadline=None)
@given(
    op=st.sampled_from(
        [("tf.nn.softmax", "softmax"), ("tf.argmax", "argmax"), ("tf.math.argmin", "argmax"),
         ("keras.ops.softmax", "softmax"), ("keras.ops.argmax", "argmax")]
    ),
    axis=st.sampled_from([", axis=0", ", 0", ", axis=-1", ", -1", ", axis=1", ""]),
    operand=st.sampled_from(["y_pred", "y_true", "tf.cast(y_pred, tf.float32)", "tf.stack([y_pred, y_true])", "w"]),
)
def test_axis_ops(op, axis, operand) -> None:
    callee, kind = op
    source = f"""
    import tensorflow as tf
    import keras

    def my_loss(y_true, y_pred, w=None):
        value = {callee}({operand}{axis})
        return tf.reduce_sum(tf.square(y_true - y_pred) * tf.cast(value, tf.float32), axis=-1)
    """
    batch_first = operand in {"y_pred", "y_true", "tf.cast(y_pred, tf.float32)"}
    if axis in {", axis=0", ", 0"}:
        expected = batch_first
    elif axis == "":
        # tf.argmax defaults to axis 0, keras.ops.argmax flattens; softmax defaults to the last axis
        expected = batch_first and kind == "argmax"
    else:
        expected = False
    assert bool(codes(source, WrongAxis)) == expected


def test_shape_hook_can_overrule_the_batch_axis() -> None:
    source = textwrap.dedent(
        """
        import tensorflow as tf

        def my_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
        """
    )
    assert codes(source, BatchMeanReduction)

    def hook(ctx: FileContext, fn, operand: cst.BaseExpression, axes):
        return False  # e.g. shape inference knows these tensors have no batch axis

    BATCH_AXIS_HOOKS.insert(0, hook)
    try:
        assert codes(source, BatchMeanReduction) == []
    finally:
        BATCH_AXIS_HOOKS.remove(hook)


@pytest.mark.parametrize(
    "bound,fires",
    [("3", True), ("num_classes", True), ("n_outputs", True), ("batch_size", False), ("BATCH", False),
     ("tf.shape(y_true)[0]", False), ("len(y_pred)", False), ("y_true.shape[0]", False)],
)
def test_loop_index_on_axis_0(bound: str, fires: bool) -> None:
    source = f"""
    import tensorflow as tf

    def my_loss(y_true, y_pred, num_classes=3, n_outputs=2, batch_size=8, BATCH=8):
        parts = []
        for i in range({bound}):
            parts.append(tf.reduce_sum(tf.abs(y_true[i] - y_pred[i])))
        return tf.stack(parts)
    """
    assert bool(codes(source, WrongAxis)) == fires


@pytest.mark.parametrize(
    "line,fires",
    [
        ("x = tf.concat([y_pred[:, 0:1], y_pred[:, 2:3]], axis=0)", True),
        ("x = tf.concat([y_pred[:, 0:1], y_pred[:, 2:3]], axis=-1)", False),
        ("x = tf.concat([y_true, y_pred], axis=0)", False),  # e.g. contrastive pairs: deliberate
        ("x = keras.ops.concatenate([y_pred[:, :1], y_pred[:, 1:2]])", True),  # default axis 0
        ("x = tf.one_hot(tf.cast(y_true, tf.int32), 5, axis=0)", True),
        ("x = tf.one_hot(tf.cast(y_true, tf.int32), 5)", False),
        ("x = tf.gather(y_pred, [0, 2])", True),
        ("x = tf.gather(y_pred, [0, 2], axis=-1)", False),
        ("x = tf.gather(y_pred, idx)", False),
        ("x = keras.ops.take(y_pred, [1, 3])", True),  # flattens without an axis
    ],
)
def test_concat_one_hot_gather(line: str, fires: bool) -> None:
    source = f"""
    import tensorflow as tf
    import keras

    def my_loss(y_true, y_pred, idx=None):
        {line}
        return tf.reduce_sum(tf.square(y_true - y_pred), axis=-1) + tf.reduce_sum(tf.cast(x, tf.float32), axis=-1)
    """
    assert bool(codes(source, WrongAxis)) == fires


def test_keras_dice_without_axis_reduces_everything() -> None:
    source = """
    import keras

    def seg_loss(y_true, y_pred):
        return keras.losses.dice(y_true, y_pred)

    def per_example(y_true, y_pred):
        return keras.losses.dice(y_true, y_pred, axis=[1, 2, 3])
    """
    assert [line for line, _ in codes(source, BatchMeanReduction)] == [5]


@pytest.mark.parametrize(
    "flatten,fires",
    [
        ("K.flatten(y_true)", True),
        ("tf.reshape(y_true, [-1])", True),
        ("keras.ops.reshape(y_true, (-1,))", True),
        ("K.batch_flatten(y_true)", False),
        ("tf.reshape(y_true, [tf.shape(y_true)[0], -1])", False),
    ],
)
def test_flattened_dice_reduces_the_batch(flatten: str, fires: bool) -> None:
    source = f"""
    import keras
    import tensorflow as tf
    from tensorflow.keras import backend as K

    def dice_loss(y_true, y_pred, smooth=1.0):
        t = {flatten}
        p = {flatten.replace("y_true", "y_pred")}
        inter = K.sum(t * p, axis=-1)
        return 1.0 - (2.0 * inter + smooth) / (K.sum(t, axis=-1) + K.sum(p, axis=-1) + smooth)
    """
    found = codes(source, BatchMeanReduction)
    assert bool(found) == fires
    if fires:
        assert "flattened" in found[0][1]


DEFAULT_BRANCHES = """
import keras
from keras import ops


def mse(y_true, y_pred, reduce={default}):
    per = ops.square(y_true - y_pred)
    if reduce == "mean":
        per = ops.mean(per)
    elif reduce == "max":
        per = ops.max(per)
    return 0.5 * per


def per_or_mean(y_true, y_pred, reduction={default}):
    per = ops.mean(ops.square(y_true - y_pred), axis=-1)
    if reduction == "none":
        return per
    return ops.mean(per)


model = keras.Sequential([keras.layers.Dense(1)])
model.compile(loss=[mse, per_or_mean])
"""


@pytest.mark.parametrize("default,expected", [
    ('"mean"', [9, 19]),  # Keras calls mse(y_true, y_pred): reduce keeps its default, the branch runs
    ('"max"', [11, 19]),
    ('"none"', []),  # the per-example branches run
    ("None", [19]),  # no reduction in mse; per_or_mean's early return is not taken
])
def test_branches_that_the_defaults_decide(default: str, expected: list[int]) -> None:
    found = codes(DEFAULT_BRANCHES.format(default=default), BatchMeanReduction)
    assert [line for line, _message in found] == expected


def test_a_helper_called_with_other_values_is_not_read_with_its_defaults() -> None:
    # the loss passes reduce="none" to the helper: the helper's default does not apply
    assert codes(
        """
        import keras
        from keras import ops

        def _error(y_true, y_pred, reduce="mean"):
            per = ops.square(y_true - y_pred)
            if reduce == "mean":
                per = ops.mean(per)
            return per

        def loss(y_true, y_pred):
            return ops.mean(_error(y_true, y_pred, reduce="none"), axis=-1)

        model = keras.Sequential([keras.layers.Dense(1)])
        model.compile(loss=loss)
        """,
        BatchMeanReduction,
    ) == []
