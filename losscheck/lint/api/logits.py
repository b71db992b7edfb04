"""What turns logits into probabilities, what keeps them so, and what expects logits.

Data read by ``probabilities-as-logits`` (LCK106) through ``losscheck/lint/probabilities.py``.
Qualified names are written once, in their Keras 3 / TensorFlow 2 spelling; :func:`canonical`
maps the other spellings (``tensorflow.keras.*``, ``tf_keras.*``, ``keras.src.*``) onto them.
Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Activation = Literal["softmax", "sigmoid"]

# Calls whose result is a probability (each element in (0, 1); softmax rows sum to 1).
ACTIVATIONS: dict[str, Activation] = {
    "tensorflow.nn.softmax": "softmax",
    "tensorflow.math.softmax": "softmax",
    "tensorflow.nn.sigmoid": "sigmoid",
    "tensorflow.math.sigmoid": "sigmoid",
    "tensorflow.sigmoid": "sigmoid",
    "keras.activations.softmax": "softmax",
    "keras.activations.sigmoid": "sigmoid",
    "keras.ops.softmax": "softmax",
    "keras.ops.sigmoid": "sigmoid",
    "keras.ops.nn.softmax": "softmax",
    "keras.ops.nn.sigmoid": "sigmoid",
    "keras.backend.softmax": "softmax",  # Keras 2
    "keras.backend.sigmoid": "sigmoid",  # Keras 2
    "jax.nn.softmax": "softmax",
    "jax.nn.sigmoid": "sigmoid",
}

# Layers (called on a tensor) whose output is a probability, and the ``activation=`` strings
# that make any layer's output one.
ACTIVATION_LAYERS: dict[str, Activation] = {
    "keras.layers.Softmax": "softmax",
}
ACTIVATION_NAMES: dict[str, Activation] = {"softmax": "softmax", "sigmoid": "sigmoid"}

# The pretrained models of ``keras.applications`` (``ResNet50(...)``, ``MobileNetV2(...)``): with
# their classifier (``include_top=True``, the default) they end in ``classifier_activation``,
# "softmax" unless given (checked against the installed Keras 3 by the test suite).
APPLICATIONS_MODULE = "keras.applications"
APPLICATION_DEFAULT_ACTIVATION: Activation = "softmax"

# Calls that return their first argument's values rearranged, converted or bounded: a
# probability stays one. Matched on the last part of a TensorFlow / Keras / NumPy-like name.
PRESERVING = frozenset({
    "reshape", "transpose", "cast", "squeeze", "expand_dims", "identity", "stop_gradient",
    "convert_to_tensor", "clip_by_value", "clip", "flatten", "batch_flatten", "gather",
    "ensure_shape", "boolean_mask",
})


@dataclass(frozen=True)
class LogitsSink:
    """A call whose argument ``param`` (or positional ``position``) must be logits.

    ``needs_from_logits``: only when the call (or the Loss object it is) says ``from_logits=True``.
    ``unless``: not when the call passes this keyword (``sequence_loss(...,
    softmax_loss_function=f)`` hands its first argument to ``f``, which may want anything).
    """

    param: str
    position: int | None  # None: passed by keyword only
    needs_from_logits: bool = False
    unless: str | None = None  # a keyword that, when passed, lets the call take something else


_PRED = LogitsSink("y_pred", 1, needs_from_logits=True)
_OUTPUT = LogitsSink("output", 1, needs_from_logits=True)

# Functions called with logits. TensorFlow's ``*_with_logits`` always take logits.
LOGIT_FUNCTIONS: dict[str, LogitsSink] = {
    "tensorflow.nn.sigmoid_cross_entropy_with_logits": LogitsSink("logits", 1),
    "tensorflow.nn.softmax_cross_entropy_with_logits": LogitsSink("logits", 1),
    "tensorflow.nn.softmax_cross_entropy_with_logits_v2": LogitsSink("logits", 1),
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits": LogitsSink("logits", 1),
    "tensorflow.nn.weighted_cross_entropy_with_logits": LogitsSink("logits", 1),
    "tensorflow.compat.v1.nn.sigmoid_cross_entropy_with_logits": LogitsSink("logits", 2),  # (_sentinel, labels, logits)
    "tensorflow.compat.v1.nn.softmax_cross_entropy_with_logits": LogitsSink("logits", 2),
    "tensorflow.compat.v1.nn.softmax_cross_entropy_with_logits_v2": LogitsSink("logits", 2),
    "tensorflow.compat.v1.nn.sparse_softmax_cross_entropy_with_logits": LogitsSink("logits", 2),
    "tensorflow.compat.v1.losses.sigmoid_cross_entropy": LogitsSink("logits", 1),
    "tensorflow.compat.v1.losses.softmax_cross_entropy": LogitsSink("logits", 1),
    "tensorflow.compat.v1.losses.sparse_softmax_cross_entropy": LogitsSink("logits", 1),
    "tensorflow.losses.sigmoid_cross_entropy": LogitsSink("logits", 1),  # TensorFlow 1
    "tensorflow.losses.softmax_cross_entropy": LogitsSink("logits", 1),
    "tensorflow.losses.sparse_softmax_cross_entropy": LogitsSink("logits", 1),
    # sequence losses: a softmax crossentropy per time step unless told otherwise
    "tensorflow.contrib.seq2seq.sequence_loss": LogitsSink("logits", 0, unless="softmax_loss_function"),
    "tensorflow_addons.seq2seq.sequence_loss": LogitsSink("logits", 0, unless="softmax_loss_function"),
    # TensorFlow Probability's distributions: `logits=` is the other spelling of `probs=`
    "tensorflow_probability.distributions.Bernoulli": LogitsSink("logits", None),
    "tensorflow_probability.distributions.Categorical": LogitsSink("logits", None),
    "tensorflow_probability.distributions.OneHotCategorical": LogitsSink("logits", None),
    "tensorflow_probability.distributions.Binomial": LogitsSink("logits", None),
    "tensorflow_probability.distributions.Multinomial": LogitsSink("logits", None),
    # from_logits=True
    "keras.losses.binary_crossentropy": _PRED,
    "keras.losses.categorical_crossentropy": _PRED,
    "keras.losses.sparse_categorical_crossentropy": _PRED,
    "keras.losses.binary_focal_crossentropy": _PRED,
    "keras.losses.categorical_focal_crossentropy": _PRED,
    "keras.metrics.binary_crossentropy": _PRED,
    "keras.metrics.categorical_crossentropy": _PRED,
    "keras.metrics.sparse_categorical_crossentropy": _PRED,
    "keras.ops.binary_crossentropy": _OUTPUT,
    "keras.ops.categorical_crossentropy": _OUTPUT,
    "keras.ops.sparse_categorical_crossentropy": _OUTPUT,
    "keras.backend.binary_crossentropy": _OUTPUT,  # Keras 2
    "keras.backend.categorical_crossentropy": _OUTPUT,
    "keras.backend.sparse_categorical_crossentropy": _OUTPUT,
}

# Loss classes: an instance made with ``from_logits=True`` takes logits as ``y_pred``.
LOGIT_LOSS_CLASSES = frozenset({
    "keras.losses.BinaryCrossentropy",
    "keras.losses.CategoricalCrossentropy",
    "keras.losses.SparseCategoricalCrossentropy",
    "keras.losses.BinaryFocalCrossentropy",
    "keras.losses.CategoricalFocalCrossentropy",
    "keras.metrics.BinaryCrossentropy",
    "keras.metrics.CategoricalCrossentropy",
    "keras.metrics.SparseCategoricalCrossentropy",
})

_PREFIXES = (
    ("tensorflow.keras.", "keras."),
    ("tensorflow.python.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.", "keras."),
    ("keras.api.", "keras."),
)


def canonical(qualname: str | None) -> str | None:
    """``qualname`` in the spelling the tables use (``tensorflow.keras.losses.X`` -> ``keras.losses.X``)."""
    if qualname is None:
        return None
    for prefix, replacement in _PREFIXES:
        if qualname.startswith(prefix):
            qualname = replacement + qualname[len(prefix):]
            break
    if qualname.startswith("keras.src."):  # keras.src.ops.nn.softmax and the like
        qualname = "keras." + qualname[len("keras.src."):]
    return qualname


def preserves(qualname: str | None) -> bool:
    """A call that keeps a probability a probability (``tf.reshape``, ``K.clip``)."""
    if qualname is None:
        return False
    head, _, last = qualname.rpartition(".")
    return last in PRESERVING and head.split(".")[0] in {"tensorflow", "keras", "tf_keras", "jax"}
