"""The layout Additions on every Keras 3 backend: TensorFlow, JAX and PyTorch.

A module generated from the Additions' test layout (class weights, label smoothing, a
categorical ``when: in`` gate, ``pool``, metrics over a subset of classes and under a gate) runs
on each backend in its own process (``additions_backend_run.py``, ``KERAS_BACKEND`` set before
Keras starts). Every task's and output's loss and every metric of ``make_metrics()`` must equal
the NumPy computation of gen_helpers.py, and the TensorFlow backend's value to 1e-5 relative;
``fit`` takes two steps with the losses and metrics. Each backend's run carries its marker
(``keras_jax``, ``keras_torch``), so ``-m keras_jax`` runs it alone and
``-m "not keras_jax and not keras_torch"`` leaves the other backends out.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import gen_helpers as H
import numpy as np
import pytest

pytestmark = [pytest.mark.keras, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("additions_backend_run.py")
RTOL = 1e-5
B, S = H.ADDITIONS_B, H.ADDITIONS_S
# The Additions' layout with static weights: runtime weights on every backend are
# test_variable_weights_backends.py's subject.
LAYOUT = {key: value for key, value in H.ADDITIONS_LAYOUT.items() if key != "weights"}
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # KERAS_BACKEND -> module
BACKEND_PARAMS = [
    pytest.param("tensorflow", id="tensorflow"),
    pytest.param("jax", id="jax", marks=pytest.mark.keras_jax),
    pytest.param("torch", id="torch", marks=pytest.mark.keras_torch),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path, dict[str, np.ndarray], np.ndarray]:
    """The generated module (written by ``losscheck gen``), the data file, the raw labels, the logits."""
    directory = tmp_path_factory.mktemp("additions_backends")
    module, text = H.generate_module(LAYOUT, directory)
    module_path = directory / "additions_losses.py"
    module_path.write_text(text, encoding="utf-8")
    rng = np.random.default_rng(20260715)
    targets, y_pred, raw = H.additions_data(rng)
    x = rng.normal(size=(B, S, S, 2)).astype("float32")
    y_true = np.asarray(module.pack_targets("seg", targets), dtype="float32")
    np.savez(directory / "data.npz", y_true=y_true, y_pred=y_pred, x=x)
    return module_path, directory / "data.npz", raw, y_pred.astype("float64")


_RUNS: dict[str, dict] = {}


def run_on(backend: str, prepared) -> dict:
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"needs {BACKENDS[backend]}")
    if backend not in _RUNS:
        module_path, data_path, _, _ = prepared
        env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run([sys.executable, str(SCRIPT), str(module_path), str(data_path)], check=False, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        _RUNS[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    result = _RUNS[backend]
    assert result["backend"] == backend
    return result


def expected_losses(raw: dict[str, np.ndarray], logits: np.ndarray) -> dict[str, np.ndarray]:
    tissue = H.tissue_reference(raw["tissue"], logits[..., 0:3], [0.5, 1.0, 2.0], 0.1)
    lesion = H.lesion_reference(raw["tissue"], [1, 2], raw["lesion"], logits[..., 3])
    grade = H.grade_reference(raw["grade"], logits[..., 4:8])
    return {"seg.tissue": tissue, "seg.lesion": lesion, "seg.grade": grade,
            "seg": tissue + 0.7 * lesion + 0.3 * grade}


def expected_metrics(raw: dict[str, np.ndarray], logits: np.ndarray) -> dict[str, float]:
    probs = np.exp(H.log_softmax(logits[..., 0:3]))
    truth_sub = np.eye(3)[raw["tissue"]][..., [1, 2]].reshape(-1, 2)
    pred_sub = np.eye(2)[probs[..., [1, 2]].argmax(-1)].reshape(-1, 2)
    keep = np.isin(raw["tissue"], [1, 2]).ravel()  # the lesion task's gate
    pred_pos = H.sigmoid(logits[..., 3]).ravel() > 0.5
    true_pos = raw["lesion"].ravel() == 1
    top2 = np.argsort(logits[..., 4:8].max(axis=(1, 2)), axis=-1)[:, -2:]
    return {
        "seg/tissue_categorical_accuracy": float((probs.argmax(-1) == raw["tissue"]).mean()),
        "seg/tissue_f1": H.f1_macro(truth_sub, pred_sub, np.ones(len(truth_sub))),
        "seg/lesion_precision": float((keep & pred_pos & true_pos).sum() / max((keep & pred_pos).sum(), 1)),
        "seg/grade_top_k_categorical_accuracy": float(np.mean([raw["grade"][i, 0, 0] in top2[i] for i in range(B)])),
    }


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_losses_match_numpy_and_tensorflow(prepared, backend):
    _, _, raw, logits = prepared
    got = run_on(backend, prepared)["losses"]
    expected = expected_losses(raw, logits)
    assert set(got) == set(expected)
    for key, value in expected.items():
        # the lesion task's clipped probabilities: as in test_gen_additions.py
        np.testing.assert_allclose(got[key], value, rtol=1e-4 if "lesion" in key or key == "seg" else RTOL,
                                   err_msg=f"{backend}: {key}")
    if backend != "tensorflow":
        reference = run_on("tensorflow", prepared)["losses"]
        for key in expected:
            np.testing.assert_allclose(got[key], reference[key], rtol=RTOL, err_msg=f"{backend}: {key}")


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_metrics_match_numpy_and_tensorflow(prepared, backend):
    _, _, raw, logits = prepared
    got = run_on(backend, prepared)["metrics"]
    expected = expected_metrics(raw, logits)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=RTOL, abs=1e-7), (backend, name)
    if backend != "tensorflow":
        reference = run_on("tensorflow", prepared)["metrics"]
        for name in expected:
            assert got[name] == pytest.approx(reference[name], rel=RTOL, abs=1e-7), (backend, name)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_fit_takes_two_steps_with_the_losses_and_metrics(prepared, backend):
    fit = run_on(backend, prepared)["fit"]
    assert fit["steps"] == 2
    history = fit["history"]
    assert {"loss", "tissue_f1", "lesion_precision"} <= {k.removeprefix("seg_") for k in history}, history
    assert all(math.isfinite(v) for values in history.values() for v in values), history


def test_the_backend_markers_are_registered(pytestconfig):
    markers = "\n".join(pytestconfig.getini("markers"))
    assert "keras_jax:" in markers and "keras_torch:" in markers
