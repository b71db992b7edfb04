"""The tightened pre-filter triggers: fewer files parsed, and never one a rule would report on."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint import prefilter, prefilter_checks
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
from losscheck.lint.rules.lck302_removed_keras_api import KERAS3_BACKEND

RULES = load_registry(plugins=False).rules
BY_CODE = {r.code: r for r in RULES}


def test_backend_names_copy_matches_the_rule():
    assert {n.decode() for n in prefilter_checks.KERAS3_BACKEND_NAMES} == set(KERAS3_BACKEND)


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import keras\nK = keras.backend\n", True),
        ("from keras import backend as K\n", True),
        ("from keras import (layers,\n    backend)\n", True),
        ("import keras.backend as K\n", True),
        ("from keras.backend import mean\n", True),
        ("import keras\nx = keras.backend.mean(y)\n", True),
        ("import keras as k\nx = k.backend.mean(y)\n", True),
        ("import keras\nx = keras.backend.floatx()\n", False),
        ("import keras\nx = keras.backend.epsilon() + keras.backend._private()\n", False),
        ("import os\n# keras.backend.mean is gone\n", False),
        ("from keras.src import backend\nbackend.mean(x)\n", False),
        # prose: Markdown code in a docstring, a comment line, a doctest; code after a '#' in a string is code
        ('import keras\ndef f():\n    """Uses `keras.backend.SeedGenerator`."""\n', False),
        ("import keras\n    # x = keras.backend.mean(y)\n", False),
        ('import keras\n"""\n>>> keras.backend.Variable(1.0)\n"""\n', False),
        ("import keras\ns = '#'; x = keras.backend.mean(y)\n", True),
        ("import keras\nx = f(\n    keras.backend.mean(y))\n", True),
    ],
)
def test_keras_backend_trigger(source, expected):
    assert prefilter_checks.keras_backend(source.encode()) is expected


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import keras\nclass Dice(keras.losses.Loss):\n    pass\n", True),
        ("from keras.losses import LossFunctionWrapper\nclass D(\n    LossFunctionWrapper):\n    pass\n", True),
        ("from keras.losses import Loss as Base\nclass D(Base):\n    pass\n", True),
        ("import keras\nBase = keras.losses.Loss\nclass D(Base):\n    pass\n", True),
        ("from keras.losses import Loss\n__all__ = ['Loss']\n", False),
        ("# the Loss is logged\nclass Callback(object):\n    pass\n", False),
    ],
)
def test_loss_class_trigger(source, expected):
    assert prefilter_checks.loss_class(source.encode()) is expected


@pytest.mark.parametrize(
    "source,expected",
    [
        ("def f(y_true, y_pred):\n    return y_pred\n", True),
        ("def f(self, y_true: Float[Tensor, 'b (n)'] = g(1), y_pred=None):\n    return y_pred\n", True),
        ("f = lambda y_true, y_pred: y_pred\n", True),
        ("def train_step(self, data):\n    y_pred = self(x)\n    return y_true\n", False),
        ("result = metric.update_state(y_true, y_pred)\n", False),
        ("def f(target, output):\n    return output\n", True),  # a weak pair as written
    ],
)
def test_loss_signature_needs_a_parameter(source, expected):
    assert prefilter_checks.loss_signature(source.encode()) is expected


# Code around a loss function; the pre-filter must let it through for every rule that reports on it.
SNIPPETS = st.sampled_from(
    [
        "import keras\n",
        "y_pred = model(x)\n",
        "from keras.losses import Loss\n",
        "# y_true and y_pred are described here\n",
        "x = keras.backend.floatx()\n",
        "def helper(a, b):\n    return a\n",
    ]
)


@settings(max_examples=40, deadline=None)
@given(before=st.lists(SNIPPETS, max_size=3), after=st.lists(SNIPPETS, max_size=3),
       rule=st.sampled_from([r for r in RULES if list(r.invalid_examples())]), index=st.integers(0, 10))
def test_invalid_examples_with_surroundings_pass(before, after, rule, index):
    cases = list(rule.invalid_examples())
    code = textwrap.dedent(cases[index % len(cases)].code)
    source = "".join(before) + code + "".join(after)
    assert prefilter.Prefilter([rule]).wants(source.encode())


@pytest.mark.parametrize(
    "source",
    [
        "import keras\ndef train_step(self, data):\n    y_pred = self(x)\n    return keras.ops.mean(y_pred)\n",
        "from keras.losses import Loss\n__all__ = ['Loss']\n",
        "import keras\nprint(keras.backend.floatx())\n",
    ],
)
def test_rejected_files_have_no_findings(source):
    """What the tighter triggers now reject really has nothing to report (linting it anyway)."""
    assert not prefilter.Prefilter(RULES).wants(source.encode())
    assert lint_source(source, "t.py", rules=RULES) == []


def test_lambda_bound_to_a_name_then_compiled_passes():
    """``fn = lambda t, p: ...`` then ``compile(loss=fn)``: the finder takes the lambda as a loss
    (its parameter names prove nothing), so the pre-filter must not hide the file."""
    source = "import tensorflow as tf\nfn = lambda t, p: tf.reduce_mean(tf.abs(t - p))\nmodel.compile(loss=fn)\n"
    assert prefilter.Prefilter(RULES).wants(source.encode())
    assert [f.code for f in lint_source(source, "t.py", rules=RULES)] == ["LCK101"]
