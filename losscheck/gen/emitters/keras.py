"""Keras 3 emitter: ``keras.ops`` only, so the generated losses run on the TensorFlow,
JAX and PyTorch backends.

Its helpers are the functions of :mod:`losscheck.gen.helpers.keras_ops` (and ``common``), and
the classes of :mod:`losscheck.gen.helpers.keras_runtime`. The layout's Additions (metrics,
variable weights, label smoothing...) are generated as :mod:`._additions` says, in Keras 3's
dialect.
"""

from __future__ import annotations

from losscheck.gen.emitters._additions import AdditionsEmitter
from losscheck.gen.emitters._format import q
from losscheck.gen.emitters._source import spell_ops
from losscheck.gen.helpers import COMMON, KERAS_OPS, KERAS_RUNTIME
from losscheck.gen.plan import Plan


class KerasEmitter(AdditionsEmitter):
    framework = "keras"
    imports = ("import keras", "from keras import ops")  # pack_targets imports NumPy itself
    HELPER_FILES = (COMMON, KERAS_OPS, KERAS_RUNTIME)
    METRICS = "keras.metrics"
    LOSSES = "keras.losses"
    RUNTIME = KERAS_RUNTIME
    WEIGHTS_COMMENT = (
        "# Loss weights the losses read on every call: once a model holds them",
        "# (attach_weights(model, WEIGHTS); WeightScheduler does it), WEIGHTS[key].assign(x)",
        "# takes effect at its next training step, without recompiling, on every backend.",
        "# Variable names have no dot: PyTorch parameter names may not.",
    )
    OPS = spell_ops("ops", spelled={
        "fill_like": "{1}",  # keras.ops.where broadcasts a Python number in the tensor's dtype
        "one_hot": 'ops.one_hot(ops.cast({0}[..., 0], "int32"), {1}, dtype=y_pred.dtype)',
    })

    def register_decorator(self, package: str) -> str:
        return f"keras.saving.register_keras_serializable(package={q(package)})"

    # -- Additions: variable weights ---------------------------------------------------------
    def extras(self, plan: Plan) -> list[str]:
        if plan.variable_weights:
            self.use("_lc_LossWeightState")  # attach_weights makes them
        return super().extras(plan)

    def variable_weight(self, key: str) -> str:
        # read through a helper that warns when JAX would keep it as a trace-time constant
        return f"{self.use('_lc_loss_weight')}(WEIGHTS[{q(key)}], y_pred)"

    def weight_variable(self) -> list[str]:
        return [
            "    key: keras.Variable(",
            "        value,",
            "        dtype=\"float32\",",
            "        trainable=False,",
            "        name=\"loss_weight-\" + key.replace(\".\", \"-\"),",
            "    )",
        ]
