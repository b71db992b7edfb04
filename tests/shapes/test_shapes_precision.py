"""Precision: correct, realistic loss functions with declared shapes draw no shape-mismatch.

Each loss is the kind people write for multi-task models (segmentation + regression heads,
masked losses, focal/dice, pairwise/contrastive, YOLO-style packed outputs), with shapes
declared the ways users do. Every one is checked to be interpreted (the returned value's
shape is inferred), so "no finding" means the interpreter looked and found nothing, not
that it gave up. Each known-buggy variant next to them must be reported.
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
from jaxtyping import Float, Int
"""

CORRECT = {
    "masked_mse": """
        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 64, 64, 3)   channel 2 is the mask
            # y_pred shape: (batch_size, 64, 64, 2)
            mask = y_true[..., 2:3]
            err = tf.square(y_true[..., 0:2] - y_pred) * mask
            return tf.reduce_sum(err, axis=[1, 2, 3]) / tf.maximum(tf.reduce_sum(mask, axis=[1, 2, 3]), 1.0)
    """,
    "dice": """
        def loss(y_true, y_pred, smooth=1.0):
            # y_true shape: (batch_size, H, W, 1)
            # y_pred shape: (batch_size, H, W, 1)
            inter = K.sum(y_true * y_pred, axis=[1, 2, 3])
            union = K.sum(y_true, axis=[1, 2, 3]) + K.sum(y_pred, axis=[1, 2, 3])
            return 1.0 - (2.0 * inter + smooth) / (union + smooth)
    """,
    "focal": """
        def loss(y_true, y_pred, gamma=2.0, alpha=0.25):
            # y_true shape: (batch_size, 5)
            # y_pred shape: (batch_size, 5)
            p = tf.clip_by_value(y_pred, K.epsilon(), 1.0 - K.epsilon())
            pt = tf.where(tf.equal(y_true, 1.0), p, 1.0 - p)
            w = tf.where(tf.equal(y_true, 1.0), alpha, 1.0 - alpha)
            return tf.reduce_sum(-w * tf.pow(1.0 - pt, gamma) * tf.math.log(pt), axis=-1)
    """,
    "sparse_onehot": """
        NUM_CLASSES = 4

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 1)
            # y_pred shape: (batch_size, 4)
            labels = tf.one_hot(tf.cast(tf.squeeze(y_true, axis=-1), tf.int32), NUM_CLASSES)
            return keras.losses.categorical_crossentropy(labels, y_pred, from_logits=True)
    """,
    "packed_heads": """
        def loss(y_true: Float[tf.Tensor, "b 7"], y_pred: Float[tf.Tensor, "b 7"]):
            presence = y_true[:, 0]
            cls = keras.losses.categorical_crossentropy(y_true[:, 1:4], y_pred[:, 1:4])
            box = ops.mean(ops.abs(y_true[:, 4:] - y_pred[:, 4:]), axis=-1)
            obj = keras.losses.binary_crossentropy(y_true[:, :1], y_pred[:, :1])
            return obj + presence * (cls + box)
    """,
    "pairwise_contrastive": """
        def loss(y_true, y_pred, margin=1.0):
            # y_true shape: (batch_size,)     the class id
            # y_pred shape: (batch_size, 16)  the embedding
            same = tf.cast(tf.equal(y_true[:, None], y_true[None, :]), tf.float32)
            sq = tf.reduce_sum(tf.square(y_pred[:, None, :] - y_pred[None, :, :]), axis=-1)
            pair = same * sq + (1.0 - same) * tf.square(tf.maximum(margin - tf.sqrt(sq + 1e-9), 0.0))
            return tf.reduce_mean(pair, axis=-1)
    """,
    "channels_first": """
        def loss(y_true, y_pred):
            \"\"\"y_true: array of shape (N, 3, 32, 32); y_pred: array of shape (N, 3, 32, 32).\"\"\"
            t = tf.transpose(y_true, perm=[0, 2, 3, 1])
            p = tf.transpose(y_pred, perm=[0, 2, 3, 1])
            return tf.reduce_mean(keras.losses.categorical_crossentropy(t, p), axis=[1, 2])
    """,
    "flatten_then_reduce": """
        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 8, 8, 2)
            # y_pred shape: (batch_size, 8, 8, 2)
            t = tf.reshape(y_true, [tf.shape(y_true)[0], -1])
            p = tf.reshape(y_pred, (-1, 128))
            return tf.reduce_mean(tf.abs(t - p), axis=1)
    """,
    "loss_object_none": """
        def loss(y_true, y_pred):
            # y_true shape: (batch_size,)
            # y_pred shape: (batch_size, 1)
            bce = keras.losses.BinaryCrossentropy(reduction=None)
            return bce(y_true, y_pred)
    """,
    "branches": """
        def loss(y_true, y_pred, use_l1=False):
            # y_true shape: (batch_size, 3)
            # y_pred shape: (batch_size, 3)
            if use_l1:
                err = tf.abs(y_true - y_pred)
            else:
                err = tf.square(y_true - y_pred)
            return tf.reduce_mean(err, axis=-1)
    """,
    "stacked_tasks": """
        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 2)
            # y_pred shape: (batch_size, 2)
            per_task = tf.stack([tf.square(y_true[:, 0] - y_pred[:, 0]), tf.abs(y_true[:, 1] - y_pred[:, 1])], axis=-1)
            return tf.reduce_sum(per_task * tf.constant([0.7, 0.3]), axis=-1)
    """,
}

BUGGY = {
    "slice_to_index": ("masked_mse", "y_true[..., 0:2] - y_pred", "y_true[..., 0] - y_pred"),
    "mask_channel_past_end": ("masked_mse", "mask = y_true[..., 2:3]", "mask = y_true[..., 3:4]"),
    "wrong_depth": ("sparse_onehot", "NUM_CLASSES = 4", "NUM_CLASSES = 5"),
    "box_vs_class": ("packed_heads", "y_true[:, 4:] - y_pred[:, 4:]", "y_true[:, 4:] - y_pred[:, 3:]"),
    "obj_index": ("packed_heads", "y_true[:, :1], y_pred[:, :1]", "y_true[:, 0], y_pred[:, :1]"),
    "perm_mismatch": ("channels_first", "perm=[0, 2, 3, 1])\n    p", "perm=[0, 1, 2, 3])\n    p"),
    "reshape_size": ("flatten_then_reduce", "(-1, 128)", "(-1, 100)"),
    "stack_then_weights": ("stacked_tasks", "[0.7, 0.3]", "[0.7, 0.2, 0.1]"),
}


def facts_for(body: str):
    source = HEADER + textwrap.dedent(body)
    ctx = FileContext("t.py", source, cst.parse_module(source))
    (fn,) = [f for f in ctx.functions if f.name == "loss"]
    return ctx.shapes(fn)


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_losses_draw_nothing_and_are_understood(name):
    facts = facts_for(CORRECT[name])
    assert [p.message for p in facts.problems] == []
    shapes = facts.return_shapes()
    assert shapes and all(s is not None for s in shapes), f"{name}: the return shape was not inferred"
    assert all(str(s) == "(B,)" for s in shapes), shapes


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_variants_are_reported(name):
    base, old, new = BUGGY[name]
    body = textwrap.dedent(CORRECT[base])
    assert old in body, (name, old)
    facts = facts_for(body.replace(old, new))
    assert facts.problems, f"{name}: not reported"
