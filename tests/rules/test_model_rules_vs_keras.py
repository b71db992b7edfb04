"""The model-level rules against installed Keras: what the messages claim, and zero findings on Keras itself."""

from __future__ import annotations

import os
import pathlib
import re

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.rules.lck301_undefined_name import UndefinedName
from losscheck.lint.rules.lck303_model_tensor_in_loss import ModelTensorInLoss
from losscheck.lint.rules.lck501_sequential_multi_output import SequentialMultiOutput
from losscheck.lint.rules.lck502_list_for_dict_outputs import ListForDictOutputs

OURS = [UndefinedName, ModelTensorInLoss, SequentialMultiOutput, ListForDictOutputs]


def _keras_source_dir() -> pathlib.Path:
    # find_spec does not import Keras (the linter must never need it; the test does not either)
    import importlib.util

    spec = importlib.util.find_spec("keras")
    if spec is None or spec.origin is None:
        pytest.skip("keras is not installed")
    return pathlib.Path(spec.origin).parent / "src"


def _modules() -> list[pathlib.Path]:
    try:
        root = _keras_source_dir()
    except pytest.skip.Exception:
        return []
    return sorted(p for sub in ("losses", "metrics") for p in (root / sub).glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", _modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_findings_on_keras_losses_and_metrics(path: pathlib.Path) -> None:
    findings = lint_source(path.read_text(encoding="utf-8"), str(path), rules=OURS)
    assert findings == [], "\n".join(f"{f.line}:{f.column} {f.code} {f.message}" for f in findings)


def test_precision_check_covers_real_files() -> None:
    modules = _modules()
    if not modules:
        pytest.skip("keras is not installed")
    # the check above must be looking at Keras's loss functions, not at an empty directory
    assert any(p.name == "losses.py" and "def mean_squared_error(y_true, y_pred)" in p.read_text() for p in modules)


# -- what the messages say, measured -----------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


LCK502_SOURCE = """
import keras
inputs = keras.Input((4,))
price = keras.layers.Dense(1, name="price")(inputs)
count = keras.layers.Dense(1, name="count")(inputs)
active = keras.layers.Dense(1, name="active")(inputs)
model = keras.Model(inputs, outputs={"price": price, "count": count, "active": active})
model.compile(loss={"price": "mse", "count": "mse", "active": "mse"}, loss_weights=[1.0, 10.0, 100.0])
"""


@pytest.mark.keras
@pytest.mark.slow
def test_lck502_pairing_is_what_keras_does(keras) -> None:
    import numpy as np

    findings = [f for f in lint_source(LCK502_SOURCE, "t.py", rules=[ListForDictOutputs])]
    weights_message = next(f.message for f in findings if "loss weights" in f.message)
    pairs = re.findall(r"loss_weights\[(\d)\] (?:goes to output |to )'(\w+)'", weights_message)
    claimed = {int(i): name for i, name in pairs}
    assert sorted(claimed) == [0, 1, 2]

    inputs = keras.Input((4,))
    heads = {n: keras.layers.Dense(1, name=n)(inputs) for n in ("price", "count", "active")}
    model = keras.Model(inputs, outputs=heads)
    model.compile(loss={n: "mse" for n in heads}, loss_weights=[1.0, 10.0, 100.0])
    rng = np.random.default_rng(0)
    x = rng.random((16, 4), dtype=np.float32)
    y = {n: rng.random((16, 1), dtype=np.float32) + i for i, n in enumerate(heads)}
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    per_output = {n: result[f"{n}_loss"] for n in heads}
    weighted = sum(w * per_output[claimed[i]] for i, w in enumerate([1.0, 10.0, 100.0]))
    assert result["loss"] == pytest.approx(weighted, rel=1e-4)
    as_written = sum(w * per_output[n] for w, n in zip([1.0, 10.0, 100.0], heads))
    assert result["loss"] != pytest.approx(as_written, rel=1e-3)  # the mistake the rule reports is real


@pytest.mark.keras
@pytest.mark.slow
def test_lck501_first_loss_only_is_what_keras_does(keras) -> None:
    import numpy as np

    source = 'import keras\nm = keras.Sequential([keras.layers.Dense(1)])\nm.compile(loss=["mae", "mse"])\n'
    (finding,) = lint_source(source, "t.py", rules=[SequentialMultiOutput])
    assert 'silently uses only the first (`"mae"`)' in finding.message

    rng = np.random.default_rng(1)
    x = rng.random((16, 4), dtype=np.float32)
    y = rng.random((16, 1), dtype=np.float32) + 3.0
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    prediction = model.predict(x, verbose=0)
    model.compile(loss=["mae", "mse"])
    value = model.evaluate(x, y, verbose=0)
    value = value[0] if isinstance(value, list) else value
    assert value == pytest.approx(float(np.mean(np.abs(y - prediction))), rel=1e-4)
    assert value != pytest.approx(float(np.mean((y - prediction) ** 2)), rel=1e-3)
