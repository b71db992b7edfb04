"""The rewrites of `losscheck migrate` besides backend calls: exact text, what is left and why, and
the tables checked against the installed Keras 3 and tf-keras."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from losscheck.migrate.run import migrate_source
from losscheck.migrate.tables import (
    ENGINE_NAMES,
    KERAS3_LAYERS,
    KERAS3_UTILS,
    LOSS_ALIASES,
    REDUCTIONS,
    REORDERED,
)


def migrated(source: str, unsafe: bool = False) -> str:
    return migrate_source(textwrap.dedent(source), "m.py", unsafe=unsafe).code


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("from keras.utils.np_utils import to_categorical\n", "from keras.utils import to_categorical\n"),
        ("from keras.utils import np_utils\ny = np_utils.to_categorical([1], 2)\n",
         "from keras import utils as np_utils\ny = np_utils.to_categorical([1], 2)\n"),
        ("import keras\ny = keras.utils.np_utils.to_categorical([1], 2)\n",
         "import keras\ny = keras.utils.to_categorical([1], 2)\n"),
        ("import keras.utils.np_utils as nu\n", "import keras.utils as nu\n"),
        ("from keras.utils.generic_utils import get_custom_objects\n", "from keras.utils import get_custom_objects\n"),
        ("from keras.objectives import categorical_crossentropy\n", "from keras.losses import categorical_crossentropy\n"),
        ("from keras.layers.core import Dense, Lambda  # layers\n", "from keras.layers import Dense, Lambda  # layers\n"),
        ("from keras.layers.merge import concatenate\n", "from keras.layers import concatenate\n"),
        ("from keras.engine.topology import Layer\n", "from keras.layers import Layer\n"),
        ("from keras.engine.training import Model\n", "from keras import Model\n"),
        ("import keras\nclass L(keras.engine.Layer):\n    pass\n", "import keras\nclass L(keras.layers.Layer):\n    pass\n"),
        ("from keras.losses import mse, logcosh as lc\n",
         "from keras.losses import mean_squared_error as mse, log_cosh as lc\n"),
        ("import keras\nf = keras.metrics.mae\n", "import keras\nf = keras.metrics.mean_absolute_error\n"),
        ("from keras.losses import Reduction\nr = Reduction.SUM_OVER_BATCH_SIZE\n", 'r = "sum_over_batch_size"\n'),
        ("import tensorflow as tf\nr = tf.keras.losses.Reduction.NONE\n", 'import tensorflow as tf\nr = "none"\n'),
        ("from keras.losses import Reduction, Loss\nr = Reduction.SUM\n", 'from keras.losses import Loss\nr = "sum"\n'),
        ("import keras\nv = keras.losses.sparse_categorical_crossentropy(t, p, True, -1, 3)\n",
         "import keras\nv = keras.losses.sparse_categorical_crossentropy(t, p, True, axis=-1, ignore_class=3)\n"),
        ("import keras\nl = keras.losses.SparseCategoricalCrossentropy(True, None, 'sum', 'scce')\n",
         "import keras\nl = keras.losses.SparseCategoricalCrossentropy(True, None, 'sum', name='scce')\n"),
        (("import tensorflow as tf\n\nclass L(tf.keras.losses.Loss):\n    def __init__(self):\n"
          "        super(L, self).__init__('sum', 'l')\n"),
         ("import tensorflow as tf\n\nclass L(tf.keras.losses.Loss):\n    def __init__(self):\n"
          "        super(L, self).__init__(reduction='sum', name='l')\n")),
    ],
)
def test_rewrite(before: str, after: str) -> None:
    assert migrated(before) == after
    assert migrated(after) == after  # idempotent


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from keras.layers.core import Dense, NoSuchLayer\n", "`NoSuchLayer` has no known Keras 3 home"),
        ("from keras.engine import Layer, Model\n", "the names moved to different modules (keras, keras.layers)"),
        ("import keras\nx = keras.engine.get_source_inputs\n", "Keras 3 has no keras.engine and no `get_source_inputs`"),
        ("import keras\nv = keras.losses.sparse_categorical_crossentropy(*args)\n", None),
    ],
)
def test_what_is_left_says_why(source: str, why: str | None) -> None:
    result = migrate_source(source, "m.py")
    if why is None:
        assert result.code == source and not result.not_changed
        return
    assert result.code == source
    assert any(why in note.text for note in result.not_changed), result.not_changed


@pytest.mark.keras
def test_tables_match_the_installed_kerases() -> None:
    keras = pytest.importorskip("keras")
    tf_keras = pytest.importorskip("tf_keras")
    assert KERAS3_LAYERS == {n for n in dir(keras.layers) if not n.startswith("_")}
    assert KERAS3_UTILS == {n for n in dir(keras.utils) if not n.startswith("_")}
    for name, home in ENGINE_NAMES.items():
        assert hasattr({"keras": keras, "keras.layers": keras.layers}[home], name), name
    for old, new in LOSS_ALIASES.items():
        # the alias was Keras 2's name for the same function; Keras 3 has only the long name
        assert getattr(tf_keras.losses, old) is getattr(tf_keras.losses, new) or old == "logcosh", old
        assert not hasattr(keras.losses, old) and hasattr(keras.losses, new), old
        assert hasattr(keras.metrics, new), new
    for member, value in REDUCTIONS.items():
        if member != "AUTO":
            assert getattr(tf_keras.losses.Reduction, member) == value
        keras.losses.MeanSquaredError(reduction=value)  # Keras 3 takes the string the rewrite writes
    assert not hasattr(keras.losses, "Reduction")
    for callee, (first, keras2_order) in REORDERED.items():
        module, _, name = callee.rpartition(".")
        old = getattr({"keras.losses": tf_keras.losses, "keras.metrics": tf_keras.metrics}[module], name)
        new = getattr({"keras.losses": keras.losses, "keras.metrics": keras.metrics}[module], name)
        old_params = [p for p in inspect.signature(old).parameters if p not in ("self", "kwargs")]
        new_params = [p for p in inspect.signature(new).parameters if p not in ("self", "kwargs")]
        assert old_params[: len(keras2_order)] == list(keras2_order), callee
        assert new_params[first : len(keras2_order)] != old_params[first : len(keras2_order)], callee


@pytest.mark.keras
def test_what_keras3_tf_keras_backend_lacks() -> None:
    tf = pytest.importorskip("tensorflow")
    tf_keras = pytest.importorskip("tf_keras")
    from losscheck.lint.api.keras_backend import KERAS3_TF_KERAS_LACKS

    keras2 = {n for n in dir(tf_keras.backend) if not n.startswith("_")}
    keras3 = {n for n in dir(tf.keras.backend) if not n.startswith("_")}
    assert KERAS3_TF_KERAS_LACKS == keras2 - keras3


def test_tf_keras_backend_calls_keras3_lacks_are_reported() -> None:
    result = migrate_source("import tensorflow as tf\nx = tf.keras.backend.placeholder((2,))\n", "m.py")
    assert [n.text.split(":")[0] for n in result.not_changed] == ["`tf.keras.backend.placeholder`"]
