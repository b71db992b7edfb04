"""Table-driven semantics of the ops shape inference models, across TF, Keras 3, Keras 2 backend and NumPy.

Each row: the declared shapes of ``y_true``/``y_pred``, one returned expression, and what the
interpreter must say about it: a shape, ``None`` (it does not know: it must not guess), or
``!text`` (a problem whose message contains ``text``). The Hypothesis comparison against real
TensorFlow/NumPy is in ``test_shapes_vs_tensorflow.py``; this table covers the API surface
(namespaces, keyword names, defaults) that a random test would hit only by luck.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from losscheck.lint.context import FileContext

HEADER = """\
import numpy as np
import tensorflow as tf
import keras
from keras import ops
from tensorflow.keras import backend as K
from tensorflow.keras import losses as tfl
"""

# (y_true shape, y_pred shape, expression, expected)
CASES: list[tuple[str, str, str, str | None]] = [
    # element-wise with broadcasting
    ("(B, 3)", "(B, 3)", "y_true - y_pred", "(B, 3)"),
    ("(B, 3)", "(B, 1)", "tf.math.squared_difference(y_true, y_pred)", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "ops.maximum(y_true, 0.5)", "(B, 3)"),
    ("(B, H, W, 2)", "(B, H, W, 2)", "y_true * y_pred", "(B, H, W, 2)"),
    ("(B, H, W, 2)", "(B, H, W, 3)", "y_true * y_pred", "!they do not broadcast (axis -1: 2 vs 3)"),
    ("(B, 2)", "(B, 1)", "y_true[:, 0] - y_pred", "!the difference broadcasts to (B, B)"),
    ("(B,)", "(B, 1)", "tf.abs(y_true - y_pred)", "!`y_true` is (B,) and `y_pred` is (B, 1)"),
    ("(B, 4)", "(B, 4)", "y_true[:, None] * y_pred[None, :]", "(B, B, 4)"),
    ("(B, H, W)", "(B, H, W, 1)", "y_true - y_pred", "!their batch axes do not line up"),
    ("(B, 3)", "(B, 3)", "np.multiply(y_true, [1.0, 2.0, 3.0])", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "y_pred * [1.0, 2.0]", "!they do not broadcast"),
    ("(B, H)", "(B, W)", "y_true + y_pred", "(B, ?)"),
    ("(B, 3)", "(B, 3)", "tf.where(y_true > 0.5, y_pred, 1.0 - y_pred)", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "ops.where(y_true > 0.5, y_pred, tf.zeros_like(y_pred[:, :2]))", "!they do not broadcast"),
    ("(B, 3)", "(B, 3)", "tf.clip_by_value(y_pred, 1e-7, 1.0)", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "K.clip(y_pred, K.epsilon(), 1.0 - K.epsilon())", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "tf.cast(y_true > 0, tf.float32)", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "tf.nn.softmax(y_pred, axis=-1)", "(B, 3)"),
    ("(B, 3)", "(B, 3)", "-tf.math.log(y_pred)", "(B, 3)"),
    # reductions
    ("(B, 3)", "(B, 3)", "tf.reduce_mean(y_pred, axis=-1)", "(B,)"),
    ("(B, 3)", "(B, 3)", "tf.reduce_mean(y_pred)", "()"),
    ("(B, 3)", "(B, 3)", "tf.reduce_sum(y_pred, axis=0)", "(3,)"),
    ("(B, H, W, 2)", "(B, H, W, 2)", "tf.reduce_sum(y_pred, axis=[1, 2, 3])", "(B,)"),
    ("(B, H, W, 2)", "(B, H, W, 2)", "ops.sum(y_pred, axis=(1, 2), keepdims=True)", "(B, 1, 1, 2)"),
    ("(B, 3)", "(B, 3)", "K.mean(y_pred, axis=-1, keepdims=True)", "(B, 1)"),
    ("(B, 3)", "(B, 3)", "np.mean(y_pred, axis=1)", "(B,)"),
    ("(B, 3)", "(B, 3)", "np.sum(y_pred, axis=1, keepdims=True)", "(B, 1)"),
    ("(B, 3)", "(B, 3)", "tf.reduce_max(y_pred, axis=2)", "!axis 2 is out of range for rank 2"),
    ("(B, 3)", "(B, 3)", "tf.argmax(y_pred)", "(3,)"),
    ("(B, 3)", "(B, 3)", "tf.argmax(y_pred, axis=-1)", "(B,)"),
    ("(B, 3)", "(B, 3)", "K.argmax(y_pred)", "(B,)"),
    ("(B, 3)", "(B, 3)", "ops.argmax(y_pred)", "()"),
    ("(B, 3)", "(B, 3)", "tf.reduce_mean(y_pred, axis=get_axis())", None),
    # indexing and slicing
    ("(B, 5)", "(B, 5)", "y_pred[:, 0]", "(B,)"),
    ("(B, 5)", "(B, 5)", "y_pred[..., 1:3]", "(B, 2)"),
    ("(B, 5)", "(B, 5)", "y_pred[..., -2:]", "(B, 2)"),
    ("(B, 5)", "(B, 5)", "y_pred[:, ::2]", "(B, 3)"),
    ("(B, 5)", "(B, 5)", "y_pred[:, ::-1]", "(B, 5)"),
    ("(B, 5)", "(B, 5)", "y_pred[..., tf.newaxis]", "(B, 5, 1)"),
    ("(B, 5)", "(B, 5)", "y_pred[:, np.newaxis, :]", "(B, 1, 5)"),
    ("(B, 5)", "(B, 5)", "y_pred[1:]", "(?, 5)"),
    ("(B, 5)", "(B, 5)", "y_pred[:, 5]", "!index 5 is out of range for axis 1 of size 5"),
    ("(B, 5)", "(B, 5)", "y_pred[:, -6]", "!index -6 is out of range"),
    ("(B, 5)", "(B, 5)", "y_pred[:, 3:8]", "!slices 3:8 on axis 1, which has only 5"),
    ("(B, 5)", "(B, 5)", "y_pred[:, :, 0]", "!too many indices"),
    ("(B, 5)", "(B, 5)", "y_pred[y_true > 0]", None),
    ("(B, 5)", "(B, 5)", "y_pred.shape[-1]", None),
    ("(B, 5)", "(B, 5)", "tf.one_hot(tf.cast(y_true[:, 0], tf.int32), y_pred.shape[-1])", "(B, 5)"),
    # gather / take
    ("(B, 5)", "(B, 5)", "tf.gather(y_pred, [0, 2], axis=1)", "(B, 2)"),
    ("(B, 5)", "(B, 5)", "tf.gather(y_pred, [0, 7], axis=-1)", "!index 7 is out of range"),
    ("(B, 5)", "(B, 5)", "ops.take(y_pred, [1, 2, 3], axis=1)", "(B, 3)"),
    ("(B, 5)", "(B, 5)", "np.take(y_pred, 2, axis=1)", "(B,)"),
    ("(B, 5)", "(B, 5)", "K.gather(y_pred, [0, 1])", "(2, 5)"),
    # one_hot
    ("(B,)", "(B, 4)", "tf.one_hot(tf.cast(y_true, tf.int32), 4)", "(B, 4)"),
    ("(B,)", "(B, 4)", "ops.one_hot(ops.cast(y_true, 'int32'), num_classes=4)", "(B, 4)"),
    ("(B,)", "(B, 4)", "K.one_hot(K.cast(y_true, 'int32'), 4)", "(B, 4)"),
    ("(B, 1)", "(B, 4)", "keras.utils.to_categorical(y_true, 4)", "(B, 4)"),
    ("(B,)", "(B, 4)", "tf.one_hot(tf.cast(y_true, tf.int32), 3) * y_pred", "!has depth 3 but `y_pred` has 4 channels"),
    # concat / stack
    ("(B, 2)", "(B, 3)", "tf.concat([y_true, y_pred], axis=-1)", "(B, 5)"),
    ("(B, 2)", "(B, 3)", "tf.concat([y_true, y_pred], axis=0)", "!axis 1 differs"),
    ("(B, 2)", "(B, 2)", "ops.concatenate([y_true, y_pred])", "(?, 2)"),
    ("(B, 2)", "(B, 3)", "K.concatenate([y_true, y_pred])", "(B, 5)"),
    ("(B, 2)", "(B, 3)", "np.concatenate([y_true, y_pred], axis=1)", "(B, 5)"),
    ("(B, 2)", "(B, 2)", "tf.stack([y_true, y_pred])", "(2, B, 2)"),
    ("(B, 2)", "(B, 2)", "tf.stack([y_true, y_pred], axis=-1)", "(B, 2, 2)"),
    ("(B, 2)", "(B, 3)", "ops.stack([y_true, y_pred], axis=1)", "!operands of different shapes"),
    # expand_dims / squeeze
    ("(B,)", "(B, 1)", "tf.expand_dims(y_true, -1) - y_pred", "(B, 1)"),
    ("(B,)", "(B, 1)", "K.expand_dims(y_true) - y_pred", "(B, 1)"),
    ("(B,)", "(B, 1)", "y_true - tf.squeeze(y_pred, axis=-1)", "(B,)"),
    ("(B,)", "(B, 1)", "y_true - ops.squeeze(y_pred, -1)", "(B,)"),
    ("(B,)", "(B, 3)", "tf.squeeze(y_pred, axis=-1)", "!cannot squeeze axis 1 of size 3"),
    ("(B,)", "(B, 1)", "tf.squeeze(y_pred)", None),
    ("(B,)", "(B, 1)", "np.expand_dims(y_true, axis=3)", "!out of range for expand_dims"),
    # reshape
    ("(B, 4, 4)", "(B, 4, 4)", "tf.reshape(y_pred, (-1, 16))", "(B, 16)"),
    ("(B, 4, 4)", "(B, 4, 4)", "tf.reshape(y_pred, [tf.shape(y_pred)[0], -1])", "(B, 16)"),
    ("(B, 4, 4)", "(B, 4, 4)", "ops.reshape(y_pred, (-1, 4, 2, 2))", "(B, 4, 2, 2)"),
    ("(B, 4, 4)", "(B, 4, 4)", "tf.reshape(y_pred, (-1, 3))", "(?, 3)"),
    ("(3, 4)", "(3, 4)", "tf.reshape(y_pred, (5, -1))", "!cannot reshape"),
    ("(B, 4, 4)", "(B, 4, 4)", "tf.reshape(y_pred, (-1, -1))", "!more than one -1"),
    # transpose / matmul
    ("(B, 2, 3)", "(B, 2, 3)", "tf.transpose(y_pred, perm=[0, 2, 1])", "(B, 3, 2)"),
    ("(B, 2, 3)", "(B, 2, 3)", "ops.transpose(y_pred, axes=(0, 2, 1))", "(B, 3, 2)"),
    ("(B, 2, 3)", "(B, 2, 3)", "K.permute_dimensions(y_pred, (0, 2, 1))", "(B, 3, 2)"),
    ("(B, 2, 3)", "(B, 2, 3)", "np.transpose(y_pred)", "(3, 2, B)"),
    ("(B, 2, 3)", "(B, 2, 3)", "tf.transpose(y_pred, perm=[0, 1])", "!does not match rank 3"),
    ("(B, 2, 3)", "(B, 3, 4)", "tf.matmul(y_true, y_pred)", "(B, 2, 4)"),
    ("(B, 2, 3)", "(B, 2, 3)", "tf.matmul(y_true, y_pred, transpose_b=True)", "(B, 2, 2)"),
    ("(B, 2, 3)", "(B, 2, 3)", "y_true @ y_pred", "!inner sizes differ: 3 vs 2"),
    ("(B, 2, 3)", "(B, 3, 4)", "ops.matmul(y_true, y_pred)", "(B, 2, 4)"),
    # keras.losses functions (reduce the last axis) and Loss objects (reduce to a scalar)
    ("(B, 3)", "(B, 3)", "keras.losses.categorical_crossentropy(y_true, y_pred)", "(B,)"),
    ("(B, H, W, 3)", "(B, H, W, 3)", "keras.losses.categorical_crossentropy(y_true, y_pred)", "(B, H, W)"),
    ("(B, 1)", "(B, 3)", "keras.losses.categorical_crossentropy(y_true, y_pred)", "!needs operands of the same shape"),
    ("(B,)", "(B, 1)", "keras.losses.binary_crossentropy(y_true, y_pred)", "!needs operands of the same shape"),
    ("(B, 1)", "(B, 1)", "keras.losses.binary_crossentropy(y_true, y_pred)", "(B,)"),
    ("(B,)", "(B, 3)", "keras.losses.sparse_categorical_crossentropy(y_true, y_pred)", "(B,)"),
    ("(B, 1)", "(B, 3)", "keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)", "(B,)"),
    ("(B,)", "(B, 1)", "keras.losses.mean_squared_error(y_true, y_pred)", "(B,)"),
    ("(B, 2)", "(B, 3)", "keras.losses.mse(y_true, y_pred)", "!cannot broadcast"),
    ("(B,)", "(B, 1)", "tfl.mean_squared_error(y_true, y_pred)", None),
    ("(B, 4)", "(B, 4)", "tfl.huber(y_true, y_pred)", "(B,)"),
    ("(B, 4)", "(B, 4)", "ops.binary_crossentropy(y_true, y_pred)", "(B, 4)"),
    ("(B, 4)", "(B, 4)", "ops.categorical_crossentropy(y_true, y_pred)", "(B,)"),
    ("(B, 4)", "(B, 4)", "K.binary_crossentropy(y_true, y_pred)", "(B, 4)"),
    ("(B, 4)", "(B, 1)", "K.binary_crossentropy(y_true, y_pred)", "!needs operands of the same shape"),
    ("(B, 4)", "(B, 4)", "tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)", "(B, 4)"),
    ("(B, 4)", "(B, 4)", "tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)", "(B,)"),
    ("(B,)", "(B, 4)", "tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)", "(B,)"),
    ("(B, 4)", "(B, 1)", "tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)", "!needs operands"),
    ("(B, 4)", "(B, 4)", "keras.losses.BinaryCrossentropy()(y_true, y_pred)", "()"),
    ("(B, 4)", "(B, 4)", "keras.losses.BinaryCrossentropy(reduction=None)(y_true, y_pred)", "(B,)"),
    ("(B,)", "(B, 1)", "keras.losses.BinaryCrossentropy(reduction='none')(y_true, y_pred)", "(B,)"),
    ("(B, 4)", "(B, 4)", "tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE)(y_true, y_pred)", "(B,)"),
    ("(B, 2)", "(B, 3)", "keras.losses.CategoricalCrossentropy()(y_true, y_pred)", "!needs operands of the same shape"),
    ("(B, 4)", "(B, 4)", "keras.losses.dice(y_true, y_pred)", None),
    # shapes of shapes
    ("(B, 4)", "(B, 4)", "tf.reshape(y_pred, tf.shape(y_true))", "(B, 4)"),
    ("(B, 4)", "(B, 4)", "tf.zeros_like(y_pred)", "(B, 4)"),
    ("(B, 4)", "(B, 4)", "tf.cast(tf.shape(y_pred)[0], tf.float32)", "()"),
]


def facts_for(source: str, name: str = "loss"):
    module = cst.parse_module(source)
    ctx = FileContext("t.py", source, module)
    (fn,) = [f for f in ctx.functions if f.name == name]
    return ctx.shapes(fn)


def _source(yt: str, yp: str, expr: str) -> str:
    return HEADER + textwrap.dedent(
        f"""
        def loss(y_true, y_pred):
            # y_true shape: {yt}
            # y_pred shape: {yp}
            return {expr}
        """
    )


@pytest.mark.parametrize("yt,yp,expr,expected", CASES, ids=[c[2][:60] for c in CASES])
def test_op_semantics(yt: str, yp: str, expr: str, expected: str | None) -> None:
    facts = facts_for(_source(yt, yp, expr))
    ((_, value),) = facts.returns
    shape = getattr(value, "shape", None)
    messages = [p.message for p in facts.problems]
    if expected is None:
        assert shape is None and not messages, (shape, messages)
    elif expected.startswith("!"):
        assert any(expected[1:] in m for m in messages), messages
    else:
        assert not messages, messages
        assert str(shape) == expected


def test_every_family_reaches_every_core_op() -> None:
    """The table has the core ops in each family that has them (guards against a typo'd name)."""
    from losscheck.shapes.ops import TABLE

    core = {
        "tensorflow": "reduce_mean reduce_sum expand_dims squeeze concat stack reshape transpose matmul gather one_hot where cast clip_by_value",
        "keras.ops": "mean sum expand_dims squeeze concatenate stack reshape transpose matmul take one_hot where cast clip",
        "tf.keras.backend": "mean sum expand_dims squeeze concatenate stack reshape transpose gather one_hot cast clip",
        "numpy": "mean sum expand_dims squeeze concatenate stack reshape transpose matmul take where clip",
    }
    missing = [(fam, op) for fam, ops in core.items() for op in ops.split() if (fam, op) not in TABLE]
    assert not missing


def test_python_constants_and_module_constants_flow_into_ops() -> None:
    source = HEADER + textwrap.dedent(
        """
        NUM_CLASSES = 4

        def loss(y_true, y_pred):
            # y_true shape: (batch_size,)
            # y_pred shape: (batch_size, 3)
            depth = NUM_CLASSES
            onehot = tf.one_hot(tf.cast(y_true, tf.int32), depth)
            return tf.reduce_sum(onehot * y_pred, axis=-1)
        """
    )
    facts = facts_for(source)
    assert any("has depth 4 but `y_pred` has 3 channels" in p.message for p in facts.problems)


def test_a_module_constant_assigned_twice_is_not_trusted() -> None:
    source = HEADER + textwrap.dedent(
        """
        NUM_CLASSES = 4
        NUM_CLASSES = 3

        def loss(y_true, y_pred):
            # y_true shape: (batch_size,)
            # y_pred shape: (batch_size, 3)
            onehot = tf.one_hot(tf.cast(y_true, tf.int32), NUM_CLASSES)
            return tf.reduce_sum(onehot * y_pred, axis=-1)
        """
    )
    facts = facts_for(source)
    assert facts.problems == []
    assert facts.return_shapes() == [None]  # the depth is unknown, so is everything after it


@pytest.mark.parametrize(
    "expr,expected",
    [
        ("abs(y_true - y_pred)", "(B, 3)"),
        ("sum([y_true[:, 0], y_pred[:, 1], y_pred[:, 2]])", "(B,)"),
        ("sum([y_true[:, 0], y_pred[:, 1:2]])", "!the sum broadcasts to (B, B)"),
        ("tf.losses.categorical_crossentropy(y_true, y_pred)", "(B,)"),
        ("keras.metrics.mean_squared_error(y_true, y_pred)", "(B,)"),
        ("tf.ones((len(y_pred), 3)) * y_pred", "(B, 3)"),
        ("np.zeros((3, 2)) + y_pred", "!they do not broadcast"),
        ("tf.fill(tf.shape(y_pred), 0.5) - y_pred", "(B, 3)"),
        ("tf.ones(get_shape()) * y_pred", None),
    ],
)
def test_builtins_and_aliases(expr: str, expected: str | None) -> None:
    test_op_semantics("(B, 3)", "(B, 3)", expr, expected)


def test_module_level_loss_objects_are_followed() -> None:
    source = HEADER + textwrap.dedent(
        """
        bce = keras.losses.BinaryCrossentropy(reduction="none")
        cce = keras.losses.CategoricalCrossentropy()

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 1)
            # y_pred shape: (batch_size, 4)
            return bce(y_true, y_pred[:, :1]) + cce(y_true, y_pred)
        """
    )
    facts = facts_for(source)
    assert [p.message for p in facts.problems] == [
        "`y_true` is (B, 1) and `y_pred` is (B, 4): categorical_crossentropy needs operands of the same shape"
    ]
