"""Run a generated ``"framework": "keras"`` module with the layout's Additions on one Keras 3 backend.

Run as ``KERAS_BACKEND=<backend> python additions_backend_run.py MODULE.py DATA.npz``, by
``test_additions_backends.py``: the backend must be chosen before Keras starts, so each one gets
its own process. ``DATA.npz`` holds the packed ``y_true``, the logits ``y_pred`` and the model
input ``x``. The last line printed is one JSON object:

- ``losses``: every ``TASK_LOSSES`` and ``LOSSES`` function on the given arrays;
- ``metrics``: every metric of ``make_metrics()`` after one ``update_state`` on the arrays, by name;
- ``fit``: a one-layer model compiled with ``LOSSES``, ``LOSS_WEIGHTS`` and ``make_metrics()``,
  fitted one epoch in batches of 2 (two steps): the steps taken and the losses and metrics it
  reported.

Nothing here computes an expected value: the test compares with NumPy and across backends.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import keras
import numpy as np
from module_loading import load_module  # this script's folder is on sys.path


def as_list(value: Any) -> Any:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64").tolist()


def main() -> None:
    module = load_module(sys.argv[1], "additions_backend_losses")
    data = np.load(sys.argv[2])
    y_true = keras.ops.convert_to_tensor(data["y_true"])
    y_pred = keras.ops.convert_to_tensor(data["y_pred"])

    losses = {key: as_list(fn(y_true, y_pred)) for key, fn in {**module.TASK_LOSSES, **module.LOSSES}.items()}

    metrics = {}
    for output, objects in module.make_metrics().items():
        for metric in objects:
            metric.update_state(y_true, y_pred)
            metrics[f"{output}/{metric.name}"] = float(as_list(metric.result()))

    keras.utils.set_random_seed(1)
    x = data["x"]
    inputs = keras.Input(x.shape[1:])
    outputs = keras.layers.Conv2D(data["y_pred"].shape[-1], 1, name="seg")(inputs)
    model = keras.Model(inputs, {"seg": outputs})
    model.compile(optimizer="sgd", loss=module.LOSSES, loss_weights=module.LOSS_WEIGHTS,
                  metrics=module.make_metrics())
    history = model.fit(x, {"seg": data["y_true"]}, batch_size=2, epochs=1, shuffle=False, verbose=0)
    fit = {"steps": int(as_list(model.optimizer.iterations)),
           "history": {key: [float(v) for v in values] for key, values in history.history.items()}}

    print(json.dumps({"backend": keras.backend.backend(), "losses": losses, "metrics": metrics, "fit": fit}))


if __name__ == "__main__":
    main()
