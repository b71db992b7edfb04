"""Keras 3 runtime of generated modules: the task metric wrapper, and for
``"weights": "variable"`` the loss weights as model state (``attach_weights``), their
read in a loss (``_lc_loss_weight``) and the weight scheduler.

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


class _lc_LossWeightState:
    """One loss weight held by a model, as an entry of its ``_seed_generators``.

    Keras counts the ``state`` variable of those entries (a seed generator's state, or
    this weight) among the model's variables (``model.variables``: the trainers pass
    them to a compiled step, the JAX trainer in the step's state) but not among its
    weights: saving, ``get_weights`` and ``count_params`` leave them out, so a saved
    model still loads into a model that holds no loss weights. ``held``: the ``id`` of
    every variable that some model holds, or that a ``WeightScheduler`` makes its model
    hold when Keras hands it the model; ``_lc_loss_weight`` warns about the others only.
    """

    held = set()

    def __init__(self, variable):
        self.state = variable
        _lc_LossWeightState.held.add(id(variable))


def _lc_loss_weight(weight, like):
    """The current value of ``weight``, a variable of ``WEIGHTS``, in ``like``'s dtype.

    A compiled JAX step takes the model's variables as its inputs; any other variable is
    read once, while the step is traced, and the step keeps that value, so a later
    ``assign`` would be ignored without a word. Warn when that happens (once: every
    weight warns from this line): a weight no model holds is read inside a JAX trace. A
    held weight is not checked, as Keras also traces the loss without the model's state
    (to build it), where a held weight reads like any other variable.
    """
    if keras.backend.backend() == "jax" and id(weight) not in _lc_LossWeightState.held:
        import jax

        if isinstance(like, jax.core.Tracer):
            import warnings

            warnings.warn(
                "a loss weight of WEIGHTS that no model holds is read while JAX "
                "compiles a step: the step keeps its present value and ignores later "
                "assign() calls. Call attach_weights(model, WEIGHTS) before training "
                "(WeightScheduler does it) so that the model passes the weights in "
                "its state.",
                stacklevel=1,
            )
    return ops.cast(weight, like.dtype)


def attach_weights(model, weights):
    """Make ``model`` hold the loss weights ``weights`` (the module's ``WEIGHTS``), so
    that its compiled train and test steps read their current values on every backend:
    then ``WEIGHTS[key].assign(x)`` between ``fit`` calls, or in a callback's
    ``on_epoch_begin``, reaches the next step. JAX needs it (its compiled step reads
    only the model's state; inside an epoch, call ``model.jax_state_sync()`` before an
    assign); TensorFlow and PyTorch read the variables anyway. The weights are model
    state, not model weights: saving, ``get_weights`` and ``count_params`` do not see
    them. Attaching twice changes nothing."""
    held = {id(entry.state) for entry in model._seed_generators}
    for variable in weights.values():
        if id(variable) not in held:
            model._seed_generators.append(_lc_LossWeightState(variable))


class WeightScheduler(keras.callbacks.Callback):
    """Set loss weights at the start of every epoch: ``schedule`` maps a ``WEIGHTS`` key
    (``"output"`` or ``"output.task"``) to a function of the epoch (0-based) giving its
    weight, e.g. ``{"seg.size": lambda epoch: min(1.0, epoch / 10)}`` for a warm-up.
    Keys it does not name keep their values; an unknown key is an error when the
    callback is made. The model it is given holds the weights (``attach_weights``)."""

    def __init__(self, weights, schedule):
        super().__init__()
        unknown = sorted(set(schedule) - set(weights))
        if unknown:
            raise ValueError(
                f"no loss weight named {unknown}; the weights are {sorted(weights)}"
            )
        self.weights_by_key = weights
        self.schedule = dict(schedule)
        # Keras traces the loss (building it) before it gives callbacks the model: no
        # warning then, set_model attaches the weights before the first step
        _lc_LossWeightState.held.update(id(variable) for variable in weights.values())

    def set_model(self, model):
        # Keras sets the model before the first step: holding the weights from then on,
        # the model passes what on_epoch_begin assigns to the compiled step (JAX)
        super().set_model(model)
        attach_weights(model, self.weights_by_key)

    def on_epoch_begin(self, epoch, logs=None):
        for key, weight_at in self.schedule.items():
            self.weights_by_key[key].assign(float(weight_at(epoch)))
