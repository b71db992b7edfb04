"""Runtime loss weights (``"weights": "variable"``) on every Keras 3 backend, against NumPy.

For TensorFlow, JAX and PyTorch in turn, a subprocess (``variable_weights_fit.py``, with
``KERAS_BACKEND`` set before Keras starts) fits small models with the generated module; this
file replays every fit in NumPy (the losses by hand, their gradients, plain SGD) and compares
each epoch's loss and the parameters at the end:

- ``WeightScheduler`` in ``fit`` changes an output weight and a task weight every epoch, then a
  plain ``WEIGHTS[key].assign`` between ``fit`` calls reaches ``evaluate`` and the next ``fit``,
  also with ``jit_compile=True`` (XLA on TensorFlow, ``torch.compile`` on PyTorch);
- after ``attach_weights``, a user's own ``on_epoch_begin`` callback assigns a weight;
- inside an epoch (a batch callback), TensorFlow and PyTorch take an assignment at the next
  batch; the JAX trainer holds the model's state outside its variables during an epoch, so
  there it takes effect after ``model.jax_state_sync()`` only, and is overwritten otherwise;
- without ``attach_weights`` (and no scheduler), TensorFlow and PyTorch still read the
  variables; a compiled JAX step keeps the value it was traced with, and the module warns;
- JAX data parallelism over 2 devices: the schedule holds when the module is imported after
  ``set_distribution``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import gen_helpers as H
import numpy as np
import pytest

pytestmark = [pytest.mark.keras, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("variable_weights_fit.py")
LAYOUT = {
    "version": 1,
    "weights": "variable",
    "outputs": [{"name": "y", "weight": 2.0, "tasks": [
        {"name": "a", "type": "regression", "units": 2, "loss": "mse"},
        {"name": "b", "type": "regression", "units": 1, "loss": "mae", "weight": 0.5},
    ]}],
}
INITIAL = {"y": 2.0, "y.a": 1.0, "y.b": 0.5}
# what variable_weights_fit.py does (its constants, repeated here to replay it; it prints them)
LEARNING_RATE = 0.1
SCHEDULE = {"y": [2.0, 1.0, 0.5], "y.b": [0.5, 3.0, 0.0]}
OWN_SCHEDULE = [1.0, 2.0]
BATCH_VALUE = 3.0
RTOL = 1e-5
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # KERAS_BACKEND -> module
# each backend's runs carry its marker: `-m keras_jax` runs them alone, `-m "not keras_torch"` leaves them out
BACKEND_PARAMS = [
    pytest.param("tensorflow", id="tensorflow"),
    pytest.param("jax", id="jax", marks=pytest.mark.keras_jax),
    pytest.param("torch", id="torch", marks=pytest.mark.keras_torch),
]

Params = tuple[np.ndarray, np.ndarray]


def loss_and_grads(params: Params, x: np.ndarray, t: np.ndarray, w: dict[str, float]) -> tuple[float, Params]:
    """Keras's batch loss for the layout, by hand: mean over the batch of
    ``w[y] * (w[y.a] * mean_c (p - t)^2 + w[y.b] * |p - t|)``, and its gradients."""
    kernel, bias = params
    error = x @ kernel + bias - t
    n = len(x)
    per_example = w["y"] * (w["y.a"] * (error[:, :2] ** 2).mean(axis=1) + w["y.b"] * np.abs(error[:, 2]))
    d_pred = np.empty_like(error)
    d_pred[:, :2] = w["y"] * w["y.a"] * error[:, :2] / n  # d/dp mean_c (p - t)^2 = (p - t) for 2 channels
    d_pred[:, 2] = w["y"] * w["y.b"] * np.sign(error[:, 2]) / n
    return float(per_example.mean()), (x.T @ d_pred, d_pred.sum(axis=0))


def replay(start: list, x: np.ndarray, t: np.ndarray, weights_per_epoch: list[dict[str, float]],
           learning_rate: float = LEARNING_RATE) -> tuple[list[float], Params]:
    """One full-batch SGD step per epoch: each epoch's loss (before its step) and the end."""
    params: Params = (np.asarray(start[0]), np.asarray(start[1]))
    losses = []
    for w in weights_per_epoch:
        loss, (g_kernel, g_bias) = loss_and_grads(params, x, t, w)
        losses.append(loss)
        params = (params[0] - learning_rate * g_kernel, params[1] - learning_rate * g_bias)
    return losses, params


def two_batches(start: list, x: np.ndarray, t: np.ndarray, second: dict[str, float]) -> float:
    """The epoch loss of two equal batches at fixed parameters: the first with the layout's
    weights, the second with ``second``."""
    params = (np.asarray(start[0]), np.asarray(start[1]))
    half = len(x) // 2
    first_loss, _ = loss_and_grads(params, x[:half], t[:half], INITIAL)
    second_loss, _ = loss_and_grads(params, x[half:], t[half:], second)
    return (first_loss + second_loss) / 2


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """The generated module (written by ``losscheck gen``, not imported here) and the data."""
    from losscheck.cli import main

    directory = tmp_path_factory.mktemp("variable_weights")
    layout_path = H.write_layout(LAYOUT, directory, stem="variable")
    module_path = directory / "variable_losses.py"
    assert main(["gen", str(layout_path), "-o", str(module_path), "-q"]) == 0
    rng = np.random.default_rng(20260601)
    x = rng.normal(size=(8, 3)).astype("float32")
    t = rng.normal(size=(8, 3)).astype("float32")  # y_true: a's 2 channels, then b's
    np.savez(directory / "data.npz", x=x, y=t)
    return module_path, directory / "data.npz", x.astype("float64"), t.astype("float64")


_RUNS: dict[tuple[str, str], dict] = {}  # (backend, mode) -> what variable_weights_fit.py printed


def _fit_on(backend: str, module_path: Path, data_path: Path, mode: str = "cases", **extra_env: str) -> dict:
    if importlib.util.find_spec(BACKENDS[backend]) is None or importlib.util.find_spec("keras") is None:
        pytest.skip(f"needs {BACKENDS[backend]} and keras")
    if (backend, mode) not in _RUNS:
        env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3", **extra_env)
        done = subprocess.run([sys.executable, str(SCRIPT), str(module_path), str(data_path), mode], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        _RUNS[backend, mode] = json.loads(done.stdout.strip().splitlines()[-1])
    result = _RUNS[backend, mode]
    assert result["backend"] == backend
    assert result["constants"] == {"learning_rate": LEARNING_RATE, "schedule": SCHEDULE, "own_schedule": OWN_SCHEDULE,
                                   "batch_value": BATCH_VALUE}
    return result


def _case(result: dict, name: str) -> dict:
    assert "error" not in result[name], result[name]["error"]
    return result[name]


def _epochs(schedule: dict[str, list[float]], epochs: int) -> list[dict[str, float]]:
    return [{**INITIAL, **{key: values[e] for key, values in schedule.items()}} for e in range(epochs)]


@pytest.mark.parametrize("jit_compile", [False, True], ids=["auto", "jit_compile"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_weight_scheduler_and_an_assignment_between_fits(prepared, backend, jit_compile):
    """WeightScheduler: every epoch's loss and the parameters it leads to; then a plain assign
    between fit calls reaches evaluate and the next fit. ``jit_compile=True`` too: XLA on
    TensorFlow, torch.compile on PyTorch."""
    module_path, data_path, x, t = prepared
    run = _case(_fit_on(backend, module_path, data_path), "scheduled_jit_compile" if jit_compile else "scheduled")
    losses, end = replay(run["start"], x, t, _epochs(SCHEDULE, 3))
    np.testing.assert_allclose(run["losses"], losses, rtol=RTOL)
    np.testing.assert_allclose(run["end"][0], end[0], rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(run["end"][1], end[1], rtol=RTOL, atol=1e-6)
    assert run["warnings"] == 0
    after = {"y": 0.5, "y.a": 0.25, "y.b": 0.0}
    assert run["weights_after"] == pytest.approx(after)
    expected, _ = loss_and_grads((np.asarray(run["end"][0]), np.asarray(run["end"][1])), x, t, after)
    assert run["evaluate_after_assign"] == pytest.approx(expected, rel=RTOL)
    assert run["fit_after_assign"] == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_attach_weights_and_an_own_epoch_callback(prepared, backend):
    """After attach_weights, a user's own on_epoch_begin assigns; the weights are model
    variables, not model weights (those are the kernel and the bias)."""
    module_path, data_path, x, t = prepared
    run = _case(_fit_on(backend, module_path, data_path), "own_callback")
    losses, end = replay(run["start"], x, t, _epochs({"y.a": OWN_SCHEDULE}, 2))
    np.testing.assert_allclose(run["losses"], losses, rtol=RTOL)
    np.testing.assert_allclose(run["end"][0], end[0], rtol=RTOL, atol=1e-6)
    assert (run["weights"], run["variables"]) == (2, 2 + len(INITIAL))


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_an_assignment_inside_an_epoch(prepared, backend):
    """TensorFlow and PyTorch read the variable at the next batch; the JAX trainer only after
    jax_state_sync(), and without it the epoch's end writes the old value back."""
    module_path, data_path, x, t = prepared
    r = _fit_on(backend, module_path, data_path)
    changed = {**INITIAL, "y": BATCH_VALUE}
    synced = _case(r, "batch_callback_synced")
    assert synced["loss"] == pytest.approx(two_batches(synced["start"], x, t, changed), rel=RTOL)
    assert synced["weight_after"] == BATCH_VALUE
    plain = _case(r, "batch_callback")
    if backend == "jax":
        assert plain["loss"] == pytest.approx(two_batches(plain["start"], x, t, INITIAL), rel=RTOL)
        assert plain["weight_after"] == INITIAL["y"]
    else:
        assert plain["loss"] == pytest.approx(two_batches(plain["start"], x, t, changed), rel=RTOL)
        assert plain["weight_after"] == BATCH_VALUE


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_weights_no_model_holds(prepared, backend):
    """Without attach_weights or a scheduler: TensorFlow and PyTorch read the variables anyway;
    a compiled JAX step keeps the traced value, and the module says so."""
    module_path, data_path, x, t = prepared
    run = _case(_fit_on(backend, module_path, data_path), "unattached")
    params = (np.asarray(run["start"][0]), np.asarray(run["start"][1]))
    assigned, _ = loss_and_grads(params, x, t, {**INITIAL, "y": 5.0})
    traced, _ = loss_and_grads(params, x, t, INITIAL)
    if backend == "jax":
        assert run["loss_after_assign"] == pytest.approx(traced, rel=RTOL)
        assert run["warnings"] >= 1
    else:
        assert run["loss_after_assign"] == pytest.approx(assigned, rel=RTOL)
        assert run["warnings"] == 0


@pytest.mark.keras_jax
def test_jax_data_parallel_weights_made_after_the_distribution(prepared):
    """Under keras.distribution the model's state is laid out on every device; WEIGHTS are made
    when the module is imported, so import it after set_distribution: then the schedule holds
    on 2 devices. Imported before, the weights sit on one device and JAX refuses the step."""
    module_path, data_path, x, t = prepared
    two = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = _case(_fit_on("jax", module_path, data_path, "data_parallel_import_after", **two),
                "data_parallel_import_after")
    assert run["devices"] == 2
    losses, end = replay(run["start"], x, t, _epochs(SCHEDULE, 3))
    np.testing.assert_allclose(run["losses"], losses, rtol=RTOL)
    np.testing.assert_allclose(run["end"][0], end[0], rtol=RTOL, atol=1e-6)
    early = _fit_on("jax", module_path, data_path, "data_parallel_import_first", **two)["data_parallel_import_first"]
    assert "incompatible devices" in early.get("error", ""), early
