"""The PyTorch plugin's helpers (losscheck_torch/helpers.py), imported and tested on their own.

Each ``_lc`` helper takes the same arguments as the Keras 3 helper of the same name
(losscheck/gen/helpers/keras_ops.py, itself checked against ``keras.losses`` in
tests/gen/test_generated_helpers.py) and gives the same values on random inputs; the simple
ones are also checked against NumPy without TensorFlow. ``pack_targets`` and ``total_loss`` are
checked with the tables a generated module would give them. Real PyTorch and Keras; no mocks.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("losscheck_torch", reason="pip install -e plugins/torch")
torch = pytest.importorskip("torch")

from losscheck_torch import helpers  # after the skips: it imports torch

B, S, C = 3, 4, 5
TOL = {"rtol": 1e-5, "atol": 1e-6}
# The target kind each helper reads: it decides the random inputs.
KINDS = {
    "_lc_mean_squared_error": "regression",
    "_lc_mean_absolute_error": "regression",
    "_lc_huber": "regression",
    "_lc_log_cosh": "regression",
    "_lc_bce_elements": "binary",
    "_lc_binary_crossentropy": "binary",
    "_lc_binary_focal_crossentropy": "binary",
    "_lc_dice": "binary",
    "_lc_categorical_crossentropy": "categorical",
    "_lc_categorical_focal_crossentropy": "categorical",
    "_lc_sparse_categorical_crossentropy": "sparse",
}


def _inputs(kind: str, rng: np.random.Generator, from_logits: bool) -> tuple[np.ndarray, np.ndarray]:
    """(truth, pred), float32, (B, S, C); sparse truth is the class index, (B, S, 1)."""
    if kind == "regression":
        return rng.normal(0, 2, (B, S, C)).astype("float32"), rng.normal(0, 2, (B, S, C)).astype("float32")
    logits = rng.normal(0, 2, (B, S, C))
    if kind == "binary":
        truth = rng.integers(0, 2, (B, S, C))
        pred = logits if from_logits else rng.uniform(0.01, 0.99, (B, S, C))
    else:
        index = rng.integers(0, C, (B, S))
        truth = index[..., None] if kind == "sparse" else np.eye(C)[index]
        pred = logits if from_logits else rng.dirichlet(np.ones(C), (B, S))
    return truth.astype("float32"), pred.astype("float32")


def _options(name: str) -> Iterator[dict[str, Any]]:
    """Every combination of the helper's parameters beyond (truth, pred) worth checking."""
    values = {
        "from_logits": (False, True),
        "delta": (0.4, 1.0, 2.5),
        "gamma": (0.0, 1.5),
        "pos_weight": (None, 2.5),
        "alpha": (None, 0.3) if name == "_lc_binary_focal_crossentropy" else (0.25, 0.8),
        "axes": ((1, 2),),
    }
    params = list(inspect.signature(getattr(helpers, name)).parameters)[2:]
    for combination in itertools.product(*(values[p] for p in params)):
        yield dict(zip(params, combination))


def _torch_value(name: str, truth: np.ndarray, pred: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    value = getattr(helpers, name)(torch.from_numpy(truth), torch.from_numpy(pred), **kwargs)
    return value.numpy()


def test_every_helper_has_a_kind_and_the_keras_helpers_names():
    ours = {n for n in vars(helpers) if n.startswith("_lc") and inspect.isfunction(vars(helpers)[n])}
    assert ours - {"_lc_register", "_lc_masked_mean", "_lc_pack_numpy"} == set(KINDS)


@pytest.mark.keras
def test_helpers_equal_the_keras3_helpers():
    keras = pytest.importorskip("keras")
    from losscheck.gen.helpers import keras_ops

    rng = np.random.default_rng(0)
    checked = 0
    for name, kind in KINDS.items():
        for kwargs in _options(name):
            truth, pred = _inputs(kind, rng, kwargs.get("from_logits", False))
            got = _torch_value(name, truth, pred, kwargs)
            if name == "_lc_bce_elements":  # Keras 3 has it as an op
                want = keras.ops.binary_crossentropy(truth, pred, from_logits=kwargs["from_logits"])
            else:
                theirs = getattr(keras_ops, name)
                assert inspect.signature(theirs) == inspect.signature(getattr(helpers, name)), name
                want = theirs(keras.ops.convert_to_tensor(truth), keras.ops.convert_to_tensor(pred), **kwargs)
            want = np.asarray(want)
            assert got.shape == want.shape, (name, kwargs)
            np.testing.assert_allclose(got, want, **TOL, err_msg=f"{name} {kwargs}")
            checked += 1
    assert checked >= 30


def test_regression_helpers_and_dice_equal_numpy():
    rng = np.random.default_rng(1)
    truth, pred = _inputs("regression", rng, False)
    error = (pred - truth).astype("float64")
    np.testing.assert_allclose(_torch_value("_lc_mean_squared_error", truth, pred, {}), np.mean(error**2, -1), **TOL)
    np.testing.assert_allclose(_torch_value("_lc_mean_absolute_error", truth, pred, {}), np.mean(abs(error), -1), **TOL)
    np.testing.assert_allclose(_torch_value("_lc_log_cosh", truth, pred, {}), np.mean(np.log(np.cosh(error)), -1),
                               **TOL)
    for delta in (0.5, 2.0):
        huber = np.where(abs(error) <= delta, 0.5 * error**2, delta * abs(error) - 0.5 * delta**2)
        np.testing.assert_allclose(_torch_value("_lc_huber", truth, pred, {"delta": delta}), huber.mean(-1), **TOL)
    truth, pred = _inputs("binary", rng, False)
    dice = 1 - 2 * (truth * pred).sum((1, 2)) / (truth.sum((1, 2)) + pred.sum((1, 2)) + 1e-7)
    np.testing.assert_allclose(_torch_value("_lc_dice", truth, pred, {"axes": (1, 2)}), dice, **TOL)


def test_masked_mean_equals_numpy():
    rng = np.random.default_rng(2)
    loss = rng.normal(size=(B, S, C)).astype("float32")
    mask = rng.integers(0, 2, (B, S, C)).astype("float32")
    mask[1] = 0.0  # nothing counts in this example: 0, not NaN
    got = helpers._lc_masked_mean(torch.from_numpy(loss), torch.from_numpy(mask), (1, 2)).numpy()
    want = (loss * mask).sum((1, 2)) / np.maximum(mask.sum((1, 2)), 1.0)
    np.testing.assert_allclose(got, want, **TOL)
    assert got[1] == 0.0


def test_register_is_the_identity():
    def fn(y_true, y_pred):
        return y_pred

    assert helpers._lc_register(fn) is fn


def test_pack_targets_takes_and_returns_tensors(monkeypatch):
    from losscheck.gen.helpers import common

    monkeypatch.setattr(common, "_lc_packing", {"o": (1, (2,), (("a", 1), ("b", 3)))})
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 2)), rng.normal(size=(4, 2, 3))
    packed = helpers.pack_targets("o", {"a": torch.from_numpy(a), "b": b})
    assert isinstance(packed, torch.Tensor) and packed.dtype == torch.float32 and packed.shape == (4, 4, 2)
    np.testing.assert_array_equal(packed.numpy(), common.pack_targets("o", {"a": a, "b": b}))
    with pytest.raises(ValueError, match=r"unknown \['c'\]"):
        helpers.pack_targets("o", {"a": a, "b": b, "c": a})


def test_total_loss_weights_examples_averages_and_applies_loss_weights(monkeypatch):
    monkeypatch.setattr(helpers, "LOSSES", {"x": lambda t, p: (p - t).sum(dim=1), "y": lambda t, p: p.mean(dim=1)})
    monkeypatch.setattr(helpers, "LOSS_WEIGHTS", {"x": 2.0, "y": 0.5})
    y_true = {"x": torch.zeros(3, 2), "y": torch.zeros(3, 4)}
    y_pred = {"x": torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]),
              "y": torch.tensor([[1.0] * 4, [2.0] * 4, [3.0] * 4])}
    weights = torch.tensor([1.0, 0.0, 2.0])
    # per example: x (3, 7, 1), y (1, 2, 3); weighted: x (3, 0, 2), y (1, 0, 6)
    got = helpers.total_loss(y_true, y_pred, sample_weight=weights)
    assert torch.allclose(got, torch.tensor(2.0 * 5 / 3 + 0.5 * 7 / 3)) and got.ndim == 0
    by_output = helpers.total_loss(y_true, y_pred, sample_weight={"x": weights})  # y unweighted
    assert torch.allclose(by_output, torch.tensor(2.0 * 5 / 3 + 0.5 * 2.0))
    assert torch.allclose(helpers.total_loss(y_true, y_pred), torch.tensor(2.0 * 11 / 3 + 0.5 * 2.0))
