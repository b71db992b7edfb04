"""tf.keras emitter: TensorFlow 2 ops for Keras 2 (tf-keras, ``TF_USE_LEGACY_KERAS=1``).

Same formulas as the Keras 3 emitter (Keras 3's, e.g. no ``+ epsilon`` inside the log),
so both frameworks give the same numbers for the same layout.
"""

from __future__ import annotations

from losscheck.gen.emitters._source import _LN2, SHARED_HELPERS, SourceEmitter

_HELPERS = {
    **SHARED_HELPERS,
    "_lc_masked_mean": '''def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where none counts."""
    return tf.reduce_sum(loss * mask, axis=axes) / tf.maximum(tf.reduce_sum(mask, axis=axes), 1.0)''',
    "_lc_mean_squared_error": '''def _lc_mean_squared_error(truth, pred):
    return tf.reduce_mean(tf.square(truth - pred), axis=-1)''',
    "_lc_mean_absolute_error": '''def _lc_mean_absolute_error(truth, pred):
    return tf.reduce_mean(tf.abs(truth - pred), axis=-1)''',
    "_lc_huber": '''def _lc_huber(truth, pred, delta):
    error = pred - truth
    abs_error = tf.abs(error)
    quadratic = 0.5 * tf.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return tf.reduce_mean(tf.where(abs_error <= delta, quadratic, linear), axis=-1)''',
    "_lc_log_cosh": f'''def _lc_log_cosh(truth, pred):
    error = pred - truth
    return tf.reduce_mean(error + tf.math.softplus(-2.0 * error) - {_LN2}, axis=-1)''',
    "_lc_bce_elements": '''def _lc_bce_elements(truth, pred, from_logits):
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=truth, logits=pred)
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(pred, epsilon, 1.0 - epsilon)
    return -(truth * tf.math.log(pred) + (1.0 - truth) * tf.math.log(1.0 - pred))''',
    "_lc_binary_crossentropy": '''def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    elements = _lc_bce_elements(truth, pred, from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return tf.reduce_mean(elements, axis=-1)''',
    "_lc_binary_focal_crossentropy": '''def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    if from_logits:
        pred = tf.sigmoid(pred)
    bce = _lc_bce_elements(truth, pred, False)
    p_t = truth * pred + (1.0 - truth) * (1.0 - pred)
    focal = tf.pow(1.0 - p_t, gamma) * bce
    if alpha is not None:
        focal = (truth * alpha + (1.0 - truth) * (1.0 - alpha)) * focal
    return tf.reduce_mean(focal, axis=-1)''',
    "_lc_categorical_crossentropy": '''def _lc_categorical_crossentropy(truth, pred, from_logits):
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=truth, logits=pred, axis=-1)
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(pred / tf.reduce_sum(pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon)
    return -tf.reduce_sum(truth * tf.math.log(pred), axis=-1)''',
    "_lc_sparse_categorical_crossentropy": '''def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    index = tf.cast(index[..., 0], tf.int32)
    if not from_logits:
        epsilon = tf.keras.backend.epsilon()
        pred = tf.math.log(tf.clip_by_value(pred, epsilon, 1.0 - epsilon))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=index, logits=pred)''',
    "_lc_categorical_focal_crossentropy": '''def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    if from_logits:
        pred = tf.nn.softmax(pred, axis=-1)
    epsilon = tf.keras.backend.epsilon()
    pred = tf.clip_by_value(pred / tf.reduce_sum(pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon)
    return tf.reduce_sum(alpha * tf.pow(1.0 - pred, gamma) * (-truth * tf.math.log(pred)), axis=-1)''',
    "_lc_dice": '''def _lc_dice(truth, pred, axes):
    overlap = tf.reduce_sum(truth * pred, axis=axes)
    total = tf.reduce_sum(truth, axis=axes) + tf.reduce_sum(pred, axis=axes) + tf.keras.backend.epsilon()
    return 1.0 - 2.0 * overlap / total''',
}


class TfKerasEmitter(SourceEmitter):
    framework = "tf.keras"
    imports = ("import numpy as np", "import tensorflow as tf")
    HELPERS = _HELPERS
    OPS = {
        "cast": "tf.cast({0}, {1})",
        "transpose": "tf.transpose({0}, {1})",
        "equal": "tf.equal({0}, {1})",
        "not_equal": "tf.not_equal({0}, {1})",
        "logical_not": "tf.logical_not({0})",
        "logical_and": "tf.logical_and({0}, {1})",
        "any_last": "tf.reduce_any({0}, axis=-1)",
        "where": "tf.where({0}, {1}, {2})",
        "fill_like": "tf.fill(tf.shape({0}), tf.constant({1}, {0}.dtype))",
        "one_hot": "tf.one_hot(tf.cast({0}[..., 0], tf.int32), {1}, dtype=y_pred.dtype)",
        "mean": "tf.reduce_mean({0}, axis={1})",
        "take_last": "tf.gather({0}, {1}, axis=-1)",
        "sigmoid": "tf.sigmoid({0})",
        "softmax_last": "tf.nn.softmax({0}, axis=-1)",
        "zeros_per_example": "tf.zeros_like(tf.reduce_sum(y_pred, axis={1}))",
    }

    def register_decorator(self, package: str) -> str:
        return f"tf.keras.utils.register_keras_serializable(package={package!r})"

    def use(self, helper: str) -> str:
        if helper in ("_lc_binary_crossentropy", "_lc_binary_focal_crossentropy"):
            super().use("_lc_bce_elements")
        return super().use(helper)
