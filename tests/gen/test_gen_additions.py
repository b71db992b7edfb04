"""The layout Additions on real Keras 3 (TensorFlow backend), against NumPy (gen_helpers.py).

class_weights, label_smoothing, a categorical ``when: in`` gate, ``pool``, ``weights: variable``
(with the WeightScheduler callback) and per-task metrics from ``make_metrics()``: each value is
compared with an independent NumPy computation, a model fits, a saved model reloads.
"""

from __future__ import annotations

import json

import gen_helpers as H
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.keras]
keras = pytest.importorskip("keras")

B, S = H.ADDITIONS_B, H.ADDITIONS_S
LAYOUT = H.ADDITIONS_LAYOUT


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    module, text = H.generate_module(LAYOUT, tmp_path_factory.mktemp("additions"))
    return module, text


def test_what_the_generated_module_imports(generated):
    """Never losscheck. Inside functions: NumPy in pack_targets; jax and warnings where a loss
    weight is read, only on the JAX backend (which has imported jax already)."""
    _, text = generated
    assert H.imported_modules(text) == {"keras", "numpy", "jax", "warnings"}


def test_class_weights_smoothing_gate_and_pool_match_numpy(generated):
    module, _ = generated
    targets, y_pred, raw = H.additions_data(np.random.default_rng(0))
    y_true = module.pack_targets("seg", targets)
    values = {key: np.asarray(fn(y_true, y_pred)) for key, fn in module.TASK_LOSSES.items()}
    np.testing.assert_allclose(values["seg.tissue"], H.tissue_reference(raw["tissue"], y_pred[..., 0:3],
                                                                      [0.5, 1.0, 2.0], 0.1), rtol=1e-5)
    np.testing.assert_allclose(values["seg.lesion"], H.lesion_reference(raw["tissue"], [1, 2], raw["lesion"],
                                                                      y_pred[..., 3]), rtol=1e-4)
    np.testing.assert_allclose(values["seg.grade"], H.grade_reference(raw["grade"], y_pred[..., 4:8]), rtol=1e-5)
    total = 0.5 * (values["seg.tissue"] + 0.7 * values["seg.lesion"] + 0.3 * values["seg.grade"])
    np.testing.assert_allclose(np.asarray(module.LOSSES["seg"](y_true, y_pred)), total, rtol=1e-5)
    assert module.LOSS_WEIGHTS == {"seg": 1.0}


@settings(max_examples=8, deadline=None)
@given(
    weights=st.lists(st.floats(0, 5, width=32, allow_subnormal=False), min_size=3, max_size=3),
    smoothing=st.floats(0, 0.9),
    gate=st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
    seed=st.integers(0, 2**16),
)
def test_varied_class_weights_smoothing_and_gates_match_numpy(tmp_path_factory, weights, smoothing, gate, seed):
    layout = json.loads(json.dumps(LAYOUT))
    tissue, lesion = layout["outputs"][0]["tasks"][:2]
    tissue["class_weights"], tissue["label_smoothing"] = weights, smoothing
    lesion["when"] = {"task": "tissue", "in": gate}
    module, _ = H.generate_module(layout, tmp_path_factory.mktemp("varied"))
    targets, y_pred, raw = H.additions_data(np.random.default_rng(seed))
    y_true = module.pack_targets("seg", targets)
    np.testing.assert_allclose(np.asarray(module.TASK_LOSSES["seg.tissue"](y_true, y_pred)),
                               H.tissue_reference(raw["tissue"], y_pred[..., 0:3], weights, smoothing),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(module.TASK_LOSSES["seg.lesion"](y_true, y_pred)),
                               H.lesion_reference(raw["tissue"], gate, raw["lesion"], y_pred[..., 3]),
                               rtol=1e-4, atol=1e-6)


def _model():
    inputs = keras.Input((S, S, 2))
    outputs = keras.layers.Conv2D(8, 1, name="seg")(inputs)
    return keras.Model(inputs, {"seg": outputs})


@pytest.mark.slow
def test_fit_metrics_runtime_weights_scheduler_and_reload(generated, tmp_path):
    module, _ = generated
    rng = np.random.default_rng(1)
    targets, _, raw = H.additions_data(rng)
    x = rng.normal(size=(B, S, S, 2)).astype("float32")
    y = {"seg": module.pack_targets("seg", targets)}
    model = _model()
    model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS,
                  metrics=module.make_metrics())
    scheduler = module.WeightScheduler(module.WEIGHTS, {"seg.lesion": lambda epoch: 0.25 * (epoch + 1)})
    history = model.fit(x, y, epochs=2, batch_size=B, verbose=0, callbacks=[scheduler])
    assert np.isfinite(history.history["loss"]).all()
    assert float(module.WEIGHTS["seg.lesion"].numpy()) == pytest.approx(0.5)

    # Metrics against NumPy on the model's own predictions.
    logits = np.asarray(model.predict(x, verbose=0)["seg"])
    got = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    probs = np.exp(H.log_softmax(logits[..., 0:3]))
    np.testing.assert_allclose(got["seg_tissue_categorical_accuracy"] if "seg_tissue_categorical_accuracy" in got
                               else got["tissue_categorical_accuracy"],
                               (probs.argmax(-1) == raw["tissue"]).mean(), rtol=1e-5)
    truth_sub = np.eye(3)[raw["tissue"]][..., [1, 2]].reshape(-1, 2)
    pred_sub = np.eye(2)[probs[..., [1, 2]].argmax(-1)].reshape(-1, 2)
    f1 = next(v for k, v in got.items() if k.endswith("tissue_f1"))
    assert f1 == pytest.approx(H.f1_macro(truth_sub, pred_sub, np.ones(len(truth_sub))), rel=1e-5)
    # precision counts only the gated positions (tissue in {1, 2})
    keep = np.isin(raw["tissue"], [1, 2]).ravel()
    pred_pos = (H.sigmoid(logits[..., 3]).ravel() > 0.5)
    true_pos = raw["lesion"].ravel() == 1
    expected = (keep & pred_pos & true_pos).sum() / max((keep & pred_pos).sum(), 1)
    precision = next(v for k, v in got.items() if k.endswith("lesion_precision"))
    assert precision == pytest.approx(expected, rel=1e-5, abs=1e-7)
    top2 = np.argsort(logits[..., 4:8].max(axis=(1, 2)), axis=-1)[:, -2:]
    expected_top2 = np.mean([raw["grade"][i, 0, 0] in top2[i] for i in range(B)])
    assert next(v for k, v in got.items() if k.endswith("grade_top_k_categorical_accuracy")) == pytest.approx(
        expected_top2)

    # The compiled test step reads WEIGHTS on every call: zero them and the loss is zero.
    saved = {key: float(var.numpy()) for key, var in module.WEIGHTS.items()}
    module.WEIGHTS["seg"].assign(0.0)
    assert model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)["loss"] == pytest.approx(0.0, abs=1e-7)
    # ... and so does the compiled train step, already traced by the fit above
    assert model.fit(x, y, epochs=1, batch_size=B, verbose=0).history["loss"][0] == pytest.approx(0.0, abs=1e-7)
    for key, value in saved.items():
        module.WEIGHTS[key].assign(value)

    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    again = reloaded.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    np.testing.assert_allclose(again["loss"], model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)["loss"],
                               rtol=1e-5)


def test_scheduler_refuses_unknown_keys(generated):
    module, _ = generated
    with pytest.raises(ValueError, match="no loss weight named"):
        module.WeightScheduler(module.WEIGHTS, {"seg.nope": lambda epoch: 1.0})


EXAMPLES = H.EXAMPLE_LAYOUTS


def _targets(task: dict, spatial: list[int], rng: np.random.Generator) -> np.ndarray:
    shape = (2, *spatial)
    if task["type"] == "binary":
        return rng.integers(0, 2, shape)
    if task["type"] == "multilabel":
        return rng.integers(0, 2, (*shape, task["units"]))
    if task["type"] == "categorical":
        index = rng.integers(0, task["units"], shape)
        return index if task.get("targets") == "sparse" else np.eye(task["units"])[index]
    return rng.normal(size=(*shape, task["units"]))


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in EXAMPLES if H.uses_additions(json.loads(p.read_text()))],
                         ids=lambda p: p.stem)
def test_example_layouts_with_additions_fit_with_their_metrics(tmp_path, path):
    layout = json.loads(path.read_text())
    module, _ = H.generate_module(layout, tmp_path, framework="keras")  # whatever framework the file names
    rng = np.random.default_rng(3)
    inputs = keras.Input((3,))
    outputs, y = {}, {}
    for output in layout["outputs"]:
        spatial = output.get("spatial", [])
        channels = sum(t["units"] for t in output["tasks"])
        first = output.get("channel_axis", -1) == 1 and spatial
        shape = (channels, *spatial) if first else (*spatial, channels)
        flat = keras.layers.Dense(int(np.prod(shape)))(inputs)
        outputs[output["name"]] = keras.layers.Reshape(shape, name=output["name"])(flat)
        y[output["name"]] = module.pack_targets(
            output["name"], {t["name"]: _targets(t, spatial, rng) for t in output["tasks"]})
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS,
                  metrics=module.make_metrics())
    x = rng.normal(size=(2, 3)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    expected = {f"{t['name']}_{m if isinstance(m, str) else m['name']}" for o in layout["outputs"]
                for t in o["tasks"] for m in t.get("metrics", [])}
    logged = set(history.history)
    assert all(any(key.endswith(name) for key in logged) for name in expected), (expected, logged)


def test_class_weighted_sparse_head_in_a_channels_first_output_matches_numpy(tmp_path):
    """gated_subtypes.json's ``kind``: sparse, ignore_value 255, class weights, channels first."""
    layout = json.loads(next(p for p in EXAMPLES if p.stem == "gated_subtypes").read_text())
    module, _ = H.generate_module(layout, tmp_path)
    rng = np.random.default_rng(5)
    index = rng.integers(0, 4, (2, 16, 16))
    index[0, :4] = 255  # ignored positions
    targets = {"kind": index, "subtype": np.eye(3)[rng.integers(0, 3, (2, 16, 16))],
               "dividing": rng.integers(0, 2, (2, 16, 16))}
    y_true = module.pack_targets("cells", targets)
    y_pred = rng.normal(size=(2, 8, 16, 16)).astype("float32")
    got = np.asarray(module.TASK_LOSSES["cells.kind"](y_true, y_pred))
    logits = np.moveaxis(y_pred[:, 0:4], 1, -1)
    keep = index != 255
    safe = np.where(keep, index, 0)
    ce = -np.take_along_axis(H.log_softmax(logits), safe[..., None], -1)[..., 0]
    weighted = ce * np.array([0.2, 1.0, 1.0, 3.0])[safe] * keep
    np.testing.assert_allclose(got, weighted.sum((1, 2)) / np.maximum(keep.sum((1, 2)), 1), rtol=1e-5)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts_with_additions(), seed=st.integers(0, 2**16))
def test_random_layouts_with_additions(tmp_path_factory, layout, seed):
    """Any valid mix of Additions generates a module whose losses are per example and finite;
    tasks without class weights, smoothing or pooling still equal the core reference (metrics,
    variable weights and ``in`` gates change no loss); each output is its tasks weighted by the
    layout (or by WEIGHTS); every metric of make_metrics() takes the output's tensors."""
    module, _ = H.generate_module(layout, tmp_path_factory.mktemp("mix"))
    rng = np.random.default_rng(seed)
    metrics = module.make_metrics() if hasattr(module, "make_metrics") else {}
    variable = layout.get("weights") == "variable"
    for output in layout["outputs"]:
        yt, yp = H.make_data(output, 2, rng)
        total = 0.0
        for task in output["tasks"]:
            got = np.asarray(module.TASK_LOSSES[f"{output['name']}.{task['name']}"](yt, yp))
            assert got.shape == (2,) and np.isfinite(got).all(), task
            if not {"class_weights", "label_smoothing", "pool"} & set(task):
                core = dict(task)
                if "in" in task.get("when", {}):
                    core["when"] = {"task": task["when"]["task"], "equals": task["when"]["in"][0]}
                np.testing.assert_allclose(got, H.reference_task(output, core, yt, yp), rtol=2e-4, atol=2e-5,
                                           err_msg=json.dumps(task))
            if variable or task.get("weight", 1.0) != 0.0:
                total = total + task.get("weight", 1.0) * got
        if variable:
            total = output.get("weight", 1.0) * np.asarray(total)
        value = np.asarray(module.LOSSES[output["name"]](yt, yp))
        np.testing.assert_allclose(value, np.broadcast_to(total, (2,)), rtol=2e-4, atol=2e-5)
        for metric in metrics.get(output["name"], []):
            metric.update_state(yt, yp)
            assert np.isfinite(np.asarray(metric.result())).all(), metric.name


@pytest.mark.slow
def test_weights_are_read_inside_an_xla_compiled_step(generated):
    """jit_compile=True (XLA on TensorFlow): the compiled step still reads WEIGHTS on every call."""
    module, _ = generated
    rng = np.random.default_rng(2)
    targets, _, _ = H.additions_data(rng)
    x = rng.normal(size=(B, S, S, 2)).astype("float32")
    y = {"seg": module.pack_targets("seg", targets)}
    model = _model()
    model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS, jit_compile=True)
    before = model.evaluate(x, y, batch_size=B, verbose=0)
    saved = float(module.WEIGHTS["seg.tissue"].numpy())
    try:
        module.WEIGHTS["seg.tissue"].assign(saved + 1.0)  # the tissue loss counts once more
        after = model.evaluate(x, y, batch_size=B, verbose=0)
        tissue = np.mean(np.asarray(module.TASK_LOSSES["seg.tissue"](y["seg"], model.predict(x, verbose=0)["seg"])))
    finally:
        module.WEIGHTS["seg.tissue"].assign(saved)
    assert after == pytest.approx(before + 0.5 * tissue, rel=1e-4)  # 0.5: the output's weight
