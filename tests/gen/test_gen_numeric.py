"""The generated losses are the spec's losses: equal to an independent reference built from
``keras.losses`` (tests/gen_helpers.py) on random layouts and data, per task and per output,
with finite gradients even where masks select nothing or masked positions hold NaN.
Real Keras 3 on the TensorFlow backend; no mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gen_helpers as H
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.keras
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

# The core examples: those with Additions are checked against NumPy in test_gen_additions.py.
EXAMPLES = [path for path in sorted(Path(__file__).resolve().parents[2].joinpath("examples", "layouts").glob("*.json"))
            if not H.uses_additions(json.loads(path.read_text()))]
TOL = dict(rtol=1e-5, atol=1e-5)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


def check_against_reference(layout, module, rng, batch=3):
    for out in layout["outputs"]:
        yt, yp = H.make_data(out, batch, rng)
        for task in out["tasks"]:
            got = np.asarray(module.TASK_LOSSES[f"{out['name']}.{task['name']}"](yt, yp))
            assert got.shape == (batch,)
            np.testing.assert_allclose(got, H.reference_task(out, task, yt, yp), **TOL, err_msg=json.dumps(task))
        got = np.asarray(module.LOSSES[out["name"]](yt, yp))
        assert got.shape == (batch,)
        np.testing.assert_allclose(got, H.reference_output(out, yt, yp), **TOL)
        assert module.LOSS_WEIGHTS[out["name"]] == out.get("weight", 1.0)


@SETTINGS
@given(layout=H.layouts(), seed=st.integers(0, 2**16))
def test_generated_module_equals_reference(tmp_path_factory, layout, seed):
    module, _ = H.generate_module(layout, tmp_path_factory.mktemp("num"))
    check_against_reference(layout, module, np.random.default_rng(seed))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_layouts_equal_reference(tmp_path, path):
    layout = json.loads(path.read_text())
    module, _ = H.generate_module(layout, tmp_path)
    check_against_reference(layout, module, np.random.default_rng(0), batch=2)


def _grads(fn, yt, yp):
    var = tf.Variable(yp)
    with tf.GradientTape() as tape:
        value = fn(tf.constant(yt), var)
        total = tf.reduce_sum(value)
    return value.numpy(), tape.gradient(total, var)


def _pred_channels(out, task):
    start = 0
    for t in out["tasks"]:
        if t["name"] == task["name"]:
            return start, start + t["units"]
        start += t["units"]
    raise AssertionError


def _true_channels(out, task):
    start = 0
    for t in out["tasks"]:
        if t["name"] == task["name"]:
            return start, start + H.true_units(t)
        start += H.true_units(t)
    raise AssertionError


def _channels_last(out, a):
    return np.moveaxis(a, 1, -1) if out.get("channel_axis", -1) == 1 else a


def _channels_back(out, a):
    return np.moveaxis(a, -1, 1) if out.get("channel_axis", -1) == 1 else a


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts(), seed=st.integers(0, 2**16))
def test_gradients_are_finite_and_nan_targets_in_masked_positions_cannot_leak(tmp_path_factory, layout, seed):
    module, _ = H.generate_module(layout, tmp_path_factory.mktemp("grad"))
    rng = np.random.default_rng(seed)
    for out in layout["outputs"]:
        yt, yp = H.make_data(out, 3, rng)
        for task in out["tasks"]:
            fn = module.TASK_LOSSES[f"{out['name']}.{task['name']}"]
            value, grad = _grads(fn, yt, yp)
            assert grad is None or np.isfinite(grad.numpy()).all(), task
            if "when" not in task and "ignore_value" not in task:
                continue
            # NaN targets wherever the mask is 0 (a missing label): same value, finite gradient,
            # zero gradient there (the gate channel itself is left alone: it defines the mask)
            m = H.mask_of(out, task, yt)
            a, b = _true_channels(out, task)
            poisoned = _channels_last(out, yt.copy())
            region = poisoned[..., a:b]  # a view: writes go to poisoned
            spoil = np.broadcast_to((m == 0)[..., None], region.shape).copy()
            if "ignore_value" in task:
                spoil &= region != task["ignore_value"]  # keep what marks the position as ignored
            region[spoil] = np.nan
            poisoned = _channels_back(out, poisoned)
            assert (H.mask_of(out, task, poisoned) == m).all()
            value2, grad2 = _grads(fn, poisoned, yp)
            np.testing.assert_allclose(value2, value, **TOL)
            g = _channels_last(out, grad2.numpy())
            assert np.isfinite(g).all(), task
            c, d = _pred_channels(out, task)
            assert (g[..., c:d][m == 0] == 0).all()


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts(), seed=st.integers(0, 2**16))
def test_masks_that_select_nothing_give_zero_and_finite_gradients(tmp_path_factory, layout, seed):
    module, _ = H.generate_module(layout, tmp_path_factory.mktemp("empty"))
    rng = np.random.default_rng(seed)
    for out in layout["outputs"]:
        for task in out["tasks"]:
            if "when" not in task and "ignore_value" not in task:
                continue
            yt, yp = H.make_data(out, 2, rng)
            yt = _channels_last(out, yt)
            starts, at = {}, 0
            for t in out["tasks"]:
                starts[t["name"]] = at
                at += H.true_units(t)
            if "when" in task:  # the gate never equals the value
                yt[..., starts[task["when"]["task"]]] = 1 - task["when"]["equals"]
            else:  # every position is ignored
                s = starts[task["name"]]
                yt[..., s:s + H.true_units(task)] = task["ignore_value"]
            yt = _channels_back(out, yt)
            assert H.mask_of(out, task, yt).sum() == 0
            value, grad = _grads(module.TASK_LOSSES[f"{out['name']}.{task['name']}"], yt, yp)
            np.testing.assert_array_equal(value, np.zeros(2))
            assert grad is None or np.isfinite(grad.numpy()).all()


TF_KERAS_SCRIPT = textwrap.dedent("""
    import importlib.util, json, sys
    import numpy as np
    import tensorflow as tf
    import tf_keras
    assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__  # Keras 2, not Keras 3
    for i, job in enumerate(json.loads(open(sys.argv[1]).read())):
        spec = importlib.util.spec_from_file_location(f"tfk_losses{i}", job["module"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        data = np.load(job["data"])
        got = {}
        for key in job["keys"]:
            out = key.split(".")[0]
            fn = module.TASK_LOSSES[key] if "." in key else module.LOSSES[key]
            got[key] = np.asarray(fn(tf.constant(data[out + "_true"]), tf.constant(data[out + "_pred"])))
        np.savez(job["result"], **got)
        if job.get("fit"):  # several named outputs: compile, fit, evaluate, save and reload in Keras 2
            keras2 = tf.keras
            inputs = keras2.Input((4,))
            outs = {out: keras2.layers.Dense(data[out + "_pred"].shape[-1], name=out)(inputs)
                    for out in module.LOSSES}
            model = keras2.Model(inputs, outs)
            model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS)
            x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
            y = {out: data[out + "_true"] for out in module.LOSSES}
            model.fit(x, y, epochs=1, verbose=0)
            before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
            pred = model.predict(x, verbose=0)
            manual = sum(module.LOSS_WEIGHTS[o] * float(np.mean(module.LOSSES[o](y[o], pred[o]))) for o in y)
            assert abs(before - manual) < 1e-4 * max(1.0, abs(manual)), (before, manual)
            model.save(job["module"] + ".keras")
            again = keras2.models.load_model(job["module"] + ".keras")  # no custom_objects
            after = again.evaluate(x, y, verbose=0, return_dict=True)["loss"]
            assert abs(after - before) < 1e-5 * max(1.0, abs(before)), (before, after)
            print("fit ok", before, after)
    print("ok", tf_keras.__version__)
""")


def test_tf_keras_framework_gives_the_reference_numbers(tmp_path):
    """framework "tf.keras", run under TF_USE_LEGACY_KERAS=1 (tf-keras) in one fresh process."""
    from losscheck.cli import main

    layouts = [json.loads(p.read_text()) for p in EXAMPLES] + [_every_loss_layout()]
    rng = np.random.default_rng(7)
    jobs, expected = [], []
    for i, layout in enumerate(layouts):
        layout = dict(layout, framework="tf.keras")
        path = H.write_layout(layout, tmp_path, f"tfk{i}")
        module_path = tmp_path / f"tfk{i}_losses.py"
        assert main(["gen", str(path), "-o", str(module_path), "-q"]) == 0
        text = module_path.read_text()
        assert "import tensorflow as tf" in text and "keras.ops" not in text
        data, want = {}, {}
        for out in layout["outputs"]:
            yt, yp = H.make_data(out, 3, rng)
            data[out["name"] + "_true"], data[out["name"] + "_pred"] = yt, yp
            want[out["name"]] = H.reference_output(out, yt, yp)
            for task in out["tasks"]:
                want[f"{out['name']}.{task['name']}"] = H.reference_task(out, task, yt, yp)
        np.savez(tmp_path / f"data{i}.npz", **data)
        jobs.append({"module": str(module_path), "data": str(tmp_path / f"data{i}.npz"), "keys": sorted(want),
                     "result": str(tmp_path / f"got{i}.npz"), "fit": "age" in layout["outputs"][0]["name"]})
        expected.append(want)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    script = tmp_path / "run.py"
    script.write_text(TF_KERAS_SCRIPT)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "jobs.json")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fit ok" in proc.stdout
    for job, want in zip(jobs, expected):
        got = np.load(job["result"])
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, **TOL, err_msg=f"{job['module']}: {key}")


def _every_loss_layout():
    """One layout that uses every loss, target kind, mask and axis option at least once."""
    return {
        "version": 1,
        "outputs": [
            {"name": "a", "spatial": [3, 2], "channel_axis": 1, "tasks": [
                {"name": "m", "type": "binary", "units": 1, "from_logits": True, "pos_weight": 2.0},
                {"name": "ml", "type": "multilabel", "units": 2,
                 "loss": [{"name": "binary_focal_crossentropy", "alpha": 0.3, "gamma": 1.5},
                          {"name": "binary_crossentropy", "weight": 0.5}],
                 "when": {"task": "m", "equals": 1}},
                {"name": "c", "type": "categorical", "units": 3, "targets": "sparse", "ignore_value": -1,
                 "loss": ["categorical_crossentropy", "categorical_focal_crossentropy"]},
                {"name": "r", "type": "regression", "units": 2,
                 "loss": ["mse", "mae", {"name": "huber", "delta": 0.5}, "log_cosh"],
                 "when": {"task": "m", "equals": 0}, "ignore_value": 255},
            ]},
            {"name": "b", "tasks": [
                {"name": "d", "type": "categorical", "units": 4, "from_logits": True,
                 "loss": ["categorical_crossentropy", {"name": "dice", "classes": [1, 3]},
                          {"name": "categorical_focal_crossentropy", "classes": [0, 2], "alpha": 0.5}]},
                {"name": "e", "type": "binary", "units": 1, "loss": ["binary_focal_crossentropy", "dice"]},
            ]},
        ],
    }


def test_every_loss_layout_equals_reference(tmp_path):
    layout = _every_loss_layout()
    module, _ = H.generate_module(layout, tmp_path)
    check_against_reference(layout, module, np.random.default_rng(3), batch=4)


def _split_targets(out, yt):
    """y_true of one output -> {task: array (B, *S, c) channels last, or (B, *S) for one channel}."""
    yt = _channels_last(out, yt)
    targets, at = {}, 0
    for i, task in enumerate(out["tasks"]):
        c = H.true_units(task)
        part = yt[..., at:at + c]
        targets[task["name"]] = part[..., 0] if c == 1 and i % 2 == 0 else part  # both accepted forms
        at += c
    return targets


@pytest.mark.parametrize("layout", [json.loads(p.read_text()) for p in EXAMPLES] + [_every_loss_layout()],
                         ids=[p.stem for p in EXAMPLES] + ["every-loss"])
def test_pack_targets_builds_y_true_in_the_output_layout(tmp_path, layout):
    module, _ = H.generate_module(layout, tmp_path)
    rng = np.random.default_rng(5)
    for out in layout["outputs"]:
        yt, yp = H.make_data(out, 3, rng)
        packed = module.pack_targets(out["name"], _split_targets(out, yt))
        assert isinstance(packed, np.ndarray) and packed.dtype == np.float32
        np.testing.assert_array_equal(packed, yt)
        np.testing.assert_allclose(np.asarray(module.LOSSES[out["name"]](packed, yp)),
                                   H.reference_output(out, yt, yp), **TOL)


def test_pack_targets_rejects_what_does_not_fit(tmp_path):
    layout = _every_loss_layout()
    module, _ = H.generate_module(layout, tmp_path)
    out = layout["outputs"][0]
    good = _split_targets(out, H.make_data(out, 2, np.random.default_rng(0))[0])
    with pytest.raises(ValueError, match="unknown output 'zz'"):
        module.pack_targets("zz", good)
    with pytest.raises(ValueError, match=r"missing \['c'\]"):
        module.pack_targets("a", {k: v for k, v in good.items() if k != "c"})
    with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
        module.pack_targets("a", dict(good, extra=good["c"]))
    with pytest.raises(ValueError, match=r"target a.r has shape \(2, 3, 2, 3\)"):
        module.pack_targets("a", dict(good, r=np.zeros((2, 3, 2, 3))))
    with pytest.raises(ValueError, match="target a.m"):  # spatial (3, 2) is known: (2, 5) is not it
        module.pack_targets("a", dict(good, m=np.zeros((2, 5, 2))))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        module.pack_targets("a", dict(good, m=np.zeros((4, 3, 2))))


def test_wrong_tensor_shapes_fail_with_the_output_name(tmp_path):
    layout = _every_loss_layout()
    module, _ = H.generate_module(layout, tmp_path)
    with pytest.raises(ValueError, match=r"output 'b': y_pred has shape \(2, 6\), but the layout expects rank 2 "
                                         r"with 5 channels on axis -1"):
        module.LOSSES["b"](np.zeros((2, 5), "float32"), np.zeros((2, 6), "float32"))
