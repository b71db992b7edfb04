"""Keras 3 classes of generated modules: the task metric wrapper and the weight
scheduler.

Copied verbatim into generated modules that need them (see the package docstring), so a
generated module never imports losscheck. ``_lc_register`` is the generated module's own
registration decorator; the one here lets the classes be imported and tested in place.
"""

import keras
from keras import ops

_lc_register = keras.saving.register_keras_serializable(package="losscheck.helpers")


@_lc_register
class _lc_TaskMetric(keras.metrics.Metric):
    """One task's Keras metric.

    ``inputs(y_true, y_pred)`` gives the task's ``(truth, pred, weight)``, channels
    last, with its mask as ``weight``. They are flattened to one row per position (the
    ``classes`` channels only; a sparse index one-hot over ``one_hot`` classes) before
    ``metric`` sees them, so positions that do not count weigh 0. ``per_channel``: the
    metric counts every channel of a row (precision, recall, AUC, IoU of binary tasks),
    so each channel gets its row's weight.
    """

    def __init__(
        self,
        inputs,
        metric,
        classes=None,
        one_hot=None,
        per_channel=False,
        name=None,
        dtype=None,
    ):
        super().__init__(name=name or metric.name, dtype=dtype)
        self.inputs = inputs
        self.metric = metric
        self.classes = None if classes is None else tuple(classes)
        self.one_hot = one_hot
        self.per_channel = per_channel

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth, pred, weight = self.inputs(y_true, y_pred)
        if sample_weight is not None:
            # Keras's per-example weight, on every position of the example
            shape = (-1,) + (1,) * (len(weight.shape) - 1)
            weight = weight * ops.reshape(ops.cast(sample_weight, weight.dtype), shape)
        if self.one_hot is not None:
            index = ops.cast(truth[..., 0], "int32")
            truth = ops.one_hot(index, self.one_hot, dtype=pred.dtype)
        if self.classes is not None:
            truth = ops.take(truth, list(self.classes), axis=-1)
            pred = ops.take(pred, list(self.classes), axis=-1)
        truth = ops.reshape(truth, (-1, truth.shape[-1]))
        pred = ops.reshape(pred, (-1, pred.shape[-1]))
        weight = ops.reshape(weight, (-1,))
        if self.per_channel:
            weight = ops.expand_dims(weight, -1) * ops.ones_like(pred)
        self.metric.update_state(truth, pred, sample_weight=weight)

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "inputs": keras.saving.serialize_keras_object(self.inputs),
            "metric": keras.saving.serialize_keras_object(self.metric),
            "classes": None if self.classes is None else list(self.classes),
            "one_hot": self.one_hot,
            "per_channel": self.per_channel,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inputs"] = keras.saving.deserialize_keras_object(config["inputs"])
        config["metric"] = keras.saving.deserialize_keras_object(config["metric"])
        return cls(**config)


class WeightScheduler(keras.callbacks.Callback):
    """Set loss weights at the start of every epoch: ``schedule`` maps a ``WEIGHTS`` key
    (``"output"`` or ``"output.task"``) to a function of the epoch (0-based) giving its
    weight, e.g. ``{"seg.size": lambda epoch: min(1.0, epoch / 10)}`` for a warm-up.
    Keys it does not name keep their values; an unknown key is an error when the
    callback is made."""

    def __init__(self, weights, schedule):
        super().__init__()
        unknown = sorted(set(schedule) - set(weights))
        if unknown:
            raise ValueError(
                f"no loss weight named {unknown}; the weights are {sorted(weights)}"
            )
        self.weights_by_key = weights
        self.schedule = dict(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        for key, weight_at in self.schedule.items():
            self.weights_by_key[key].assign(float(weight_at(epoch)))
