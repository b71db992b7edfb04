"""Keras 3 emitter: ``keras.ops`` only, so the module runs on the TensorFlow, JAX and PyTorch backends."""

from __future__ import annotations

from losscheck.gen.emitters._source import _LN2, SHARED_HELPERS, SourceEmitter

_HELPERS = {
    **SHARED_HELPERS,
    "_lc_masked_mean": '''def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where none counts."""
    return ops.sum(loss * mask, axis=axes) / ops.maximum(ops.sum(mask, axis=axes), 1.0)''',
    "_lc_mean_squared_error": '''def _lc_mean_squared_error(truth, pred):
    return ops.mean(ops.square(truth - pred), axis=-1)''',
    "_lc_mean_absolute_error": '''def _lc_mean_absolute_error(truth, pred):
    return ops.mean(ops.abs(truth - pred), axis=-1)''',
    "_lc_huber": '''def _lc_huber(truth, pred, delta):
    error = pred - truth
    abs_error = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return ops.mean(ops.where(abs_error <= delta, quadratic, linear), axis=-1)''',
    "_lc_log_cosh": f'''def _lc_log_cosh(truth, pred):
    error = pred - truth
    return ops.mean(error + ops.softplus(-2.0 * error) - {_LN2}, axis=-1)''',
    "_lc_binary_crossentropy": '''def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    elements = ops.binary_crossentropy(truth, pred, from_logits=from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return ops.mean(elements, axis=-1)''',
    "_lc_binary_focal_crossentropy": '''def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    if from_logits:
        pred = ops.sigmoid(pred)
    bce = ops.binary_crossentropy(truth, pred, from_logits=False)
    p_t = truth * pred + (1.0 - truth) * (1.0 - pred)
    focal = ops.power(1.0 - p_t, gamma) * bce
    if alpha is not None:
        focal = (truth * alpha + (1.0 - truth) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=-1)''',
    "_lc_categorical_crossentropy": '''def _lc_categorical_crossentropy(truth, pred, from_logits):
    return ops.categorical_crossentropy(truth, pred, from_logits=from_logits, axis=-1)''',
    "_lc_sparse_categorical_crossentropy": '''def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    # the float index goes in as it is: the backend casts it to its own integer type once
    return ops.sparse_categorical_crossentropy(index[..., 0], pred, from_logits=from_logits, axis=-1)''',
    "_lc_categorical_focal_crossentropy": '''def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    if from_logits:
        pred = ops.softmax(pred, axis=-1)
    epsilon = keras.config.epsilon()
    pred = ops.clip(pred / ops.sum(pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon)
    return ops.sum(alpha * ops.power(1.0 - pred, gamma) * (-truth * ops.log(pred)), axis=-1)''',
    "_lc_dice": '''def _lc_dice(truth, pred, axes):
    overlap = ops.sum(truth * pred, axis=axes)
    total = ops.sum(truth, axis=axes) + ops.sum(pred, axis=axes) + keras.config.epsilon()
    return 1.0 - 2.0 * overlap / total''',
}


class KerasEmitter(SourceEmitter):
    framework = "keras"
    imports = ("import keras", "import numpy as np", "from keras import ops")
    HELPERS = _HELPERS
    OPS = {
        "cast": "ops.cast({0}, {1})",
        "transpose": "ops.transpose({0}, {1})",
        "equal": "ops.equal({0}, {1})",
        "not_equal": "ops.not_equal({0}, {1})",
        "logical_not": "ops.logical_not({0})",
        "logical_and": "ops.logical_and({0}, {1})",
        "any_last": "ops.any({0}, axis=-1)",
        "where": "ops.where({0}, {1}, {2})",
        "fill_like": "{1}",  # keras.ops.where broadcasts a Python number in the tensor's dtype
        "one_hot": 'ops.one_hot(ops.cast({0}[..., 0], "int32"), {1}, dtype=y_pred.dtype)',
        "mean": "ops.mean({0}, axis={1})",
        "take_last": "ops.take({0}, {1}, axis=-1)",
        "sigmoid": "ops.sigmoid({0})",
        "softmax_last": "ops.softmax({0}, axis=-1)",
        "zeros_per_example": "ops.zeros_like(ops.sum(y_pred, axis={1}))",
    }

    def register_decorator(self, package: str) -> str:
        return f"keras.saving.register_keras_serializable(package={package!r})"
