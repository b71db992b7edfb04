"""tf.keras emitter: TensorFlow 2 ops for Keras 2 (tf-keras, ``TF_USE_LEGACY_KERAS=1``).

Its helpers are the functions of :mod:`losscheck.gen.helpers.tf_keras` (and ``common``): the
same formulas as the Keras 3 ones (Keras 3's, e.g. no ``+ epsilon`` inside the log), so both
frameworks give the same numbers for the same layout.
"""

from __future__ import annotations

from losscheck.gen.emitters._format import q
from losscheck.gen.emitters._source import SourceEmitter, spell_ops
from losscheck.gen.helpers import COMMON, TF_KERAS


class TfKerasEmitter(SourceEmitter):
    framework = "tf.keras"
    imports = ("import tensorflow as tf",)  # pack_targets imports NumPy itself
    HELPER_FILES = (COMMON, TF_KERAS)
    OPS = spell_ops(
        "tf",
        renamed={"any": "reduce_any", "mean": "reduce_mean", "sum": "reduce_sum", "take": "gather",
                 "softmax": "nn.softmax"},
        spelled={
            "fill_like": "tf.fill(tf.shape({0}), tf.constant({1}, {0}.dtype))",
            "one_hot": "tf.one_hot(tf.cast({0}[..., 0], tf.int32), {1}, dtype=y_pred.dtype)",
        },
    )

    def register_decorator(self, package: str) -> str:
        return f"tf.keras.utils.register_keras_serializable(package={q(package)})"
