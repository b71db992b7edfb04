"""The layout Additions with ``"framework": "tf.keras"`` on real tf-keras (Keras 2), against NumPy.

The checks of test_gen_additions.py (Keras 3) for the module a tf.keras layout gives:
class_weights, label_smoothing, a categorical ``when: in`` gate, ``pool``, ``weights: variable``
(``WEIGHTS``, ``WeightScheduler``) and ``make_metrics()``, each compared with the NumPy of
gen_helpers.py; random layouts with Additions give the numbers of their Keras 3 module; models
fit (also with ``jit_compile=True``), and reload from ``.keras`` and H5 files.

TensorFlow chooses its Keras when it is first imported, so tf-keras runs in a subprocess
(tf_keras_additions_run.py, ``TF_USE_LEGACY_KERAS=1``): one for the values, one for the fits
(slow). This file writes the modules and the data, and checks what comes back.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gen_helpers as H
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from losscheck.cli import main

pytestmark = [
    pytest.mark.keras,
    pytest.mark.skipif(importlib.util.find_spec("tf_keras") is None, reason="needs tf-keras"),
]
keras = pytest.importorskip("keras")  # the Keras 3 modules the random layouts are compared with

RUNNER = Path(__file__).with_name("tf_keras_additions_run.py")
B, S = H.ADDITIONS_B, H.ADDITIONS_S
LAYOUT = dict(H.ADDITIONS_LAYOUT, framework="tf.keras")
CLASS_WEIGHTS, SMOOTHING, GATE = [0.5, 1.0, 2.0], 0.1, [1, 2]  # the layout's
# (class weights, smoothing, gate classes) of the varied layouts
VARIED = [([0.0, 3.0, 1.0], 0.0, [0]), ([2.0, 2.0, 0.5], 0.5, [0, 1, 2]), ([1.0, 0.0, 4.0], 0.85, [2, 0])]
RANDOM_LAYOUTS = 8
EXAMPLES = [path for path in H.EXAMPLE_LAYOUTS if H.uses_additions(json.loads(path.read_text()))]
TOL = dict(rtol=1e-4, atol=1e-6)
WEIGHTED = np.array([1.0, 0.0, 2.5], "float32")  # a sample_weight per example


def generate(layout: dict[str, Any], directory: Path, stem: str) -> Path:
    """Write the tf.keras module of ``layout`` (not imported here: it needs tf-keras)."""
    path = H.write_layout(dict(layout, framework="tf.keras"), directory, stem)
    module = directory / f"{stem}_losses.py"
    assert main(["gen", str(path), "-o", str(module), "-q"]) == 0
    return module


def run_tf_keras(jobs: dict[str, list[dict]], directory: Path) -> dict:
    (directory / "jobs.json").write_text(json.dumps(jobs))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(RUNNER), str(directory / "jobs.json")], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["keras"].startswith("tf_keras")
    return results


def varied_layout(class_weights: list[float], smoothing: float, gate: list[int]) -> dict[str, Any]:
    layout = json.loads(json.dumps(LAYOUT))
    tissue, lesion = layout["outputs"][0]["tasks"][:2]
    tissue["class_weights"], tissue["label_smoothing"] = class_weights, smoothing
    lesion["when"] = {"task": "tissue", "in": gate}
    return layout


def random_layouts(count: int) -> list[dict[str, Any]]:
    """Layouts with Additions, the same ones on every run."""
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(H.layouts_with_additions())
    def collect(layout: dict[str, Any]) -> None:
        drawn.append(layout)

    collect()
    return drawn[-count:]


def seg_references(raw: dict[str, np.ndarray], logits: np.ndarray, class_weights: Any = CLASS_WEIGHTS,
                   smoothing: float = SMOOTHING, gate: Any = GATE) -> dict[str, np.ndarray]:
    """Each task of ``seg`` by NumPy: one value per example."""
    return {"seg.tissue": H.tissue_reference(raw["tissue"], logits[..., 0:3], class_weights, smoothing),
            "seg.lesion": H.lesion_reference(raw["tissue"], gate, raw["lesion"], logits[..., 3]),
            "seg.grade": H.grade_reference(raw["grade"], logits[..., 4:8])}


def seg_loss(raw: dict[str, np.ndarray], logits: np.ndarray, weights: dict[str, float]) -> float:
    """Keras's batch loss with the given WEIGHTS (LOSS_WEIGHTS is 1.0): the batch mean."""
    tasks = seg_references(raw, logits)
    per_example = weights["seg"] * sum(weights[key] * value for key, value in tasks.items())
    return float(np.mean(per_example))


class Jobs:
    """The cases of one tf-keras subprocess; their modules and data are written to ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.cases: dict[str, list[dict]] = {}

    def add(self, cases: tuple[str, ...], name: str, layout: dict[str, Any], data: dict[str, np.ndarray]) -> None:
        module = generate(layout, self.directory, name)
        np.savez(self.directory / f"{name}.npz", **data)
        job = {"name": name, "module": str(module), "data": str(self.directory / f"{name}.npz")}
        for case in cases:
            self.cases.setdefault(case, []).append(job)

    def run(self) -> dict:
        return run_tf_keras(self.cases, self.directory)


# -- the values: one subprocess -------------------------------------------------------------------
@pytest.fixture(scope="module")
def values(tmp_path_factory) -> dict[str, Any]:
    jobs = Jobs(tmp_path_factory.mktemp("tf_keras_values"))
    packer, _ = H.generate_module(H.ADDITIONS_LAYOUT, jobs.directory)  # pack_targets is NumPy, the same for both
    raw, logits = {}, {}
    for name, layout, seed in [("fixed", LAYOUT, 0)] + [(f"varied{i}", varied_layout(*v), 10 + i)
                                                       for i, v in enumerate(VARIED)]:
        targets, logits[name], raw[name] = H.additions_data(np.random.default_rng(seed))
        data = {"seg_true": packer.pack_targets("seg", targets), "seg_pred": logits[name]}
        if name == "fixed":  # Keras's per-example sample_weight, for the metrics
            jobs.add(("losses", "metrics", "runtime"), name, layout, {**data, "sample_weight": WEIGHTED})
        else:
            jobs.add(("losses",), name, layout, data)
    keras3 = {}
    rng = np.random.default_rng(1)
    layouts = {f"random{i}": layout for i, layout in enumerate(random_layouts(RANDOM_LAYOUTS))}
    layouts.update({path.stem: json.loads(path.read_text()) for path in EXAMPLES})
    for name, layout in layouts.items():
        data = {}
        for output in layout["outputs"]:
            data[output["name"] + "_true"], data[output["name"] + "_pred"] = H.make_data(output, 2, rng)
        jobs.add(("losses", "metrics"), name, layout, data)
        keras3[name] = keras3_values(layout, data, jobs.directory)
    return {"got": jobs.run(), "raw": raw, "logits": logits, "keras3": keras3}


def keras3_values(layout: dict[str, Any], data: dict[str, np.ndarray], directory: Path) -> dict[str, Any]:
    """The Keras 3 module's losses and metrics on the same arrays (test_gen_additions.py checks
    them against NumPy)."""
    module, _ = H.generate_module(layout, directory, framework="keras")
    losses = {key: np.asarray(fn(data[key.split(".")[0] + "_true"], data[key.split(".")[0] + "_pred"]))
              for key, fn in [*module.TASK_LOSSES.items(), *module.LOSSES.items()]}
    metrics = {}
    for output, objects in (module.make_metrics() if hasattr(module, "make_metrics") else {}).items():
        for metric in objects:
            metric.update_state(data[output + "_true"], data[output + "_pred"])
            metrics[f"{output}/{metric.name}"] = float(np.asarray(metric.result()))
    return {"losses": losses, "metrics": metrics}


def test_what_the_generated_module_imports(tmp_path):
    """TensorFlow, and NumPy inside pack_targets: never losscheck, Keras 3 or jax."""
    text = generate(LAYOUT, tmp_path, "imports").read_text()
    assert H.imported_modules(text) == {"tensorflow", "numpy"}
    assert "tf.keras.metrics.F1Score(" in text and "tf.Variable(" in text


def test_class_weights_smoothing_gate_and_pool_match_numpy(values):
    got = values["got"]["losses"]["fixed"]
    raw, logits = values["raw"]["fixed"], values["logits"]["fixed"]
    expected = seg_references(raw, logits)
    for key, value in expected.items():
        np.testing.assert_allclose(got["values"][key], value, **TOL, err_msg=key)
    total = 0.5 * (expected["seg.tissue"] + 0.7 * expected["seg.lesion"] + 0.3 * expected["seg.grade"])
    np.testing.assert_allclose(got["values"]["seg"], total, **TOL)
    assert got["loss_weights"] == {"seg": 1.0}
    assert got["weights"] == pytest.approx({"seg": 0.5, "seg.tissue": 1.0, "seg.lesion": 0.7, "seg.grade": 0.3})


@pytest.mark.parametrize("i", range(len(VARIED)))
def test_varied_class_weights_smoothing_and_gates_match_numpy(values, i):
    got = values["got"]["losses"][f"varied{i}"]["values"]
    class_weights, smoothing, gate = VARIED[i]
    expected = seg_references(values["raw"][f"varied{i}"], values["logits"][f"varied{i}"], class_weights,
                              smoothing, gate)
    for key in ("seg.tissue", "seg.lesion"):
        np.testing.assert_allclose(got[key], expected[key], **TOL, err_msg=key)


def _seg_metrics_reference(raw: dict[str, np.ndarray], logits: np.ndarray, weight: np.ndarray) -> dict[str, float]:
    """The fixed layout's metrics by NumPy; ``weight``: one per example."""
    per_position = np.broadcast_to(weight[:, None, None], raw["tissue"].shape).ravel()
    probs = np.exp(H.log_softmax(logits[..., 0:3].astype("float64")))
    right = (probs.argmax(-1) == raw["tissue"]).ravel()
    truth_sub = np.eye(3)[raw["tissue"]][..., [1, 2]].reshape(-1, 2)
    pred_sub = np.eye(2)[probs[..., [1, 2]].argmax(-1)].reshape(-1, 2)
    keep = np.isin(raw["tissue"], GATE).ravel() * per_position  # precision counts the gated positions only
    predicted = H.sigmoid(logits[..., 3].astype("float64")).ravel() > 0.5
    true_positive = raw["lesion"].ravel() == 1
    top2 = np.argsort(logits[..., 4:8].max(axis=(1, 2)), axis=-1)[:, -2:]
    in_top2 = np.array([raw["grade"][i, 0, 0] in top2[i] for i in range(len(weight))])
    return {
        "seg/tissue_categorical_accuracy": float((right * per_position).sum() / per_position.sum()),
        "seg/tissue_f1": H.f1_macro(truth_sub, pred_sub, per_position),
        "seg/lesion_precision": float((keep * predicted * true_positive).sum() / max((keep * predicted).sum(), 1e-12)),
        "seg/grade_top_k_categorical_accuracy": float((in_top2 * weight).sum() / weight.sum()),
    }


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
def test_metrics_on_given_arrays_match_numpy(values, weighted):
    """Each metric of make_metrics() sees its task's channels, its mask and Keras's per-example
    sample_weight."""
    got = values["got"]["metrics"]["fixed"]["weighted" if weighted else "plain"]
    weight = WEIGHTED.astype("float64") if weighted else np.ones(B)
    expected = _seg_metrics_reference(values["raw"]["fixed"], values["logits"]["fixed"], weight)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


def test_the_task_metric_and_the_scheduler_on_their_own(values):
    """tf_keras_runtime.py's classes as the module holds them (test_addition_helpers.py checks the
    Keras 3 ones with the same numbers)."""
    got = values["got"]["runtime"]["fixed"]
    # kept positions: (0,0) right, (1,0) right, (1,1) wrong -> 2/3; (0,1) is wrong but masked out;
    # then example 0 weighs 0: 3 right of 5
    assert (got["masked"], got["with_sample_weight"], got["round_trip"], got["after_reset"]) == pytest.approx(
        (2 / 3, 3 / 5, 2 / 3, 0.0))
    np.testing.assert_allclose(got["scheduled"], [[0.0, 2.0], [0.1, 2.0], [0.2, 2.0]], rtol=1e-6)
    assert "no loss weight named ['c']" in got["unknown_key"]
    assert got["model_unchanged"]


@pytest.mark.parametrize("name", [f"random{i}" for i in range(RANDOM_LAYOUTS)] + [p.stem for p in EXAMPLES])
def test_layouts_with_additions_equal_their_keras_3_module(values, name):
    """Any valid mix of Additions, and every example layout with Additions: the tf.keras
    module's losses and metrics are the Keras 3 module's (its smoothed terms call tf.keras's
    losses, which put ``+ epsilon`` in the log)."""
    got = values["got"]["losses"][name]["values"]
    want = values["keras3"][name]
    assert sorted(got) == sorted(want["losses"])
    for key, value in want["losses"].items():
        np.testing.assert_allclose(got[key], value, rtol=2e-4, atol=2e-5, err_msg=key)
    metrics = values["got"]["metrics"][name]["plain"]
    assert sorted(metrics) == sorted(want["metrics"])
    for name, value in want["metrics"].items():
        assert metrics[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


# -- fitting: one more subprocess -------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict[str, Any]:
    jobs = Jobs(tmp_path_factory.mktemp("tf_keras_fit"))
    packer, _ = H.generate_module(H.ADDITIONS_LAYOUT, jobs.directory)
    rng = np.random.default_rng(1)
    targets, _, raw = H.additions_data(rng)
    x = rng.normal(size=(B, S, S, 2)).astype("float32")
    jobs.add(("fit",), "fit", LAYOUT, {"x": x, "seg_true": packer.pack_targets("seg", targets)})
    for path in EXAMPLES:
        layout = json.loads(path.read_text())
        data = {"x": rng.normal(size=(2, 3)).astype("float32")}
        for output in layout["outputs"]:
            y_true, y_pred = H.make_data(output, 2, rng)
            data[output["name"] + "_true"], data[output["name"] + "_pred_shape"] = y_true, np.array(y_pred.shape)
        jobs.add(("examples",), path.stem, layout, data)
    return {"got": jobs.run(), "raw": raw}


JIT = pytest.mark.parametrize("jit", ["False", "True"], ids=["graph", "jit_compile"])


@pytest.mark.slow
@JIT
def test_the_scheduler_sets_each_epochs_loss(fitted, jit):
    """WeightScheduler assigns at each epoch's start; the epoch's loss (one batch, taken before
    its step) is the loss of that epoch's predictions with those weights."""
    run = fitted["got"]["fit"]["fit"][jit]
    initial = {"seg": 0.5, "seg.tissue": 1.0, "seg.lesion": 0.7, "seg.grade": 0.3}
    scheduled = [{**initial, "seg.lesion": 0.25 * (epoch + 1), "seg": [0.5, 2.0][epoch]} for epoch in range(2)]
    assert run["weights"] == [pytest.approx(w) for w in scheduled]
    for epoch, weights in enumerate(scheduled):
        expected = seg_loss(fitted["raw"], np.asarray(run["predictions"][epoch]), weights)
        assert run["losses"][epoch] == pytest.approx(expected, rel=1e-4), epoch
    assert run["losses"][0] != pytest.approx(run["losses"][1], rel=1e-2)  # the schedule did change it


@pytest.mark.slow
@JIT
def test_an_assign_reaches_the_compiled_test_and_train_steps(fitted, jit):
    """After the fit (its steps compiled), WEIGHTS[k].assign(v) reaches evaluate and the next
    fit, without recompiling."""
    run = fitted["got"]["fit"]["fit"][jit]
    weights = run["assigned_weights"]
    assert weights["seg.lesion"] == 3.0 and weights["seg"] == 0.25
    expected = seg_loss(fitted["raw"], np.asarray(run["predicted"]), weights)
    assert run["evaluate_after_assign"] == pytest.approx(expected, rel=1e-4)
    assert run["fit_after_assign"] == pytest.approx(expected, rel=1e-4)
    assert not np.allclose(run["predicted_after_fit"], run["predicted"])  # the fit did take its step


@pytest.mark.slow
@JIT
def test_metrics_of_a_fitted_model_match_numpy(fitted, jit):
    run = fitted["got"]["fit"]["fit"][jit]
    expected = _seg_metrics_reference(fitted["raw"], np.asarray(run["predicted"]), np.ones(B))
    for name, value in expected.items():
        task_metric = name.split("/")[1]
        logged = [key for key in run["evaluated"] if key.endswith(task_metric)]
        assert len(logged) == 1, (task_metric, run["evaluated"])
        assert run["evaluated"][logged[0]] == pytest.approx(value, rel=1e-5, abs=1e-7), name
        assert any(key.endswith(task_metric) for key in run["logged"])


@pytest.mark.slow
@JIT
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_saved_model_loads_again_after_importing_the_module(fitted, jit, suffix):
    """No custom_objects: the module registered its losses, metric inputs and metric class."""
    run = fitted["got"]["fit"]["fit"][jit]["reloaded"][suffix]
    saved, loaded = run["saved"], run["loaded"]
    assert loaded["loss"] == pytest.approx(saved["loss"], rel=1e-5)
    # tf-keras prefixes a reloaded metric's name with its output's once more ("seg_seg_...")
    for name, value in saved.items():
        assert [v for k, v in loaded.items() if k.endswith(name)] == [pytest.approx(value, rel=1e-5)], name


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_layouts_with_additions_fit_and_reload(fitted, path):
    run = fitted["got"]["examples"][path.stem]
    assert np.isfinite(run["losses"]).all()
    layout = json.loads(path.read_text())
    expected = {f"{t['name']}_{m if isinstance(m, str) else m['name']}" for o in layout["outputs"]
                for t in o["tasks"] for m in t.get("metrics", [])}
    assert all(any(key.endswith(name) for key in run["logged"]) for name in expected), (expected, run["logged"])
    assert run["loaded"] == pytest.approx(run["saved"], rel=1e-5)
