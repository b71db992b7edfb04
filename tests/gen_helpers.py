"""Helpers for the `losscheck gen` tests: a Hypothesis strategy of valid layouts, random data
that fits a layout, an independent reference implementation of the spec built from
``keras.losses``, and loading a generated module from a file.

The reference reads the raw layout dict (not losscheck's Plan) and follows
layout-v1.md step by step, so a planning bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

# tests/gen, a namespace package beside this file (its scripts import the module from their folder)
from gen.module_loading import load_module
from hypothesis import strategies as st

TYPES = ("binary", "multilabel", "categorical", "regression")
LOSSES = {
    "regression": ["mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "log_cosh"],
    "binary": ["binary_crossentropy", "binary_focal_crossentropy", "dice"],
    "multilabel": ["binary_crossentropy", "binary_focal_crossentropy", "dice"],
    "categorical": ["categorical_crossentropy", "categorical_focal_crossentropy", "dice"],
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
_counter = itertools.count()


# -- valid layouts ----------------------------------------------------------------------
@st.composite
def task_specs(draw: Any, name: str, gates: list[str]) -> dict[str, Any]:
    ttype = draw(st.sampled_from(TYPES))
    units = {"binary": 1}.get(ttype) or draw(st.integers(2 if ttype == "categorical" else 1, 4))
    task: dict[str, Any] = {"name": name, "type": ttype, "units": units}
    sparse = False
    if ttype == "categorical" and draw(st.booleans()):
        task["targets"] = draw(st.sampled_from(["dense", "sparse"]))
        sparse = task["targets"] == "sparse"
    masked = draw(st.booleans())  # dice cannot be combined with a mask
    choices = [n for n in LOSSES[ttype] if not (n == "dice" and (masked or sparse))]
    names = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
    terms: list[Any] = []
    for loss in names:
        canon = ALIASES.get(loss, loss)
        params: dict[str, Any] = {}
        if draw(st.booleans()):
            params["weight"] = draw(st.sampled_from([0.0, 0.25, 0.5, 2.0]))
        if canon == "huber" and draw(st.booleans()):
            params["delta"] = draw(st.sampled_from([0.3, 0.5, 2.0]))
        if "focal" in canon:
            if draw(st.booleans()):
                params["gamma"] = draw(st.sampled_from([0.0, 1.0, 2.5]))
            if draw(st.booleans()):
                params["alpha"] = draw(st.sampled_from([0.1, 0.25, 0.75]))
        if ttype == "categorical" and not sparse and draw(st.booleans()):
            need = 1 if canon == "dice" else 2
            k = draw(st.integers(need, units))
            params["classes"] = draw(st.permutations(list(range(units))))[:k]
        terms.append({"name": loss, **params} if params else loss)
    default = {"binary": "binary_crossentropy", "multilabel": "binary_crossentropy",
               "categorical": "categorical_crossentropy", "regression": "mean_squared_error"}[ttype]
    form = draw(st.integers(0, 2))
    if form == 0 and len(terms) == 1:
        task["loss"] = terms[0]  # a bare name or a single term object
    elif not (form == 1 and terms == [default]):  # form 1 with the default: leave "loss" out
        task["loss"] = terms
    if ttype != "regression" and draw(st.booleans()):
        task["from_logits"] = draw(st.booleans())
    if draw(st.booleans()):
        task["weight"] = draw(st.sampled_from([0.0, 0.3, 1.0, 1.5]))
    canon_names = [ALIASES.get(t if isinstance(t, str) else t["name"], t if isinstance(t, str) else t["name"])
                   for t in terms]
    if ttype in ("binary", "multilabel") and "binary_crossentropy" in canon_names and draw(st.booleans()):
        task["pos_weight"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
    if masked:
        if gates and draw(st.booleans()):
            task["when"] = {"task": draw(st.sampled_from(gates)), "equals": draw(st.sampled_from([0, 1]))}
        if "when" not in task or draw(st.booleans()):
            task["ignore_value"] = draw(st.sampled_from([-1, -1.5, 255]))
    return task


@st.composite
def output_specs(draw: Any, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    spatial = draw(st.sampled_from([None, [], [3], [2, 3], [None, 2], [2, 2, 2]]))
    if spatial is not None:
        out["spatial"] = spatial
    if draw(st.booleans()):
        out["channel_axis"] = draw(st.sampled_from([-1, 1]))
    if draw(st.booleans()):
        out["weight"] = draw(st.sampled_from([0.0, 0.5, 2.0]))
    n = draw(st.integers(1, 4))
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        # gates: earlier binary tasks that are not gated themselves (no cycles by construction)
        gates = [t["name"] for t in tasks if t["type"] == "binary" and "when" not in t]
        tasks.append(draw(task_specs(f"t{i}_{draw(st.sampled_from(['a', 'mask', 'cls', 'box']))}", gates)))
    out["tasks"] = tasks
    return out


@st.composite
def layouts(draw: Any, framework: str | None = None) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    layout: dict[str, Any] = {"version": 1}
    if framework:
        layout["framework"] = framework
    layout["outputs"] = [draw(output_specs(f"out{i}")) for i in range(n)]
    return layout


# -- data that fits a layout ------------------------------------------------------------
def true_units(task: dict[str, Any]) -> int:
    return 1 if task["type"] == "categorical" and task.get("targets") == "sparse" else task["units"]


def concrete_spatial(output: dict[str, Any]) -> list[int]:
    return [4 if s is None else s for s in output.get("spatial", [])]


def make_data(output: dict[str, Any], batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) for one output, float32, in the output's own layout."""
    spatial = concrete_spatial(output)
    ys, ps = [], []
    for task in output["tasks"]:
        shape = (batch, *spatial)
        units, logits = task["units"], task.get("from_logits", False)
        if task["type"] in ("binary", "multilabel"):
            y = rng.integers(0, 2, (*shape, units)).astype("float32")
            p = rng.normal(0, 2, (*shape, units)) if logits else rng.uniform(0.02, 0.98, (*shape, units))
        elif task["type"] == "categorical":
            idx = rng.integers(0, units, shape)
            y = idx[..., None].astype("float32") if task.get("targets") == "sparse" else np.eye(units)[idx]
            p = rng.normal(0, 2, (*shape, units)) if logits else rng.dirichlet(np.ones(units), shape)
        else:
            y = rng.normal(0, 1.5, (*shape, units))
            p = rng.normal(0, 1.5, (*shape, units))
        if "ignore_value" in task:  # mark about a third of the positions as ignored
            drop = rng.random(shape) < 0.35
            y = np.where(drop[..., None], task["ignore_value"], y)
        ys.append(y.astype("float32"))
        ps.append(p.astype("float32"))
    yt, yp = np.concatenate(ys, -1), np.concatenate(ps, -1)
    if output.get("channel_axis", -1) == 1:
        yt, yp = np.moveaxis(yt, -1, 1), np.moveaxis(yp, -1, 1)
    return yt, yp


# -- the reference, straight from the spec ------------------------------------------------
def _terms(task: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    default = {"binary": "binary_crossentropy", "multilabel": "binary_crossentropy",
               "categorical": "categorical_crossentropy", "regression": "mean_squared_error"}[task["type"]]
    loss = task.get("loss", default)
    items = loss if isinstance(loss, list) else [loss]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((ALIASES.get(item, item), {}))
        else:
            out.append((ALIASES.get(item["name"], item["name"]), {k: v for k, v in item.items() if k != "name"}))
    return out


def mask_of(output: dict[str, Any], task: dict[str, Any], yt: np.ndarray) -> np.ndarray:
    """The spec's M, shape (B, *S), from y_true only."""
    if output.get("channel_axis", -1) == 1:
        yt = np.moveaxis(yt, 1, -1)
    starts, at = {}, 0
    for t in output["tasks"]:
        starts[t["name"]] = at
        at += true_units(t)
    y = yt[..., starts[task["name"]]: starts[task["name"]] + true_units(task)]
    m = np.ones(y.shape[:-1], dtype="float32")
    if "when" in task:
        m = m * (yt[..., starts[task["when"]["task"]]] == task["when"]["equals"])
    if "ignore_value" in task:
        m = m * ~np.any(y == task["ignore_value"], axis=-1)
    return m.astype("float32")


def reference_task(output: dict[str, Any], task: dict[str, Any], yt: np.ndarray, yp: np.ndarray) -> np.ndarray:
    """layout-v1 'What a task's loss is', with keras.losses; returns (B,)."""
    import keras

    M = mask_of(output, task, yt)  # (B, *S), from y_true in the output's own layout
    if output.get("channel_axis", -1) == 1:
        yt, yp = np.moveaxis(yt, 1, -1), np.moveaxis(yp, 1, -1)
    t0 = p0 = 0
    for t in output["tasks"]:
        if t["name"] == task["name"]:
            break
        t0, p0 = t0 + true_units(t), p0 + t["units"]
    Y = yt[..., t0: t0 + true_units(task)].astype("float32")
    P = yp[..., p0: p0 + task["units"]].astype("float32")
    # Masked positions do not count (L * M); give Keras harmless values there (e.g. an
    # ignored sparse index of -1 would make TensorFlow's sparse crossentropy fail).
    Y = np.where(M[..., None] > 0, Y, 0.0).astype("float32")
    P = np.where(M[..., None] > 0, P, 0.0 if task["type"] == "regression" or task.get("from_logits") else 0.5)
    P = P.astype("float32")
    logits = bool(task.get("from_logits", False))
    sparse = task["type"] == "categorical" and task.get("targets") == "sparse"
    S = tuple(range(1, Y.ndim - 1))
    L = np.zeros(M.shape, dtype="float64")
    dice = np.zeros(Y.shape[0], dtype="float64")
    for name, params in _terms(task):
        w = params.get("weight", 1.0)
        y, p = Y, P
        if name == "dice" and logits:  # losscheck's documented choice: dice sees probabilities
            p = np.asarray(keras.ops.softmax(p, axis=-1) if task["type"] == "categorical" else keras.ops.sigmoid(p))
        if "classes" in params:
            y, p = np.take(y, params["classes"], axis=-1), np.take(p, params["classes"], axis=-1)
        losses = keras.losses
        if name == "dice":
            dice += w * np.asarray(losses.dice(y, p, axis=tuple(range(1, y.ndim))), dtype="float64")
            continue
        if name in ("mean_squared_error", "mean_absolute_error", "log_cosh"):
            term = getattr(losses, name)(y, p)
        elif name == "huber":
            term = losses.huber(y, p, delta=params.get("delta", 1.0))
        elif name == "binary_crossentropy":
            pw = task.get("pos_weight", 1.0)
            if pw == 1.0:
                term = losses.binary_crossentropy(y, p, from_logits=logits)
            else:  # element-wise crossentropy times Y * pos_weight + (1 - Y), averaged over channels
                elems = keras.ops.binary_crossentropy(y, p, from_logits=logits)
                term = keras.ops.mean(elems * (y * pw + (1 - y)), axis=-1)
        elif name == "binary_focal_crossentropy":
            kwargs = {"gamma": params.get("gamma", 2.0)}
            if "alpha" in params:
                kwargs.update(apply_class_balancing=True, alpha=params["alpha"])
            term = losses.binary_focal_crossentropy(y, p, from_logits=logits, **kwargs)
        elif name == "categorical_crossentropy" and sparse:
            term = losses.sparse_categorical_crossentropy(y[..., 0], p, from_logits=logits)
        elif name == "categorical_crossentropy":
            term = losses.categorical_crossentropy(y, p, from_logits=logits)
        elif name == "categorical_focal_crossentropy":
            if sparse:
                y = np.eye(task["units"], dtype="float32")[y[..., 0].astype(int)]
            term = losses.categorical_focal_crossentropy(
                y, p, from_logits=logits, alpha=params.get("alpha", 0.25), gamma=params.get("gamma", 2.0))
        else:
            raise AssertionError(name)
        L = L + w * np.asarray(term, dtype="float64")
    if S:
        per_example = (L * M).sum(axis=S) / np.maximum(M.sum(axis=S), 1.0)
    else:
        per_example = L * M
    return per_example + dice


def reference_output(output: dict[str, Any], yt: np.ndarray, yp: np.ndarray) -> np.ndarray:
    total = np.zeros(yt.shape[0])
    for task in output["tasks"]:
        w = task.get("weight", 1.0)
        if w:
            total = total + w * reference_task(output, task, yt, yp)
    return total


# -- generated modules ------------------------------------------------------------------
EXAMPLE_LAYOUTS = sorted(Path(__file__).resolve().parents[1].joinpath("examples", "layouts").glob("*.json"))
ADDITIONS = ("class_weights", "label_smoothing", "pool", "metrics")


def uses_additions(layout: dict[str, Any]) -> bool:
    """Whether a layout uses the Additions (generated for keras and tf.keras only; the NumPy
    reference here knows the core)."""
    if layout.get("weights") == "variable":
        return True
    return any(key in task or "in" in task.get("when", {}) for output in layout["outputs"]
               for task in output["tasks"] for key in ADDITIONS)


def write_layout(layout: dict[str, Any], directory: Path, stem: str | None = None) -> Path:
    path = directory / f"{stem or f'layout{next(_counter)}'}.json"
    path.write_text(json.dumps(layout, indent=2))
    return path


def generate_module(layout: dict[str, Any], directory: Path, framework: str | None = None) -> tuple[ModuleType, str]:
    """Generate from a layout dict through the public CLI path, import the file, return (module, text)."""
    from losscheck.cli import main

    path = write_layout(layout, directory)
    out = path.with_name(path.stem + "_losses.py")
    args = ["gen", str(path), "-o", str(out), "-q"] + (["--framework", framework] if framework else [])
    assert main(args) == 0
    return import_file(out), out.read_text()


def imported_modules(text: str) -> set[str]:
    """Every module a generated module's text imports, at top level or inside functions."""
    import ast

    imported: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    return imported


def import_file(path: Path) -> ModuleType:
    return load_module(str(path), f"lc_generated_{path.stem}_{next(_counter)}")


# -- layouts with the Additions ---------------------------------------------------------
METRICS = {
    "binary": ("binary_accuracy", "precision", "recall", "auc", "iou"),
    "multilabel": ("binary_accuracy", "precision", "recall", "auc", "iou"),
    "categorical": ("categorical_accuracy", "top_k_categorical_accuracy", "mean_iou", "f1"),
    "regression": ("mae", "mse", "rmse"),
}
SMOOTHABLE = ("binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
              "categorical_focal_crossentropy")


def term_names(task: dict[str, Any]) -> list[str]:
    loss = task.get("loss")
    items = loss if isinstance(loss, list) else [loss] if loss is not None else [None]
    default = {"binary": "binary_crossentropy", "multilabel": "binary_crossentropy",
               "categorical": "categorical_crossentropy", "regression": "mean_squared_error"}[task["type"]]
    names = [default if i is None else i if isinstance(i, str) else i["name"] for i in items]
    return [ALIASES.get(n, n) for n in names]


@st.composite
def layouts_with_additions(draw: Any) -> dict[str, Any]:
    """A valid core layout with Additions drawn where they are allowed."""
    layout = draw(layouts())
    if draw(st.booleans()):
        layout["weights"] = "variable"
    for output in layout["outputs"]:
        spatial = output.get("spatial") or []
        for task in output["tasks"]:
            names, ttype = term_names(task), task["type"]
            sparse = task.get("targets") == "sparse"
            metrics: list[Any] = list(draw(st.lists(st.sampled_from(METRICS[ttype]), max_size=2, unique=True)))
            if ttype == "categorical" and not sparse and metrics and draw(st.booleans()):
                k = draw(st.integers(1, task["units"]))
                metrics[0] = {"name": metrics[0], "classes": draw(st.permutations(range(task["units"])))[:k]}
            if metrics:
                task["metrics"] = metrics
            if ttype == "categorical" and "dice" not in names and draw(st.booleans()):
                task["class_weights"] = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=task["units"],
                                                      max_size=task["units"]))
            if any(n in SMOOTHABLE for n in names) and draw(st.booleans()):
                task["label_smoothing"] = draw(st.sampled_from([0.05, 0.2]))
            unmasked = "when" not in task and "ignore_value" not in task
            if spatial and unmasked and "dice" not in names and draw(st.booleans()):
                task["pool"] = draw(st.sampled_from(["mean", "max"]))
            if "when" in task and draw(st.booleans()):
                task["when"] = {"task": task["when"]["task"], "in": [task["when"]["equals"]]}
    return layout


# -- the Additions' test layout, its data and NumPy references ------------------------------
ADDITIONS_B, ADDITIONS_S = 3, 4  # batch, spatial side: small
ADDITIONS_LAYOUT: dict[str, Any] = {
    "version": 1,
    "weights": "variable",
    "outputs": [{
        "name": "seg", "spatial": [ADDITIONS_S, ADDITIONS_S], "weight": 0.5,
        "tasks": [
            {"name": "tissue", "type": "categorical", "units": 3, "from_logits": True,
             "class_weights": [0.5, 1.0, 2.0], "label_smoothing": 0.1,
             "metrics": ["categorical_accuracy", {"name": "f1", "classes": [1, 2]}]},
            {"name": "lesion", "type": "binary", "units": 1, "from_logits": True, "weight": 0.7,
             "when": {"task": "tissue", "in": [1, 2]}, "metrics": ["precision"]},
            {"name": "grade", "type": "categorical", "units": 4, "targets": "sparse", "from_logits": True,
             "pool": "max", "weight": 0.3, "metrics": [{"name": "top_k_categorical_accuracy", "k": 2}]},
        ],
    }],
}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def additions_data(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Targets by task (for ``pack_targets``), logits ``y_pred`` of ``seg``, and the raw labels."""
    b, s = ADDITIONS_B, ADDITIONS_S
    tissue = rng.integers(0, 3, (b, s, s))
    lesion = rng.integers(0, 2, (b, s, s)).astype("float32")
    grade = np.repeat(np.repeat(rng.integers(0, 4, (b, 1, 1)), s, 1), s, 2)  # image-level, on every pixel
    targets = {"tissue": np.eye(3)[tissue], "lesion": lesion, "grade": grade}
    y_pred = rng.normal(size=(b, s, s, 8)).astype("float32")
    return targets, y_pred, {"tissue": tissue, "lesion": lesion, "grade": grade}


def tissue_reference(labels: np.ndarray, logits: np.ndarray, weights: Any, smoothing: float) -> np.ndarray:
    """Smoothed softmax crossentropy times the true class's weight, mean over the positions."""
    onehot = np.eye(logits.shape[-1])[labels]
    smoothed = onehot * (1 - smoothing) + smoothing / logits.shape[-1]
    ce = -(smoothed * log_softmax(logits)).sum(-1)
    return (ce * np.asarray(weights)[labels]).mean(axis=(1, 2))


def lesion_reference(gate_labels: np.ndarray, classes: Any, lesion: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Binary crossentropy over the positions whose gate label is one of ``classes``."""
    keep = np.isin(gate_labels, classes).astype("float64")
    p = sigmoid(logits.astype("float64"))
    eps = 1e-7
    p = np.clip(p, eps, 1 - eps)
    bce = -(lesion * np.log(p) + (1 - lesion) * np.log(1 - p))
    return (bce * keep).sum(axis=(1, 2)) / np.maximum(keep.sum(axis=(1, 2)), 1)


def grade_reference(grade: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Sparse softmax crossentropy of the logits max-pooled over the positions."""
    pooled = logits.max(axis=(1, 2))
    return -log_softmax(pooled)[np.arange(len(grade)), grade[:, 0, 0]]


def f1_macro(truth: np.ndarray, pred: np.ndarray, weight: np.ndarray) -> float:
    """Macro F1 of one-hot rows, each row weighed."""
    scores = []
    for c in range(truth.shape[-1]):
        t, p = truth[:, c], pred[:, c]
        tp, fp, fn = (weight * t * p).sum(), (weight * (1 - t) * p).sum(), (weight * t * (1 - p)).sum()
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))
