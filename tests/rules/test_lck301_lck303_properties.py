"""LCK301 undefined-name and LCK303 model-tensor-in-loss: properties over names, and extra cases."""

from __future__ import annotations

import builtins
import keyword
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.rules.lck301_undefined_name import UndefinedName
from losscheck.lint.rules.lck303_model_tensor_in_loss import ModelTensorInLoss

RESERVED = set(dir(builtins)) | {"keras", "tf", "y_true", "y_pred", "loss", "make_loss", "inputs", "model", "h"}
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in RESERVED and not s.startswith("__")
)


def lint(source: str, rule) -> list:
    return [f for f in lint_source(textwrap.dedent(source), "t.py", rules=[rule]) if f.code == rule.code]


# -- LCK301 --------------------------------------------------------------------------------

LOSS_USING = "def loss(y_true, y_pred):\n    return keras.ops.mean((y_true - y_pred) * {name}, axis=-1)\n"

# Ways to make `name` exist when Keras calls the loss: each must keep the rule quiet.
DEFINITIONS = {
    "before": "{name} = 0.5\n" + LOSS_USING,
    "after": LOSS_USING + "{name} = 0.5\n",
    "import": "from config import {name}\n" + LOSS_USING,
    "import-as": "import numpy as {name}\n" + LOSS_USING,
    "def-after": LOSS_USING + "def {name}():\n    return 1\n",
    "class": "class {name}:\n    pass\n" + LOSS_USING,
    "for-target": "for {name} in range(3):\n    pass\n" + LOSS_USING,
    "with-as": "with open('f') as {name}:\n    pass\n" + LOSS_USING,
    "tuple-unpack": "a, {name} = 1, 2\n" + LOSS_USING,
    "factory": (
        "def make_loss({name}):\n"
        "    def loss(y_true, y_pred):\n"
        "        return keras.ops.mean((y_true - y_pred) * {name}, axis=-1)\n"
        "    return loss\n"
    ),
    "global-elsewhere": "def setup(v):\n    global {name}\n    {name} = v\n" + LOSS_USING,
    "star-import": "from settings import *\n" + LOSS_USING,
    "globals-update": "globals().update(CONFIG)\n" + LOSS_USING,
    "name-error-guard": (
        "def loss(y_true, y_pred):\n"
        "    try:\n"
        "        w = {name}\n"
        "    except NameError:\n"
        "        w = 1.0\n"
        "    return (y_true - y_pred) * w\n"
    ),
    "local": "def loss(y_true, y_pred):\n    {name} = 2.0\n    return (y_true - y_pred) * {name}\n",
    "comprehension": "def loss(y_true, y_pred):\n    return sum([y_pred[..., {name}] for {name} in range(3)])\n",
    "if-main": LOSS_USING + "if __name__ == '__main__':\n    {name} = 3\n",
}


@settings(max_examples=25)
@given(name=NAMES, how=st.sampled_from(sorted(DEFINITIONS)))
def test_defined_names_are_quiet(name: str, how: str) -> None:
    source = "import keras\n" + DEFINITIONS[how].format(name=name)
    assert lint(source, UndefinedName) == [], source


@settings(max_examples=25)
@given(name=NAMES, uses=st.integers(1, 3), as_lambda=st.booleans())
def test_undefined_name_reported_once_at_its_first_use(name: str, uses: int, as_lambda: bool) -> None:
    term = " + ".join([name] * uses)
    if as_lambda:
        source = f"import keras\nmodel.compile(loss=lambda y_true, y_pred: (y_true - y_pred) * ({term}))\n"
        function = "<lambda>"
    else:
        source = f"import keras\ndef loss(y_true, y_pred):\n    return (y_true - y_pred) * ({term})\n"
        function = "loss"
    (finding,) = lint(source, UndefinedName)
    assert finding.message.startswith(f"`{name}` is not defined in any scope that `{function}` can see")
    line = source.splitlines()[finding.line - 1]
    assert finding.column - 1 == line.index(f"* ({name}") + 3
    assert line[finding.column - 1 : finding.end_column - 1] == name


def test_functions_without_loss_shape_are_not_checked() -> None:
    assert lint("def helper(a, b):\n    return a * undefined_thing\n", UndefinedName) == []


def test_annotations_are_not_loss_code() -> None:
    source = (
        "from __future__ import annotations\n"
        "def loss(y_true: Tensor, y_pred: Tensor) -> Tensor:\n"
        "    return y_true - y_pred\n"
    )
    assert lint(source, UndefinedName) == []


def test_one_finding_per_name_per_function_and_nested_scopes() -> None:
    source = """
    def loss(y_true, y_pred):
        parts = [y_pred[..., i] * alpha for i in range(n_heads)]
        return sum(parts) * alpha + (lambda q: q * beta)(y_true)
    """
    findings = lint(source, UndefinedName)
    assert [f.message.split("`")[1] for f in findings] == ["alpha", "n_heads", "beta"]


# -- LCK303 --------------------------------------------------------------------------------

BUILD = (
    "import keras\n"
    "inputs = keras.Input((8,))\n"
    "h = keras.layers.Dense(4)(inputs)\n"
    "{name} = {producer}\n"
    "model = keras.Model(inputs, h)\n"
)
PRODUCERS = [
    "keras.layers.Dense(2)(h)",
    "keras.Input((3,))",
    "keras.ops.mean(h, axis=-1)",
    "h[:, :2]",
    "h * 2.0",
    "keras.layers.Concatenate()([h, inputs])",
]


@settings(max_examples=25)
@given(name=NAMES, producer=st.sampled_from(PRODUCERS), captured=st.booleans())
def test_layer_outputs_captured_by_a_loss(name: str, producer: str, captured: bool) -> None:
    term = name if captured else "0.1"
    source = BUILD.format(name=name, producer=producer) + (
        "def loss(y_true, y_pred):\n"
        f"    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) + {term}\n"
    )
    findings = lint(source, ModelTensorInLoss)
    if not captured:
        assert findings == []
        return
    (finding,) = findings
    assert finding.message.startswith(f"`{name}` is a layer output (a symbolic KerasTensor: `{producer}`, line 4)")
    assert (finding.line, source.splitlines()[finding.line - 1][finding.column - 1 : finding.end_column - 1]) == (
        7,
        name,
    )


@settings(max_examples=15)
@given(name=NAMES)
def test_rebinding_to_a_value_or_a_parameter_is_quiet(name: str) -> None:
    rebound = BUILD.format(name=name, producer="keras.layers.Dense(2)(h)") + f"{name} = 0.5\n" + (
        f"def loss(y_true, y_pred):\n    return (y_true - y_pred) * {name}\n"
    )
    assert lint(rebound, ModelTensorInLoss) == []
    parameter = BUILD.format(name=name, producer="keras.layers.Dense(2)(h)") + (
        f"def loss(y_true, y_pred, {name}=1.0):\n    return (y_true - y_pred) * {name}\n"
    )
    assert lint(parameter, ModelTensorInLoss) == []


@pytest.mark.parametrize(
    "expression",
    ["model.output", "model.outputs[0]", "model.input", "model.layers[-1].output", 'model.get_layer("d").output'],
)
def test_model_outputs_read_in_a_loss(expression: str) -> None:
    source = BUILD.format(name="z", producer="h") + (
        f"def loss(y_true, y_pred):\n    return (y_true - y_pred) * {expression}\n"
    )
    (finding,) = lint(source, ModelTensorInLoss)
    shown = expression.split("[0]")[0] if expression.startswith("model.outputs") else expression
    assert finding.message.startswith(f"`{shown}` is a layer output (a symbolic KerasTensor of model `model`)")


def test_factory_with_a_number_or_keyword_tensor() -> None:
    source = """
    import keras
    inputs = keras.Input((4,))
    z = keras.layers.Dense(2)(inputs)
    def make(beta, feats=None):
        def loss(y_true, y_pred):
            return (y_true - y_pred) * beta + feats
        return loss
    model.compile(loss=make(0.5, feats=z))
    """
    (finding,) = lint(source, ModelTensorInLoss)
    assert finding.message.startswith("`feats` is a layer output (the KerasTensor `z` passed to `make` at line 9)")


def test_typo_hint_names_a_visible_name_only() -> None:
    source = """
    import keras
    class_weights = [1.0, 5.0]
    class Config:
        smooth = 1.0
    def loss(y_true, y_pred):
        return (y_true - y_pred) * class_wieghts + smoth
    """
    first, second = lint(source, UndefinedName)
    assert "(did you mean `class_weights`?)" in first.message
    assert "did you mean" not in second.message  # `smooth` lives in a class body the loss cannot see


@pytest.mark.parametrize(
    "construct, reported",
    [
        ("VAELoss(z, 0.1)", True),
        ("VAELoss(z_mean=z)", True),
        ("VAELoss(0.5, beta=z)", False),  # `beta` is stored, but never read in `call`
        ("VAELoss(z_np)", False),  # not a layer output
    ],
)
def test_loss_subclass_given_a_layer_output(construct: str, reported: bool) -> None:
    source = f"""
    import keras
    class VAELoss(keras.losses.Loss):
        def __init__(self, z_mean, beta=1.0):
            super().__init__()
            self.z_mean = z_mean
            self.beta = beta
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) + keras.ops.sum(self.z_mean, axis=-1)
    z = keras.layers.Dense(2)(keras.Input((8,)))
    z_np = load()
    model.compile(loss={construct})
    """
    findings = lint(source, ModelTensorInLoss)
    if not reported:
        assert findings == []
        return
    (finding,) = findings
    assert finding.message.startswith("`self.z_mean` holds a layer output (the KerasTensor `z` passed to `VAELoss`")
    line = textwrap.dedent(source).splitlines()[finding.line - 1]
    assert line.strip().startswith("return keras.ops.mean")
    start = line.index("self.z_mean, axis")
    assert (finding.column - 1, finding.end_column - 1) == (start, start + len("self.z_mean"))
