"""Keras 3 functions of generated loss modules: ``keras.ops`` only, so they run on every
backend.

Each term function returns one value per position, the channels (last axis) reduced, as
the Keras 3 loss of the same name does with ``reduction=None``; the generated task
function masks and averages those values. A term function calls Keras's own loss where
Keras has one that takes the term's arguments; it stays a function so that every
framework's module calls its terms alike (the tf.keras and PyTorch helpers have the same
signatures). Where it computes a loss itself, a comment says why. Copied verbatim into
generated modules (see the package docstring).
"""

import keras
from keras import ops


def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where
    none counts."""
    # Keras has no masked mean per example: its reductions weigh samples, not positions.
    return ops.sum(loss * mask, axis=axes) / ops.maximum(ops.sum(mask, axis=axes), 1.0)


def _lc_mean_squared_error(truth, pred):
    """``keras.losses.mean_squared_error``: mean squared error over the last axis."""
    return keras.losses.mean_squared_error(truth, pred)


def _lc_mean_absolute_error(truth, pred):
    """``keras.losses.mean_absolute_error``: mean absolute error over the last axis."""
    return keras.losses.mean_absolute_error(truth, pred)


def _lc_huber(truth, pred, delta):
    """``keras.losses.huber``: quadratic up to ``delta``, linear beyond, mean over the
    last axis."""
    return keras.losses.huber(truth, pred, delta=delta)


def _lc_log_cosh(truth, pred):
    """``keras.losses.log_cosh`` (overflow-free: x + softplus(-2x) - log(2))."""
    return keras.losses.log_cosh(truth, pred)


def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    """``keras.losses.binary_crossentropy``; with ``pos_weight``, elements whose target
    is 1 weigh ``pos_weight`` before the mean over the last axis."""
    # Keras's function has no per-element weight: its element-wise op, weighted, then
    # the same mean over the last axis.
    elements = ops.binary_crossentropy(truth, pred, from_logits=from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return ops.mean(elements, axis=-1)


def _lc_smoothed_binary_crossentropy(
    truth, pred, from_logits, pos_weight, label_smoothing
):
    """``keras.losses.binary_crossentropy`` with ``label_smoothing`` and a
    ``pos_weight``.

    Keras has no per-element weight, so this is its element-wise crossentropy on targets
    smoothed as ``keras.losses.binary_crossentropy`` smooths them, weighted by the
    unsmoothed targets, then the mean over the last axis.
    """
    smoothed = truth * (1.0 - label_smoothing) + 0.5 * label_smoothing
    elements = ops.binary_crossentropy(smoothed, pred, from_logits=from_logits)
    elements = elements * (truth * pos_weight + (1.0 - truth))
    return ops.mean(elements, axis=-1)


def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    """``keras.losses.binary_focal_crossentropy``; ``alpha=None`` is
    ``apply_class_balancing=False``."""
    return keras.losses.binary_focal_crossentropy(
        truth,
        pred,
        apply_class_balancing=alpha is not None,
        alpha=0.25 if alpha is None else alpha,
        gamma=gamma,
        from_logits=from_logits,
    )


def _lc_categorical_crossentropy(truth, pred, from_logits):
    """``keras.losses.categorical_crossentropy`` over the last axis (one-hot or soft
    targets)."""
    return keras.losses.categorical_crossentropy(truth, pred, from_logits=from_logits)


def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    """``keras.losses.sparse_categorical_crossentropy``; ``index`` holds the class in
    its one channel."""
    # the float index goes in as it is: the backend casts it to its own integer type
    # once
    return keras.losses.sparse_categorical_crossentropy(
        index[..., 0], pred, from_logits=from_logits
    )


def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    """``keras.losses.categorical_focal_crossentropy`` over the last axis."""
    return keras.losses.categorical_focal_crossentropy(
        truth, pred, alpha=alpha, gamma=gamma, from_logits=from_logits
    )


def _lc_dice(truth, pred, axes):
    """``keras.losses.dice`` per example: 1 - 2 |truth * pred| / (|truth| + |pred|) over
    ``axes``."""
    return keras.losses.dice(truth, pred, axis=axes)


def _lc_in_classes(labels, classes):
    """Where ``labels`` (a class per position) is one of ``classes``: a boolean tensor
    shaped like ``labels``."""
    listed = ops.cast(ops.convert_to_tensor(classes), labels.dtype)
    return ops.any(ops.equal(ops.expand_dims(labels, -1), listed), axis=-1)


def _lc_true_class_weight(truth, class_weights, sparse):
    """The weight of the true class at each position: ``truth`` is one-hot (or soft)
    over the last axis, or, ``sparse``, the class index in its one channel."""
    weights = ops.cast(ops.convert_to_tensor(class_weights), truth.dtype)
    if sparse:
        return ops.take(weights, ops.cast(truth[..., 0], "int32"), axis=0)
    return ops.sum(truth * weights, axis=-1)
