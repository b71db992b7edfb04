"""ImportMap: local names -> qualified names, without importing anything."""

from __future__ import annotations

import keyword
import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.imports import ImportMap, api, is_keras3_backend, is_numpy


def qualname(source: str, expr: str) -> str | None:
    imports = ImportMap.from_module(cst.parse_module(textwrap.dedent(source)))
    return imports.qualname(cst.parse_expression(expr))


@pytest.mark.parametrize(
    "source,expr,expected",
    [
        ("import keras.backend as K", "K.mean", "keras.backend.mean"),
        ("from tensorflow.keras import backend as K", "K.mean", "tensorflow.keras.backend.mean"),
        ("from keras import backend as K", "K.sum", "keras.backend.sum"),
        ("import tensorflow as tf", "tf.math.reduce_mean", "tensorflow.math.reduce_mean"),
        ("from keras import ops", "ops.mean", "keras.ops.mean"),
        ("import numpy as np", "np.mean", "numpy.mean"),
        ("from tensorflow import math as tm", "tm.reduce_sum", "tensorflow.math.reduce_sum"),
        ("import tensorflow.keras.backend", "tensorflow.keras.backend.mean", "tensorflow.keras.backend.mean"),
        ("import tf_keras.backend as K", "K.mean", "tf_keras.backend.mean"),
        ("import keras", "keras.backend.mean", "keras.backend.mean"),
        ("from keras.backend import mean", "mean", "keras.backend.mean"),
        ("from keras.src import ops", "ops.sum", "keras.src.ops.sum"),
        ("import tensorflow as tf\nK = tf.keras.backend", "K.mean", "tensorflow.keras.backend.mean"),
        ("def f():\n    import keras.backend as K\n", "K.mean", "keras.backend.mean"),
        ("from . import helpers as h", "h.x", ".helpers.x"),
        ("import numpy as np", "undefined.mean", None),
        ("import numpy as np", "np.mean(x).sum", None),
    ],
)
def test_qualname(source: str, expr: str, expected: str | None) -> None:
    assert qualname(source, expr) == expected


def test_conflicting_bindings_are_ambiguous() -> None:
    source = """
    import keras.backend as K

    def legacy():
        from tensorflow.keras import backend as K
    """
    assert qualname(source, "K.mean") is None
    # the same binding twice is not a conflict
    assert qualname("import tensorflow as tf\ndef f():\n    import tensorflow as tf\n", "tf.abs") == "tensorflow.abs"


def test_alias_reassigned_to_something_else_is_ambiguous() -> None:
    assert qualname("import tensorflow as tf\nK = tf.keras.backend\nK = make()\n", "K.mean") is None


def test_star_imports_recorded() -> None:
    imports = ImportMap.from_module(cst.parse_module("from keras.losses import *\n"))
    assert imports.star_modules == ["keras.losses"]


@pytest.mark.parametrize(
    "qn,family,name",
    [
        ("tensorflow.math.reduce_mean", "tensorflow", "reduce_mean"),
        ("tensorflow.reduce_mean", "tensorflow", "reduce_mean"),
        ("tensorflow.nn.softmax", "tensorflow", "softmax"),
        ("keras.ops.mean", "keras.ops", "mean"),
        ("keras.src.ops.numpy.mean", "keras.ops", "mean"),
        ("keras.backend.mean", "keras.backend", "mean"),
        ("tensorflow.keras.backend.mean", "tf.keras.backend", "mean"),
        ("tf_keras.backend.mean", "tf.keras.backend", "mean"),
        ("numpy.mean", "numpy", "mean"),
        ("jax.numpy.mean", "numpy", "mean"),
        ("keras.losses.binary_crossentropy", "keras.losses", "binary_crossentropy"),
        ("tensorflow.keras.losses.Loss", "tf.keras.losses", "Loss"),
    ],
)
def test_api_families_keep_keras3_and_tf_keras_apart(qn: str, family: str, name: str) -> None:
    found = api(qn)
    assert found is not None and (found.family, found.name) == (family, name)


def test_predicates() -> None:
    assert is_numpy("numpy.mean") and not is_numpy("jax.numpy.mean") and not is_numpy("numpyro.x")
    assert is_keras3_backend("keras.backend.mean")
    assert not is_keras3_backend("tensorflow.keras.backend.mean")
    assert not is_keras3_backend("tf_keras.backend.mean")


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in {"None", "True", "False"}
)
modules = st.sampled_from(["tensorflow", "keras.backend", "tensorflow.keras.backend", "keras.ops", "numpy", "tf_keras"])


@settings(max_examples=60, deadline=None)
@given(alias=identifiers, module=modules, member=identifiers, style=st.sampled_from(["import", "from"]))
def test_any_alias_resolves(alias: str, module: str, member: str, style: str) -> None:
    if style == "import":
        source = f"import {module} as {alias}\n"
    else:
        parent, _, last = module.rpartition(".")
        source = f"from {parent} import {last} as {alias}\n" if parent else f"import {module} as {alias}\n"
    assert qualname(source, f"{alias}.{member}") == f"{module}.{member}"
