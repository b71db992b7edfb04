"""Data-parallel training with a generated loss takes the single-device step, to 1e-5.

One batch of 16 examples, a small two-output model and a layout with `when` gates (on a
binary and on a categorical task), `class_weights`, `ignore_value` and an output weight, trained
with a `sample_weight` array. For that step, the loss and the gradients with respect to every
trainable weight (Keras's own `compute_loss`, differentiated as its train step does), Keras's
`evaluate`, the loss `fit` reports and the weights after one SGD step are computed on one device
and under data parallelism over two devices, and compared:

- JAX: `keras.distribution.DataParallel` over 2 host devices
  (`XLA_FLAGS=--xla_force_host_platform_device_count=2`); the batch is sharded 8 + 8 and every
  variable and gradient lives on both devices.
- TensorFlow: `tf.distribute.MirroredStrategy` over 2 logical CPUs; each replica takes 8
  examples, and the replicas' losses and gradients are summed as Keras's optimizer sums them.

Why it is exact: the generated losses return one value per example, so Keras sums
`sample_weight * loss` on each replica, divides by the replica's batch and by the number of
replicas (`scale_loss_for_distribution`), and the sum over replicas is the global mean. The
contrast: the same loss averaged over the batch inside the loss function (the `LCK101` mistake)
returns a scalar, which Keras leaves unscaled, so under MirroredStrategy the loss and every
gradient are doubled, and with `sample_weight` each replica weighs its own mean by its own mean
weight. On JAX the jitted step is one program over the global batch, so the reduction is global
whatever the loss returns (the scalar loss is as wrong there as on one device, no more).

Each backend runs in a subprocess (`XLA_FLAGS`, `KERAS_BACKEND` and TensorFlow's logical devices
must be set before the framework starts), which prints JSON that the test compares; the numbers
are printed too (`pytest -s`) and quoted in docs/distributed.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gen_helpers as H
import numpy as np
import pytest

pytestmark = [pytest.mark.keras, pytest.mark.slow]

LAYOUT = {
    "version": 1,
    "outputs": [
        {
            "name": "cells",
            "spatial": [6],
            "tasks": [
                {"name": "kind", "type": "categorical", "units": 3, "targets": "sparse", "from_logits": True,
                 "class_weights": [0.3, 1.0, 2.5], "ignore_value": -1},
                {"name": "present", "type": "binary", "units": 1, "from_logits": True},
                {"name": "box", "type": "regression", "units": 2, "loss": {"name": "huber", "delta": 1.0},
                 "when": {"task": "present", "equals": 1}, "weight": 2.0},
                {"name": "subtype", "type": "categorical", "units": 3, "from_logits": True,
                 "class_weights": [1.0, 0.5, 2.0], "when": {"task": "kind", "in": [1, 2]}, "weight": 0.5},
            ],
        },
        {"name": "age", "weight": 0.1,
         "tasks": [{"name": "years", "type": "regression", "units": 1, "loss": "huber"}]},
    ],
}
BATCH = 16  # 8 examples on each of the 2 devices
RTOL, ATOL = 1e-5, 1e-7  # relative, with an absolute floor for gradients near zero
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _require(*modules: str) -> None:
    # find_spec, not importorskip: the frameworks are imported only in the subprocesses
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.fixture
def prepared(tmp_path):
    """The generated module (written by `losscheck gen`, not imported here) and the data."""
    from losscheck.cli import main

    layout_path = H.write_layout(LAYOUT, tmp_path, stem="cells")
    module_path = tmp_path / "cells_losses.py"
    assert main(["gen", str(layout_path), "-o", str(module_path), "-q"]) == 0
    rng = np.random.default_rng(20261204)
    x = rng.normal(size=(BATCH, 6, 4)).astype("float32")
    ys = {out["name"]: H.make_data(out, BATCH, rng)[0] for out in LAYOUT["outputs"]}
    sample_weight = rng.uniform(0.0, 2.0, BATCH).astype("float32")
    sample_weight[[2, 9]] = 0.0
    # the data exercises what the layout describes: gates open and shut, ignored positions
    cells = ys["cells"]
    assert 0 < (cells[..., 1] == 1).mean() < 1  # present: the box gate
    assert 0 < np.isin(cells[..., 0], [1, 2]).mean() < 1  # kind in [1, 2]: the subtype gate
    assert (cells[..., 0] == -1).any()  # ignored kind positions
    np.savez(tmp_path / "data.npz", x=x, sw=sample_weight, **{f"y_{k}": v for k, v in ys.items()})
    return tmp_path, module_path


# Shared by both subprocesses: the generated module, the data, the model, the batch-mean contrast.
COMMON = """
import importlib.util, json, sys
import numpy as np
import keras
from keras import ops

spec = importlib.util.spec_from_file_location("cells_losses", sys.argv[1])
losses = importlib.util.module_from_spec(spec)
spec.loader.exec_module(losses)
data = np.load(sys.argv[2])
X, SW = data["x"], data["sw"]
Y = {name: data["y_" + name] for name in losses.LOSSES}
BATCH = len(X)


def batch_mean(fn):
    # The usual hand-written mistake (LCK101): the same loss, averaged over the batch inside.
    def loss(y_true, y_pred):
        return ops.mean(fn(y_true, y_pred))
    return loss


LOSS_SETS = {
    "generated": losses.LOSSES,
    "batch_mean": {name: batch_mean(fn) for name, fn in losses.LOSSES.items()},
}


def build(kind):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 4))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    cells = keras.layers.Dense(9, name="cells")(hidden)  # kind 3 + present 1 + box 2 + subtype 3
    age = keras.layers.Dense(1, name="age")(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, {"cells": cells, "age": age})
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=LOSS_SETS[kind], loss_weights=losses.LOSS_WEIGHTS)
    return model


def as_lists(values):
    return [np.asarray(v, dtype="float64").tolist() for v in values]


def per_example_losses(model):
    # each output's generated per-example loss at the initial weights (for the formulas)
    pred = model.predict(X, batch_size=BATCH, verbose=0)
    return {name: np.asarray(fn(Y[name], pred[name])).tolist() for name, fn in losses.LOSSES.items()}


INITIAL = build("generated").get_weights()
"""

JAX_SCRIPT = """
import jax

assert jax.device_count() == 2, jax.devices()
assert keras.backend.backend() == "jax"


def run(kind, distribution, fit=True):
    keras.distribution.set_distribution(distribution)
    model = build(kind)
    model.set_weights(INITIAL)
    out = {"evaluate": model.evaluate(X, Y, sample_weight=SW, batch_size=BATCH, verbose=0, return_dict=True)["loss"]}
    if distribution is None:
        put = jax.device_put  # the default device
        if kind == "generated":
            out["per_example"] = per_example_losses(model)
    else:
        put = lambda a: jax.device_put(a, distribution.get_data_layout(a.shape).backend_layout)
    x, y, sw = put(X), {name: put(v) for name, v in Y.items()}, put(SW)
    model.optimizer.build(model.trainable_variables)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    metrics = [v.value for v in model.metrics_variables]
    optimizer = [v.value for v in model.optimizer.variables]

    def loss_of(trainable, x, y, sw):  # what Keras's JAX train step differentiates
        loss, _ = model.compute_loss_and_updates(
            trainable, non_trainable, metrics, x, y, sw, training=True, optimizer_variables=optimizer)
        return loss

    # the batch goes in as arguments: closed over, jit would fold it into the program as a
    # constant, replicated on every device
    compiled = jax.jit(jax.value_and_grad(loss_of)).lower(trainable, x, y, sw).compile()
    loss, grads = compiled(trainable, x, y, sw)
    out.update(
        loss=float(loss), grads=as_lists(grads),
        all_reduce="all-reduce" in compiled.as_text(),  # the devices' partial sums are combined
        x_devices=len(x.sharding.device_set), x_shard=list(x.sharding.shard_shape(x.shape)),
        variable_devices=sorted({len(t.sharding.device_set) for t in trainable}),
        grad_devices=sorted({len(g.sharding.device_set) for g in grads}),
    )
    if fit:
        history = model.fit(X, Y, sample_weight=SW, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        out["fit_loss"] = history.history["loss"][0]
        out["after"] = as_lists(v.value for v in model.trainable_variables)
        out["after_devices"] = sorted({len(v.value.sharding.device_set) for v in model.trainable_variables})
    return out


parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
results = {
    "devices": jax.device_count(),
    "generated/single": run("generated", None),
    "generated/parallel": run("generated", parallel),
    "batch_mean/single": run("batch_mean", None, fit=False),
    "batch_mean/parallel": run("batch_mean", parallel, fit=False),
}
print("RESULTS " + json.dumps(results))
"""

TF_PRELUDE = """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""

TF_SCRIPT = """
assert keras.backend.backend() == "tensorflow"
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def run(kind, mirrored, n=BATCH, weighted=True, fit=True):
    if mirrored:
        with strategy.scope():
            model = build(kind)
    else:
        model = build(kind)
    model.set_weights(INITIAL)
    full_sw = SW if weighted else None
    # evaluate (which also builds the compiled loss and metrics) on the whole, evenly split batch
    out = {"evaluate": model.evaluate(X, Y, sample_weight=full_sw, batch_size=BATCH, verbose=0,
                                      return_dict=True)["loss"]}
    if not mirrored and kind == "generated":
        out["per_example"] = per_example_losses(model)
    x, y, sw = X[:n], {name: v[:n] for name, v in Y.items()}, (SW[:n] if weighted else None)

    @tf.function
    def replica_step(x, y, sw):  # Keras's TF train step, up to the gradients
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=True)
        return loss, tape.gradient(loss, model.trainable_weights)

    if not mirrored:
        loss, grads = replica_step(x, y, sw)
    else:
        items = (x, y) if sw is None else (x, y, sw)
        dataset = tf.data.Dataset.from_tensor_slices(items).batch(n)
        batch = tuple(next(iter(strategy.experimental_distribute_dataset(dataset))))
        if sw is None:
            batch += (None,)
        loss_r, grads_r = strategy.run(replica_step, args=batch)
        out.update(
            replicas=strategy.num_replicas_in_sync,
            local_batches=[int(t.shape[0]) for t in strategy.experimental_local_results(batch[0])],
            replica_losses=[float(v) for v in strategy.experimental_local_results(loss_r)],
            variable_devices=sorted({c.device for c in model.trainable_variables[0].value.values}),
        )
        # the optimizer all-reduces the replicas' gradients with SUM
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, loss_r, axis=None)
        grads = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in grads_r]
    out.update(loss=float(loss), grads=as_lists(grads))
    if fit:
        history = model.fit(x, y, sample_weight=sw, batch_size=n, epochs=1, shuffle=False, verbose=0)
        out["fit_loss"] = history.history["loss"][0]
        out["after"] = as_lists(v.value for v in model.trainable_variables)
    return out


results = {"devices": len(tf.config.list_logical_devices("CPU"))}
for mirrored, place in ((False, "single"), (True, "mirrored")):
    results[f"generated/{place}"] = run("generated", mirrored)
    results[f"batch_mean/{place}"] = run("batch_mean", mirrored, fit=False)
    results[f"batch_mean_unweighted/{place}"] = run("batch_mean", mirrored, weighted=False, fit=False)
    results[f"generated_uneven/{place}"] = run("generated", mirrored, n=BATCH - 1, fit=False)
print("RESULTS " + json.dumps(results))
"""


def _run(directory: Path, module_path: Path, script: str, env: dict[str, str]) -> dict:
    path = directory / "distributed_step.py"
    path.write_text(textwrap.dedent(script))
    command = [sys.executable, str(path), str(module_path), str(directory / "data.npz")]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    if proc.returncode < 0:
        # TensorFlow's two-device CPU runtime is occasionally killed by a signal while it starts
        # (seen under heavy machine load); a second start says whether the values are right
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])


def _max_rel(a, b) -> float:
    """Largest |a - b| / max(|a|, ATOL) over all elements of two lists of arrays."""
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)) / np.maximum(np.abs(np.asarray(x)), ATOL)))
               for x, y in zip(a, b, strict=True))


def _max_abs(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b, strict=True))


def _tolerance_used(a, b) -> float:
    """Largest |a - b| / (RTOL * |a| + ATOL): 1.0 is where assert_allclose would fail."""
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)) / (RTOL * np.abs(np.asarray(x)) + ATOL)))
               for x, y in zip(a, b, strict=True))


def _max_scaled(a, b) -> float:
    """Largest |a - b| / max|a| over the arrays of two lists: a difference on the gradient's scale."""
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / np.max(np.abs(np.asarray(x))))
               for x, y in zip(a, b, strict=True))


def _assert_same_step(single: dict, parallel: dict, label: str) -> None:
    """Loss, gradients, evaluate, fit's loss and the weights after one SGD step agree."""
    for key in ("loss", "evaluate", "fit_loss"):
        np.testing.assert_allclose(parallel[key], single[key], rtol=RTOL, err_msg=f"{label}: {key}")
    assert len(parallel["grads"]) == len(single["grads"]) == 6  # 3 Dense layers: kernel, bias
    for i, (g1, g2) in enumerate(zip(single["grads"], parallel["grads"], strict=True)):
        np.testing.assert_allclose(g2, g1, rtol=RTOL, atol=ATOL, err_msg=f"{label}: gradient {i}")
    for i, (w1, w2) in enumerate(zip(single["after"], parallel["after"], strict=True)):
        np.testing.assert_allclose(w2, w1, rtol=RTOL, atol=ATOL, err_msg=f"{label}: weight {i} after a step")
    print(f"\n{label}: loss {single['loss']:.7f} vs {parallel['loss']:.7f} "
          f"(rel {abs(parallel['loss'] - single['loss']) / abs(single['loss']):.2e}); gradients max abs diff "
          f"{_max_abs(single['grads'], parallel['grads']):.2e}, max rel (floor {ATOL}) "
          f"{_max_rel(single['grads'], parallel['grads']):.2e} ({_tolerance_used(single['grads'], parallel['grads']):.0%} "
          f"of the tolerance); weights after one step max abs diff "
          f"{_max_abs(single['after'], parallel['after']):.2e}")


def _weighted_total(per_example: dict[str, list[float]], weights: np.ndarray, rows: slice) -> float:
    """Keras's loss for a generated (per-example) loss over `rows`: sum_o LW_o * mean_b(w_b * l_o[b])."""
    lw = {out["name"]: out.get("weight", 1.0) for out in LAYOUT["outputs"]}
    return sum(lw[name] * float(np.mean(weights[rows] * np.asarray(values)[rows])) for name, values in per_example.items())


@pytest.mark.keras_jax
def test_jax_data_parallel_step_equals_single_device(prepared):
    _require("jax", "keras")
    directory, module_path = prepared
    env = dict(ENV, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    r = _run(directory, module_path, COMMON + JAX_SCRIPT, env)
    single, parallel = r["generated/single"], r["generated/parallel"]
    # the distribution is in effect: the batch is split 8 + 8, the variables and gradients
    # live on both devices (and on one without it)
    assert r["devices"] == 2
    assert (parallel["x_devices"], parallel["x_shard"][0]) == (2, BATCH // 2)
    assert parallel["variable_devices"] == parallel["grad_devices"] == parallel["after_devices"] == [2]
    assert parallel["all_reduce"]  # the compiled step adds up the two devices' partial results
    assert (single["x_devices"], single["variable_devices"], single["grad_devices"]) == (1, [1], [1])
    assert not single["all_reduce"]
    # the value is Keras's weighted per-example mean, not a vacuous 0
    sw = np.load(directory / "data.npz")["sw"]
    np.testing.assert_allclose(single["loss"], _weighted_total(single["per_example"], sw, slice(None)), rtol=RTOL)
    _assert_same_step(single, parallel, "jax DataParallel(2), generated loss")
    # a batch-scalar loss: one global program, so data parallelism does not change it on JAX,
    # but it ignores which example carries which weight, on one device as on two
    naive1, naive2 = r["batch_mean/single"], r["batch_mean/parallel"]
    np.testing.assert_allclose(naive2["loss"], naive1["loss"], rtol=RTOL)
    for g1, g2 in zip(naive1["grads"], naive2["grads"], strict=True):
        np.testing.assert_allclose(g2, g1, rtol=RTOL, atol=ATOL)
    assert abs(naive1["loss"] - single["loss"]) > 1e-3 * single["loss"]
    print(f"jax batch-mean loss: {naive1['loss']:.7f} on one device, {naive2['loss']:.7f} on two "
          f"(the weighted per-example mean is {single['loss']:.7f})")


def test_tf_mirrored_strategy_step_equals_single_device(prepared):
    _require("tensorflow", "keras")
    directory, module_path = prepared
    r = _run(directory, module_path, TF_PRELUDE + COMMON + TF_SCRIPT, dict(ENV, KERAS_BACKEND="tensorflow"))
    single, mirrored = r["generated/single"], r["generated/mirrored"]
    # the strategy is in effect: 2 replicas, 8 examples each, a variable on both devices,
    # and the replicas' losses differ (each saw its own half of the batch)
    assert r["devices"] == 2 and mirrored["replicas"] == 2
    assert mirrored["local_batches"] == [BATCH // 2, BATCH // 2]
    assert len(mirrored["variable_devices"]) == 2
    assert abs(mirrored["replica_losses"][0] - mirrored["replica_losses"][1]) > 1e-3
    sw = np.load(directory / "data.npz")["sw"]
    per_example = single["per_example"]
    np.testing.assert_allclose(single["loss"], _weighted_total(per_example, sw, slice(None)), rtol=RTOL)
    # each replica's loss is its own weighted sum over the global batch size
    halves = [_weighted_total(per_example, sw, slice(0, 8)) / 2, _weighted_total(per_example, sw, slice(8, 16)) / 2]
    np.testing.assert_allclose(mirrored["replica_losses"], halves, rtol=RTOL)
    _assert_same_step(single, mirrored, "tf MirroredStrategy(2), generated loss")

    # the contrast: a loss that averages over the batch itself returns a scalar, which Keras
    # does not scale by 1/replicas: without sample_weight the loss and every gradient double
    naive1, naive2 = r["batch_mean_unweighted/single"], r["batch_mean_unweighted/mirrored"]
    np.testing.assert_allclose(naive2["loss"], 2 * naive1["loss"], rtol=RTOL)
    np.testing.assert_allclose(naive2["evaluate"], 2 * naive1["evaluate"], rtol=RTOL)
    for g1, g2 in zip(naive1["grads"], naive2["grads"], strict=True):
        np.testing.assert_allclose(g2, 2 * np.asarray(g1), rtol=RTOL, atol=ATOL)
    # with sample_weight, each replica multiplies its own batch mean by its own mean weight
    weighted1, weighted2 = r["batch_mean/single"], r["batch_mean/mirrored"]
    lw = {out["name"]: out.get("weight", 1.0) for out in LAYOUT["outputs"]}
    means = {name: np.asarray(v) for name, v in per_example.items()}
    expected = sum(lw[n] * np.mean(means[n][rows]) * np.mean(sw[rows]) / 2
                   for n in means for rows in (slice(0, 8), slice(8, 16)))
    np.testing.assert_allclose(weighted2["loss"], expected, rtol=RTOL)
    rel_weighted = abs(weighted2["loss"] - weighted1["loss"]) / weighted1["loss"]
    rel_grads = _max_scaled(weighted1["grads"], weighted2["grads"])
    assert rel_weighted > 1e-3 and rel_grads > 1e-3
    print(f"tf batch-mean loss, no sample_weight: {naive1['loss']:.7f} on one device, {naive2['loss']:.7f} "
          f"on two (x{naive2['loss'] / naive1['loss']:.6f}); gradients x"
          f"{np.median(np.asarray(naive2['grads'][0]) / np.asarray(naive1['grads'][0])):.6f}")
    print(f"tf batch-mean loss, sample_weight: {weighted1['loss']:.7f} vs {weighted2['loss']:.7f} "
          f"(rel {rel_weighted:.2e}); gradients differ by up to {rel_grads:.2e} of their largest entry")

    # a batch that does not split evenly (15 = 8 + 7): each replica divides by its own batch
    # size, so the step is the mean of the replicas' means, not the batch's mean
    uneven1, uneven2 = r["generated_uneven/single"], r["generated_uneven/mirrored"]
    assert uneven2["local_batches"] == [8, 7]
    np.testing.assert_allclose(uneven1["loss"], _weighted_total(per_example, sw, slice(0, 15)), rtol=RTOL)
    expected = (_weighted_total(per_example, sw, slice(0, 8)) + _weighted_total(per_example, sw, slice(8, 15))) / 2
    np.testing.assert_allclose(uneven2["loss"], expected, rtol=RTOL)
    print(f"tf generated loss, batch of 15 split 8 + 7: {uneven1['loss']:.7f} on one device, "
          f"{uneven2['loss']:.7f} on two (rel {abs(uneven2['loss'] - uneven1['loss']) / uneven1['loss']:.2e})")
