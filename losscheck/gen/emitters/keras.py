"""Keras 3 emitter: ``keras.ops`` only, so the module runs on the TensorFlow, JAX and PyTorch backends.

Its helpers are the functions of :mod:`losscheck.gen.helpers.keras_ops` (and ``common``).
"""

from __future__ import annotations

from losscheck.gen.emitters._source import SourceEmitter, spell_ops
from losscheck.gen.helpers import COMMON, KERAS_OPS


class KerasEmitter(SourceEmitter):
    framework = "keras"
    imports = ("import keras", "import numpy as np", "from keras import ops")
    HELPER_FILES = (COMMON, KERAS_OPS)
    OPS = spell_ops("ops", spelled={
        "fill_like": "{1}",  # keras.ops.where broadcasts a Python number in the tensor's dtype
        "one_hot": 'ops.one_hot(ops.cast({0}[..., 0], "int32"), {1}, dtype=y_pred.dtype)',
    })

    def register_decorator(self, package: str) -> str:
        return f"keras.saving.register_keras_serializable(package={package!r})"
