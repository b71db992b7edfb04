"""Fit tiny models with a generated ``"weights": "variable"`` module on one Keras backend.

Run as ``KERAS_BACKEND=<backend> python variable_weights_fit.py MODULE.py DATA.npz [MODE]``, by
``test_variable_weights_backends.py``: the backend must be chosen before Keras starts, so each
one gets its own process (MODE ``data_parallel_import_first`` or ``data_parallel_import_after``:
JAX over several devices, instead of the other cases). It prints one JSON object: for each case, the parameters a model
started from, the losses Keras reported and the parameters it ended with. The test replays every
case in NumPy; nothing here computes an expected value.

The model is one ``Dense(3)`` layer named after the layout's output; every fit takes the whole
data as one batch (so one SGD step per epoch, and an epoch's loss is the loss before that step)
unless a case says otherwise.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from module_loading import load_module  # this script's folder is on sys.path

LEARNING_RATE = 0.1
SCHEDULE = {"y": [2.0, 1.0, 0.5], "y.b": [0.5, 3.0, 0.0]}  # output weight and a task weight
OWN_SCHEDULE = [1.0, 2.0]  # y.a, per epoch, from a user's own callback
BATCH_VALUE = 3.0  # y, assigned by a batch callback before the second batch


def params(model: keras.Model) -> list[list]:
    return [np.asarray(w, "float64").tolist() for w in model.get_weights()]


def weights_now(module: Any) -> dict[str, float]:
    return {key: float(np.asarray(v.numpy())) for key, v in module.WEIGHTS.items()}


def reset(module: Any) -> None:
    # every case starts from the layout's weights
    for key, value in module._lc_initial_weights.items():
        module.WEIGHTS[key].assign(value)


def new_model(module: Any, seed: int, learning_rate: float = LEARNING_RATE, jit_compile: bool | str = "auto"
              ) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="y")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=module.LOSSES,
                  loss_weights=module.LOSS_WEIGHTS, jit_compile=jit_compile)
    return model


class EpochAssign(keras.callbacks.Callback):
    """A user's own callback: a plain ``assign`` at the start of each epoch."""

    def __init__(self, variable: Any, values: list[float]):
        super().__init__()
        self.variable, self.values = variable, values

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.variable.assign(self.values[epoch])


class BatchAssign(keras.callbacks.Callback):
    """A plain ``assign`` inside an epoch, before its second batch; ``sync``: call the JAX
    trainer's ``jax_state_sync()`` first (the other trainers have none)."""

    def __init__(self, variable: Any, value: float, sync: bool):
        super().__init__()
        self.variable, self.value, self.sync = variable, value, sync

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if batch != 1:
            return
        if self.sync and hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        self.variable.assign(self.value)


def our_warnings(run: Callable[[], Any]) -> tuple[Any, int]:
    """``run()``'s result and how many warnings of the generated module it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, sum("attach_weights" in str(w.message) for w in caught)


def scheduled(module: Any, x: np.ndarray, y: np.ndarray, jit_compile: bool | str = "auto") -> dict:
    """The documented use: WeightScheduler in fit; then a plain assign between fit calls.
    ``jit_compile=True``: XLA on TensorFlow, torch.compile on PyTorch (JAX always compiles)."""
    reset(module)
    model = new_model(module, seed=1, jit_compile=jit_compile)
    start = params(model)
    schedule = {key: (lambda epoch, values=values: values[epoch]) for key, values in SCHEDULE.items()}
    history, warned = our_warnings(lambda: model.fit(
        x, y, epochs=3, batch_size=len(x), shuffle=False, verbose=0,
        callbacks=[module.WeightScheduler(module.WEIGHTS, schedule)]))
    end = params(model)
    module.WEIGHTS["y.a"].assign(0.25)
    evaluated = model.evaluate(x, y, batch_size=len(x), verbose=0)
    again = model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    return {"start": start, "losses": history.history["loss"], "end": end, "warnings": warned,
            "weights_after": weights_now(module), "evaluate_after_assign": evaluated,
            "fit_after_assign": again.history["loss"][0]}


def own_callback(module: Any, x: np.ndarray, y: np.ndarray) -> dict:
    """attach_weights, then the user's own epoch callback assigns."""
    reset(module)
    model = new_model(module, seed=2)
    module.attach_weights(model, module.WEIGHTS)
    module.attach_weights(model, module.WEIGHTS)  # a second time changes nothing
    start = params(model)
    history = model.fit(x, y, epochs=2, batch_size=len(x), shuffle=False, verbose=0,
                        callbacks=[EpochAssign(module.WEIGHTS["y.a"], OWN_SCHEDULE)])
    return {"start": start, "losses": history.history["loss"], "end": params(model),
            "variables": len(model.variables), "weights": len(model.weights)}


def batch_callback(module: Any, x: np.ndarray, y: np.ndarray, sync: bool) -> dict:
    """An assign inside an epoch (two batches, learning rate 0: the model stays put)."""
    reset(module)
    model = new_model(module, seed=3, learning_rate=0.0)
    module.attach_weights(model, module.WEIGHTS)
    start = params(model)
    history = model.fit(x, y, epochs=1, batch_size=len(x) // 2, shuffle=False, verbose=0,
                        callbacks=[BatchAssign(module.WEIGHTS["y"], BATCH_VALUE, sync)])
    return {"start": start, "loss": history.history["loss"][0], "weight_after": weights_now(module)["y"]}


def unattached(module: Any, x: np.ndarray, y: np.ndarray) -> dict:
    """No WeightScheduler, no attach_weights: a plain assign between two fit calls."""
    reset(module)
    model = new_model(module, seed=4, learning_rate=0.0)
    start = params(model)
    _, warned = our_warnings(lambda: model.fit(x, y, epochs=1, batch_size=len(x), verbose=0))
    module.WEIGHTS["y"].assign(5.0)
    history = model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    return {"start": start, "loss_after_assign": history.history["loss"][0], "warnings": warned}


def data_parallel(module_path: str, x: np.ndarray, y: np.ndarray, import_first: bool) -> dict:
    """JAX, ``keras.distribution.DataParallel``: WeightScheduler in fit, with the module
    imported (its WEIGHTS made) before or after the distribution is set."""
    module = load_module(module_path, "variable_weights_losses") if import_first else None
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    module = module or load_module(module_path, "variable_weights_losses")
    model = new_model(module, seed=5)
    start = params(model)
    schedule = {key: (lambda epoch, values=values: values[epoch]) for key, values in SCHEDULE.items()}
    history = model.fit(x, y, epochs=3, batch_size=len(x), shuffle=False, verbose=0,
                        callbacks=[module.WeightScheduler(module.WEIGHTS, schedule)])
    return {"start": start, "losses": history.history["loss"], "end": params(model),
            "devices": len(keras.distribution.list_devices())}


def case(run: Callable[[], dict]) -> dict:
    """One case's result, or the error it raised: a failing case does not hide the others."""
    try:
        return run()
    except Exception as error:  # reported to the test, which fails on it
        return {"error": repr(error)}


def main(module_path: str, data_path: str, mode: str = "cases") -> None:
    data = np.load(data_path)
    x, y = data["x"], data["y"]
    constants = {"learning_rate": LEARNING_RATE, "schedule": SCHEDULE, "own_schedule": OWN_SCHEDULE,
                 "batch_value": BATCH_VALUE}
    if mode.startswith("data_parallel"):  # data_parallel_import_first / data_parallel_import_after
        run = case(lambda: data_parallel(module_path, x, y, import_first=mode.endswith("first")))
        print(json.dumps({"backend": keras.backend.backend(), "constants": constants, mode: run}, default=float))
        return
    module = load_module(module_path, "variable_weights_losses")
    results = {"backend": keras.backend.backend(), "constants": constants}
    # first: once a model holds the weights (or a scheduler will), the module no longer warns
    results["unattached"] = case(lambda: unattached(module, x, y))
    results["scheduled"] = case(lambda: scheduled(module, x, y))
    results["scheduled_jit_compile"] = case(lambda: scheduled(module, x, y, jit_compile=True))
    results["own_callback"] = case(lambda: own_callback(module, x, y))
    results["batch_callback"] = case(lambda: batch_callback(module, x, y, sync=False))
    results["batch_callback_synced"] = case(lambda: batch_callback(module, x, y, sync=True))
    print(json.dumps(results, default=float))


if __name__ == "__main__":
    main(*sys.argv[1:])
