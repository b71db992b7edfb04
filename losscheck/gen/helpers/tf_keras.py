"""tf.keras functions of generated loss modules: TensorFlow 2 ops, for Keras 2
(tf-keras).

The formulas are Keras 3's (e.g. no ``+ epsilon`` inside the log), so a tf.keras module
and a Keras 3 module generated from the same layout give the same numbers (but for label
smoothing: a smoothed term calls tf.keras's own loss, as a Keras 3 module calls Keras 3's).
Each term function returns one value per position, the channels (last axis) reduced, as
the loss of the same name does with ``reduction=None``. Copied verbatim into generated
modules (see the package docstring).
"""

import tensorflow as tf


def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where
    none counts."""
    return tf.reduce_sum(loss * mask, axis=axes) / tf.maximum(
        tf.reduce_sum(mask, axis=axes), 1.0
    )


def _lc_mean_squared_error(truth, pred):
    """Keras's ``mean_squared_error``: mean squared error over the last axis."""
    return tf.reduce_mean(tf.square(truth - pred), axis=-1)


def _lc_mean_absolute_error(truth, pred):
    """Keras's ``mean_absolute_error``: mean absolute error over the last axis."""
    return tf.reduce_mean(tf.abs(truth - pred), axis=-1)


def _lc_huber(truth, pred, delta):
    """Keras's ``huber``: quadratic up to ``delta``, linear beyond, mean over the last
    axis."""
    error = pred - truth
    abs_error = tf.abs(error)
    quadratic = 0.5 * tf.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return tf.reduce_mean(tf.where(abs_error <= delta, quadratic, linear), axis=-1)


def _lc_log_cosh(truth, pred):
    """Keras's ``log_cosh``, in its overflow-free form: x + softplus(-2x) - log(2)."""
    error = pred - truth
    return tf.reduce_mean(
        error + tf.math.softplus(-2.0 * error) - 0.6931471805599453, axis=-1
    )


def _lc_bce_elements(truth, pred, from_logits):
    """Element-wise binary crossentropy as Keras 3 computes it (probabilities clipped to
    [eps, 1 - eps])."""
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=truth, logits=pred)
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(pred, epsilon, 1.0 - epsilon)
    return -(truth * tf.math.log(pred) + (1.0 - truth) * tf.math.log(1.0 - pred))


def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    """Keras's ``binary_crossentropy``; with ``pos_weight``, elements whose target is 1
    weigh ``pos_weight`` before the mean over the last axis."""
    elements = _lc_bce_elements(truth, pred, from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return tf.reduce_mean(elements, axis=-1)


def _lc_smoothed_binary_crossentropy(
    truth, pred, from_logits, pos_weight, label_smoothing
):
    """Keras's ``binary_crossentropy`` with ``label_smoothing`` and a ``pos_weight``.

    tf.keras's function has no per-element weight, so this is the element-wise
    crossentropy on targets smoothed as ``tf.keras.losses.binary_crossentropy`` smooths
    them, weighted by the unsmoothed targets, then the mean over the last axis.
    """
    smoothed = truth * (1.0 - label_smoothing) + 0.5 * label_smoothing
    elements = _lc_bce_elements(smoothed, pred, from_logits)
    elements = elements * (truth * pos_weight + (1.0 - truth))
    return tf.reduce_mean(elements, axis=-1)


def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    """Keras's ``binary_focal_crossentropy``; ``alpha=None`` is
    ``apply_class_balancing=False``."""
    if from_logits:
        pred = tf.sigmoid(pred)
    bce = _lc_bce_elements(truth, pred, from_logits=False)
    p_t = truth * pred + (1.0 - truth) * (1.0 - pred)
    focal = tf.pow(1.0 - p_t, gamma) * bce
    if alpha is not None:
        focal = (truth * alpha + (1.0 - truth) * (1.0 - alpha)) * focal
    return tf.reduce_mean(focal, axis=-1)


def _lc_categorical_crossentropy(truth, pred, from_logits):
    """Keras's ``categorical_crossentropy`` over the last axis (one-hot or soft
    targets)."""
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(
            labels=truth, logits=pred, axis=-1
        )
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(
        pred / tf.reduce_sum(pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon
    )
    return -tf.reduce_sum(truth * tf.math.log(pred), axis=-1)


def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    """Keras's ``sparse_categorical_crossentropy``; ``index`` holds the class in its one
    channel."""
    index = tf.cast(index[..., 0], tf.int32)
    if not from_logits:
        epsilon = tf.keras.backend.epsilon()
        pred = tf.math.log(tf.clip_by_value(pred, epsilon, 1.0 - epsilon))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=index, logits=pred)


def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    """Keras's ``categorical_focal_crossentropy`` over the last axis."""
    if from_logits:
        pred = tf.nn.softmax(pred, axis=-1)
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(
        pred / tf.reduce_sum(pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon
    )
    return tf.reduce_sum(
        alpha * tf.pow(1.0 - pred, gamma) * (-truth * tf.math.log(pred)), axis=-1
    )


def _lc_dice(truth, pred, axes):
    """Keras 3's ``dice`` per example: 1 - 2 |truth * pred| / (|truth| + |pred|) over
    ``axes``."""
    overlap = tf.reduce_sum(truth * pred, axis=axes)
    total = (
        tf.reduce_sum(truth, axis=axes)
        + tf.reduce_sum(pred, axis=axes)
        + tf.keras.backend.epsilon()
    )
    return 1.0 - 2.0 * overlap / total


def _lc_in_classes(labels, classes):
    """Where ``labels`` (a class per position) is one of ``classes``: a boolean tensor
    shaped like ``labels``."""
    listed = tf.cast(tf.constant(classes), labels.dtype)
    return tf.reduce_any(tf.equal(tf.expand_dims(labels, -1), listed), axis=-1)


def _lc_true_class_weight(truth, class_weights, sparse):
    """The weight of the true class at each position: ``truth`` is one-hot (or soft)
    over the last axis, or, ``sparse``, the class index in its one channel."""
    weights = tf.constant(class_weights, truth.dtype)
    if sparse:
        return tf.gather(weights, tf.cast(truth[..., 0], tf.int32))
    return tf.reduce_sum(truth * weights, axis=-1)
