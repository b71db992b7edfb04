"""Run generated ``"framework": "tf.keras"`` modules with the layout's Additions on tf-keras.

Run as ``TF_USE_LEGACY_KERAS=1 python tf_keras_additions_run.py JOBS.json``, by
``test_gen_additions_tf_keras.py``: TensorFlow picks its Keras when it is first imported, so
tf-keras (Keras 2) needs a process of its own. ``JOBS.json`` names the cases to run and their
modules and data (``.npz``); the last line printed is one JSON object, case -> what tf-keras
gave. Nothing here computes an expected value: the test compares with NumPy.

Cases:
- ``losses``: every ``TASK_LOSSES`` and ``LOSSES`` function on given arrays;
- ``metrics``: every metric of ``make_metrics()`` on given arrays, with and without Keras's
  per-example ``sample_weight``;
- ``runtime``: the module's ``_lc_TaskMetric`` (masked positions, config round trip),
  ``WeightScheduler`` and ``attach_weights`` on their own;
- ``fit``: a tiny model fits with ``make_metrics()`` and a ``WeightScheduler``; what it predicted
  at the start of each epoch, the losses it reported, ``WEIGHTS`` assigned between ``fit`` calls,
  and models saved (``.keras``, H5) and loaded again; with and without ``jit_compile``;
- ``examples``: each example layout's module fits a model with its metrics, and reloads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from module_loading import load_module  # this script's folder is on sys.path

assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__  # Keras 2, not Keras 3
keras = tf.keras


def as_list(value: Any) -> Any:
    return np.asarray(value, "float64").tolist()


def weights_now(module: Any) -> dict[str, float]:
    return {key: float(variable.numpy()) for key, variable in getattr(module, "WEIGHTS", {}).items()}


# -- losses and metrics on given arrays -------------------------------------------------------
def losses(job: dict) -> dict:
    module = load_module(job["module"], job["name"])
    data = np.load(job["data"])
    got = {}
    for key, fn in [*module.TASK_LOSSES.items(), *module.LOSSES.items()]:
        output = key.split(".")[0]
        got[key] = as_list(fn(tf.constant(data[output + "_true"]), tf.constant(data[output + "_pred"])))
    return {"values": got, "loss_weights": module.LOSS_WEIGHTS, "weights": weights_now(module)}


def metric_results(module: Any, data: Any, sample_weight: np.ndarray | None) -> dict:
    results = {}
    made = module.make_metrics() if hasattr(module, "make_metrics") else {}  # none when no task has metrics
    for output, metrics in made.items():
        for metric in metrics:
            metric.update_state(data[output + "_true"], data[output + "_pred"], sample_weight=sample_weight)
            results[f"{output}/{metric.name}"] = as_list(metric.result())
    return results


def metrics(job: dict) -> dict:
    module = load_module(job["module"], job["name"])
    data = np.load(job["data"])
    weight = data["sample_weight"] if "sample_weight" in data else None
    return {"plain": metric_results(module, data, None),
            "weighted": metric_results(module, data, weight) if weight is not None else {}}


# -- the runtime classes on their own ---------------------------------------------------------
def runtime(job: dict) -> dict:
    module = load_module(job["module"], job["name"])

    @keras.utils.register_keras_serializable(package="losscheck.tests")
    def inputs_last_two(y_true, y_pred):
        keep = tf.cast(tf.not_equal(y_true[..., 2], 0.0), tf.float32)
        return y_true[..., 0:2], y_pred[..., 0:2], keep

    truth = np.array([[[1, 0, 1], [0, 1, 0]], [[0, 1, 1], [1, 0, 1]]], "float32")  # (B=2, S=2, 3)
    pred = np.array([[[0.9, 0.1, 0], [0.8, 0.2, 0]], [[0.3, 0.7, 0], [0.2, 0.8, 0]]], "float32")
    metric = module._lc_TaskMetric(inputs_last_two, keras.metrics.CategoricalAccuracy(), name="m")
    metric.update_state(truth, pred)
    out: dict[str, Any] = {"masked": float(metric.result())}
    metric.update_state(truth, pred, sample_weight=np.array([0.0, 1.0], "float32"))
    out["with_sample_weight"] = float(metric.result())
    again = module._lc_TaskMetric.from_config(json.loads(json.dumps(metric.get_config())))
    again.update_state(truth, pred)
    out["round_trip"] = float(again.result())
    metric.reset_state()
    out["after_reset"] = float(metric.result())

    weights = {"a": tf.Variable(1.0, trainable=False), "b": tf.Variable(2.0, trainable=False)}
    scheduler = module.WeightScheduler(weights, {"a": lambda epoch: 0.1 * epoch})
    out["scheduled"] = []
    for epoch in range(3):
        scheduler.on_epoch_begin(epoch)
        out["scheduled"].append([float(weights["a"].numpy()), float(weights["b"].numpy())])
    try:
        module.WeightScheduler(weights, {"c": lambda epoch: 1.0})
        out["unknown_key"] = None
    except ValueError as error:
        out["unknown_key"] = str(error)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    before = (len(model.weights), len(model.variables))
    module.attach_weights(model, weights)
    out["model_unchanged"] = before == (len(model.weights), len(model.variables))
    return out


# -- fitting --------------------------------------------------------------------------------
class Recorder(keras.callbacks.Callback):
    """What the model predicts, and WEIGHTS, at the start of each epoch (after a scheduler)."""

    def __init__(self, module: Any, x: np.ndarray):
        super().__init__()
        self.module, self.x = module, x
        self.predictions: list = []
        self.weights: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.predictions.append(as_list(self.model(self.x, training=False)["seg"]))
        self.weights.append(weights_now(self.module))


def seg_model(module: Any, jit_compile: bool) -> Any:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, {"seg": keras.layers.Conv2D(8, 1, name="seg")(inputs)})
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS,
                  metrics=module.make_metrics(), jit_compile=jit_compile)
    return model


def fit_once(module: Any, data: Any, jit_compile: bool, directory: Path) -> dict:
    for key, value in module._lc_initial_weights.items():  # every run starts from the layout's weights
        module.WEIGHTS[key].assign(value)
    x, y = data["x"], {"seg": data["seg_true"]}
    batch = len(x)  # one batch: one step an epoch, whose loss is taken before the step
    model = seg_model(module, jit_compile)
    recorder = Recorder(module, x)
    scheduler = module.WeightScheduler(module.WEIGHTS, {
        "seg.lesion": lambda epoch: 0.25 * (epoch + 1), "seg": lambda epoch: [0.5, 2.0][epoch]})
    history = model.fit(x, y, epochs=2, batch_size=batch, verbose=0, callbacks=[scheduler, recorder])
    out: dict[str, Any] = {"losses": history.history["loss"], "predictions": recorder.predictions,
                           "weights": recorder.weights, "logged": sorted(history.history)}
    # the model's metrics on what it predicts now
    out["predicted"] = as_list(model.predict(x, verbose=0)["seg"])
    out["evaluated"] = model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
    # a plain assign reaches the compiled test and train steps, already traced
    module.WEIGHTS["seg.lesion"].assign(3.0)
    module.WEIGHTS["seg"].assign(0.25)
    out["assigned_weights"] = weights_now(module)
    out["evaluate_after_assign"] = model.evaluate(x, y, batch_size=batch, verbose=0)[0]
    out["fit_after_assign"] = model.fit(x, y, epochs=1, batch_size=batch, verbose=0).history["loss"][0]
    out["predicted_after_fit"] = as_list(model.predict(x, verbose=0)["seg"])
    out["reloaded"] = {}
    for suffix in (".keras", ".h5"):
        path = directory / f"model_{int(jit_compile)}{suffix}"
        model.save(path)
        again = keras.models.load_model(path)  # no custom_objects: the module registered its objects
        out["reloaded"][suffix] = {"saved": model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True),
                                   "loaded": again.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)}
    return out


def fit(job: dict) -> dict:
    module = load_module(job["module"], job["name"])
    data = np.load(job["data"])
    directory = Path(job["module"]).parent
    return {str(jit): fit_once(module, data, jit, directory) for jit in (False, True)}


def example(job: dict) -> dict:
    module = load_module(job["module"], job["name"])
    data = np.load(job["data"])
    inputs = keras.Input((3,))
    outputs = {}
    for name in module.LOSSES:
        shape = tuple(int(d) for d in data[name + "_pred_shape"][1:])  # as the output lays it out
        flat = keras.layers.Dense(int(np.prod(shape)))(inputs)
        outputs[name] = keras.layers.Reshape(shape, name=name)(flat)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS,
                  metrics=module.make_metrics())
    y = {name: data[name + "_true"] for name in outputs}
    history = model.fit(data["x"], y, epochs=2, batch_size=2, verbose=0)
    path = Path(job["module"]).with_suffix(".keras")
    model.save(path)
    again = keras.models.load_model(path)
    return {"losses": history.history["loss"], "logged": sorted(history.history),
            "saved": model.evaluate(data["x"], y, verbose=0, return_dict=True)["loss"],
            "loaded": again.evaluate(data["x"], y, verbose=0, return_dict=True)["loss"]}


CASES = {"losses": losses, "metrics": metrics, "runtime": runtime, "fit": fit, "examples": example}


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    results: dict[str, Any] = {"keras": keras.__name__}
    for case, case_jobs in jobs.items():
        results[case] = {job["name"]: CASES[case](job) for job in case_jobs}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
