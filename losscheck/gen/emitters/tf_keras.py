"""tf.keras emitter: TensorFlow 2 ops for Keras 2 (tf-keras, ``TF_USE_LEGACY_KERAS=1``).

Its helpers are the functions of :mod:`losscheck.gen.helpers.tf_keras` (and ``common``): the
same formulas as the Keras 3 ones (Keras 3's, e.g. no ``+ epsilon`` inside the log), so both
frameworks give the same numbers for the same layout. The layout's Additions are generated as
:mod:`._additions` says, with tf.keras's own metric classes and smoothed losses (Keras 2's
formulas there), and the runtime classes of :mod:`losscheck.gen.helpers.tf_keras_runtime`.
"""

from __future__ import annotations

from losscheck.gen.emitters._additions import AdditionsEmitter
from losscheck.gen.emitters._format import q
from losscheck.gen.emitters._source import spell_ops
from losscheck.gen.helpers import COMMON, TF_KERAS, TF_KERAS_RUNTIME


class TfKerasEmitter(AdditionsEmitter):
    framework = "tf.keras"
    imports = ("import tensorflow as tf",)  # pack_targets imports NumPy itself
    HELPER_FILES = (COMMON, TF_KERAS, TF_KERAS_RUNTIME)
    METRICS = "tf.keras.metrics"
    LOSSES = "tf.keras.losses"
    RUNTIME = TF_KERAS_RUNTIME
    WEIGHTS_COMMENT = (
        "# Loss weights the losses read on every call: TensorFlow's compiled steps",
        "# (tf.function, also with jit_compile=True) read a variable's current value, so",
        "# WEIGHTS[key].assign(x) takes effect at the next training step, without recompiling.",
    )
    OPS = spell_ops(
        "tf",
        renamed={"any": "reduce_any", "mean": "reduce_mean", "sum": "reduce_sum", "max": "reduce_max",
                 "take": "gather", "softmax": "nn.softmax"},
        spelled={
            "fill_like": "tf.fill(tf.shape({0}), tf.constant({1}, {0}.dtype))",
            "one_hot": "tf.one_hot(tf.cast({0}[..., 0], tf.int32), {1}, dtype=y_pred.dtype)",
        },
    )

    def register_decorator(self, package: str) -> str:
        return f"tf.keras.utils.register_keras_serializable(package={q(package)})"

    def variable_weight(self, key: str) -> str:
        return f"tf.cast(WEIGHTS[{q(key)}], y_pred.dtype)"

    def weight_variable(self) -> list[str]:
        # named as the Keras 3 module names them
        return [
            "    key: tf.Variable(",
            "        value,",
            "        dtype=tf.float32,",
            "        trainable=False,",
            "        name=\"loss_weight-\" + key.replace(\".\", \"-\"),",
            "    )",
        ]
