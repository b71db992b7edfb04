"""The functions a generated loss module is built from, as real Python: one module per
framework.

``losscheck gen`` copies the functions a layout needs, verbatim (decorators and comments
included), from these files into the generated module
(:mod:`losscheck.gen.emitters._copy`), so the code that is tested here is the code users
run:

- :mod:`.common`: framework-neutral (``_lc_check`` reads ``tensor.shape`` only;
  ``pack_targets`` uses NumPy only);
- :mod:`.keras_ops`: Keras 3, ``keras.ops`` only (every backend);
- :mod:`.keras_runtime`: Keras 3 runtime for training: the task metric wrapper, and for
  ``"weights": "variable"`` modules the loss weights as model state (``attach_weights``),
  their read in a loss and the ``WeightScheduler`` callback;
- :mod:`.tf_keras`: TensorFlow 2 ops, for tf.keras (Keras 2, tf-keras);
- :mod:`.tf_keras_runtime`: the same runtime as ``keras_runtime`` for tf.keras (the task
  metric wrapper, ``attach_weights`` and ``WeightScheduler``).

The PyTorch plugin keeps its own in ``losscheck_torch/helpers.py``.

Rules for a function here, because it is copied alone into another module: it uses only
the names the generated module imports (``keras``, ``ops``, ``tf``, ``np``...) and other
functions of the same files, never a constant or import of its own module; it has no
type hints (the generated code has none); its name starts with ``_lc`` unless it is the
module's public API.

Importing this package imports none of them: ``losscheck gen`` reads them as text and
never imports TensorFlow, Keras or NumPy.
"""

from pathlib import Path

FOLDER = Path(__file__).parent
COMMON = FOLDER / "common.py"
KERAS_OPS = FOLDER / "keras_ops.py"
TF_KERAS = FOLDER / "tf_keras.py"
KERAS_RUNTIME = FOLDER / "keras_runtime.py"
TF_KERAS_RUNTIME = FOLDER / "tf_keras_runtime.py"
