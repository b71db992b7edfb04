"""tf.keras runtime of generated modules: the task metric wrapper, and for
``"weights": "variable"`` ``attach_weights`` and the weight scheduler.

The same classes as :mod:`.keras_runtime`, on TensorFlow's own ``tf.keras`` (Keras 2,
tf-keras). They need less: TensorFlow's compiled steps (``tf.function``, with or without
XLA) read every variable they use on every call, so the loss weights are plain
``tf.Variable`` objects that no model has to hold.

Copied verbatim into generated modules that need them (see the package docstring), so a
generated module never imports losscheck. ``_lc_register`` is the generated module's own
registration decorator; the one here lets the class be imported and tested in place.
"""

import tensorflow as tf

_lc_register = tf.keras.utils.register_keras_serializable(package="losscheck.helpers")


@_lc_register
class _lc_TaskMetric(tf.keras.metrics.Metric):
    """One task's tf.keras metric.

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
            weight = weight * tf.reshape(tf.cast(sample_weight, weight.dtype), shape)
        if self.one_hot is not None:
            index = tf.cast(truth[..., 0], tf.int32)
            truth = tf.one_hot(index, self.one_hot, dtype=pred.dtype)
        if self.classes is not None:
            truth = tf.gather(truth, list(self.classes), axis=-1)
            pred = tf.gather(pred, list(self.classes), axis=-1)
        truth = tf.reshape(truth, (-1, truth.shape[-1]))
        pred = tf.reshape(pred, (-1, pred.shape[-1]))
        weight = tf.reshape(weight, (-1,))
        if self.per_channel:
            weight = tf.expand_dims(weight, -1) * tf.ones_like(pred)
        self.metric.update_state(truth, pred, sample_weight=weight)

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()

    def get_config(self):
        # ``inputs`` by its registered name: a plain string, which every tf.keras save
        # format (.keras, H5, SavedModel) stores as it is
        return {
            "name": self.name,
            "dtype": self.dtype,
            "inputs": tf.keras.utils.get_registered_name(self.inputs),
            "metric": tf.keras.metrics.serialize(self.metric),
            "classes": None if self.classes is None else list(self.classes),
            "one_hot": self.one_hot,
            "per_channel": self.per_channel,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        inputs = config["inputs"]
        if isinstance(inputs, str):  # H5 loading hands over the function itself
            inputs = tf.keras.utils.get_registered_object(inputs)
        if inputs is None:
            raise ValueError(
                f"no registered function {config['inputs']!r}: import the loss module "
                "that defines it before loading the model"
            )
        config["inputs"] = inputs
        config["metric"] = tf.keras.metrics.deserialize(config["metric"])
        return cls(**config)


def attach_weights(model, weights):
    """Nothing to do on TensorFlow: its compiled train and test steps (``tf.function``,
    also with ``jit_compile=True``) read the current value of every variable they use,
    so ``WEIGHTS[key].assign(x)`` reaches the next step of any model. Offered so that
    code written for a Keras 3 module of the same layout runs unchanged; the model holds
    nothing, and saving and ``get_weights`` are unchanged."""


class WeightScheduler(tf.keras.callbacks.Callback):
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
