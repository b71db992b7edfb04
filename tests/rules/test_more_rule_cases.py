"""Extra cases for output-indexing, masked-mean, mask-from-prediction, numpy-in-loss and
removed-keras-api: ranges, fixes, and the quiet cases that matter for precision."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction
from losscheck.lint.rules.lck103_output_indexing import OutputIndexing
from losscheck.lint.rules.lck104_masked_mean import MaskedMean
from losscheck.lint.rules.lck105_mask_from_prediction import MaskFromPrediction
from losscheck.lint.rules.lck201_numpy_in_loss import NumpyInLoss
from losscheck.lint.rules.lck302_removed_keras_api import (
    KERAS3_BACKEND,
    RemovedKerasApi,
)


def run(source: str, rule):
    source = textwrap.dedent(source)
    return source, [f for f in lint_source(source, "t.py", rules=[rule]) if f.code == rule.code]


def test_ranges_are_exact() -> None:
    source, findings = run(
        """
        import tensorflow as tf

        def mse(y_true, y_pred):
            return 2.0 * tf.reduce_mean(tf.square(y_true - y_pred))
        """,
        BatchMeanReduction,
    )
    (f,) = findings
    line = source.splitlines()[f.line - 1]
    assert line[f.column - 1 : f.end_column - 1] == "tf.reduce_mean(tf.square(y_true - y_pred))"
    assert f.fix is None  # changing the axis changes values: no automatic fix


def test_output_indexing_quiet_when_parameter_rebound() -> None:
    _, findings = run(
        """
        def loss(y_true, y_pred):
            y_true = unpack(y_true)  # now something else: no claim about it
            return y_true["a"] - y_pred
        """,
        OutputIndexing,
    )
    assert findings == []


def test_masked_mean_counted_elsewhere_is_quiet() -> None:
    _, findings = run(
        """
        import tensorflow as tf

        def masked(y_true, y_pred):
            mask = tf.cast(y_true > 0, tf.float32)
            n = tf.reduce_sum(mask, axis=-1)
            per_pos = tf.reduce_mean(tf.abs(y_true - y_pred) * mask, axis=-1)
            return per_pos * tf.cast(tf.shape(mask)[-1], tf.float32) / tf.maximum(n, 1.0)
        """,
        MaskedMean,
    )
    assert findings == []


@settings(max_examples=40, deadline=None)
@given(
    mask=st.sampled_from(
        ["tf.cast(y_true > 0, tf.float32)", "tf.cast(tf.not_equal(y_true, -1.0), tf.float32)",
         "tf.where(y_true >= 0, 1.0, 0.0)", "padding_mask", "class_weights"]
    ),
    form=st.sampled_from(["mean", "sum/sum", "sum/max", "mean/mean", "divide_no_nan"]),
)
def test_masked_mean_forms(mask: str, form: str) -> None:
    body = {
        "mean": "return tf.reduce_mean(err * m, axis=-1)",
        "sum/sum": "return tf.reduce_sum(err * m, axis=-1) / tf.reduce_sum(m, axis=-1)",
        "sum/max": "return tf.reduce_sum(err * m, axis=-1) / tf.maximum(tf.reduce_sum(m, axis=-1), 1.0)",
        "mean/mean": "return tf.reduce_mean(err * m, axis=-1) / (tf.reduce_mean(m, axis=-1) + 1e-6)",
        "divide_no_nan": "return tf.math.divide_no_nan(tf.reduce_sum(err * m, axis=-1), tf.reduce_sum(m, axis=-1))",
    }[form]
    source = f"""
    import tensorflow as tf

    def masked(y_true, y_pred, padding_mask=None, class_weights=None):
        m = {mask}
        err = tf.abs(y_true - y_pred)
        {body}
    """
    _, findings = run(source, MaskedMean)
    is_mask = mask != "class_weights"
    if form == "mean":
        assert bool(findings) == is_mask
        if findings:
            assert "averages over ALL positions" in findings[0].message
    elif form == "sum/sum":
        assert bool(findings) == is_mask
        if findings:
            assert "NaN" in findings[0].message
    else:
        assert findings == []


@pytest.mark.parametrize(
    "gate,fires",
    [
        ("tf.cast(y_pred > 0.5, tf.float32)", True),
        ("tf.cast(tf.greater_equal(y_pred, 0.5), tf.float32)", True),
        ("tf.round(y_pred)", True),
        ("tf.where(y_pred > 0.5, 1.0, 0.0)", True),
        ("tf.cast(y_true > 0.5, tf.float32)", False),
        ("tf.cast(tf.abs(y_true - y_pred) < 0.1, tf.float32)", False),
        ("tf.round(y_true)", False),
        ("tf.stop_gradient(y_pred)", False),
    ],
)
def test_mask_from_prediction_sources(gate: str, fires: bool) -> None:
    _, findings = run(
        f"""
        import tensorflow as tf

        def gated(y_true, y_pred):
            gate = {gate}
            return tf.reduce_sum(tf.square(y_true - y_pred) * gate, axis=-1)
        """,
        MaskFromPrediction,
    )
    assert bool(findings) == fires
    if fires:
        assert findings[0].line == 5  # reported where the gate is computed


def test_numpy_quiet_in_py_function_lambda_and_on_constants() -> None:
    _, findings = run(
        """
        import numpy as np
        import tensorflow as tf

        def loss(y_true, y_pred):
            scale = np.sqrt(2.0) * np.float32(np.pi)
            table = tf.constant(np.linspace(0.0, 1.0, 5))
            extra = tf.py_function(lambda a: np.float32(np.median(a)), [y_pred], tf.float32)
            return scale * tf.reduce_sum(tf.abs(y_true - y_pred) * table, axis=-1) + extra
        """,
        NumpyInLoss,
    )
    assert findings == []


def test_numpy_array_from_tensor_and_derived_values() -> None:
    _, findings = run(
        """
        import numpy as np
        import keras

        def loss(y_true, y_pred):
            arr = np.asarray(y_pred)
            clipped = np.clip(arr, 1e-7, 1.0)
            return -(y_true * np.log(clipped)).sum(axis=-1)

        model.compile(optimizer="adam", loss=loss)
        """,
        NumpyInLoss,
    )
    assert [f.line for f in findings] == [6, 7, 8]


def test_removed_api_fix_only_when_keras_is_bound_and_exact() -> None:
    source, findings = run(
        """
        import keras
        from keras import backend as K

        def loss(y_true, y_pred):
            p = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
            return K.mean(K.binary_crossentropy(y_true, p), axis=-1, keepdims=False)
        """,
        RemovedKerasApi,
    )
    assert [f.message.split("`")[1] for f in findings] == ["K.clip", "K.mean", "K.binary_crossentropy"]
    # K.binary_crossentropy's fix is unsafe: Keras 2 added epsilon inside the logs (docs/keras3-migration.md)
    assert [f.fix is not None and f.fix.safe for f in findings] == [True, True, False]
    assert findings[2].fix is not None
    fixed, applied = apply_fixes(source, findings, unsafe=False)
    assert applied == 2 and "keras.ops.mean(K.binary_crossentropy" in fixed and "keras.ops.clip(y_pred" in fixed


def test_removed_api_fix_without_keras_name_adds_the_ops_import() -> None:
    _, findings = run(
        """
        import keras.backend as K

        def loss(y_true, y_pred):
            return K.mean(K.square(y_true - y_pred), axis=-1)
        """,
        RemovedKerasApi,
    )
    assert len(findings) == 2
    assert all(f.fix is not None and f.fix.edits[-1].content == "from keras import ops\n" for f in findings)


@pytest.mark.parametrize("name", sorted(KERAS3_BACKEND))
def test_removed_api_quiet_on_what_keras3_kept(name: str) -> None:
    _, findings = run(f"import keras.backend as K\nvalue = K.{name}\n", RemovedKerasApi)
    assert findings == []


def test_removed_api_list_matches_installed_keras() -> None:
    """The hard-coded list equals the public names of the installed Keras 3's `keras.backend`,
    read from its generated `keras/backend/__init__.py` (importing Keras would cost 5-20 s)."""
    import importlib.metadata
    import importlib.util

    import libcst as cst

    from losscheck.lint.imports import ImportMap

    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("keras is not installed")
    if not version.startswith("3."):
        pytest.skip("the list is Keras 3's")
    spec = importlib.util.find_spec("keras")
    assert spec is not None and spec.submodule_search_locations
    init = pathlib.Path(next(iter(spec.submodule_search_locations))) / "backend" / "__init__.py"
    imports = ImportMap.from_module(cst.parse_module(init.read_text(encoding="utf-8")))
    public = {name for name in imports.names if not name.startswith("_")}
    assert public == set(KERAS3_BACKEND)


def test_lint_path_imports_no_tensorflow_keras_or_numpy() -> None:
    code = textwrap.dedent(
        """
        import sys
        from losscheck.lint.engine import lint_source
        from losscheck.lint.registry import builtin_rules
        source = ("import tensorflow as tf\\nimport numpy as np\\n"
                  "def l(y_true, y_pred):\\n    return np.mean(tf.reduce_mean(y_true))\\n")
        findings = lint_source(source, "t.py", rules=builtin_rules())
        assert findings
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras", "numpy", "jax", "torch"})
        print(heavy)
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
