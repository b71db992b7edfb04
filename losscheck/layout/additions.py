"""Semantic checks of the layout "Additions": class gates, class weights, smoothing, pooling, metrics.

Like :mod:`losscheck.layout.validate`, these walk the raw JSON defensively: a part whose shape
the schema rejects is left to the schema's message. Every problem names its JSON path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from losscheck.layout.load import JsonPath
from losscheck.layout.model import METRICS_BY_TYPE, SMOOTHABLE_LOSSES, Metric, When

# The frameworks whose emitters generate the Additions: the built-in ones. A plugin's emitter
# does not, so its layouts refuse them.
ADDITIONS_FRAMEWORKS = ("keras", "tf.keras")
ADDITION_TASK_FIELDS = ("class_weights", "label_smoothing", "pool", "metrics")
_ONLY = 'frameworks "keras" and "tf.keras" only'

Report = Callable[[JsonPath, str], None]


def _whole(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _check_classes(values: Any, units: int | None, path: JsonPath, report: Report) -> None:
    """Class indices in range and unique (the schema checks the type and the bounds)."""
    if not isinstance(values, list):
        return
    seen: set[int] = set()
    for i, raw in enumerate(values):
        c = _whole(raw)
        if c is None:
            continue
        if units is not None and not 0 <= c < units:
            report(path + (i,), f"class index {c} is out of range for {units} classes (0..{units - 1})")
        if c in seen:
            report(path + (i,), f"class index {c} is repeated")
        seen.add(c)


def gate_classes(when: dict[str, Any]) -> list[Any] | None:
    """The classes a ``when`` lists: ``in``, or ``[equals]``."""
    if "in" in when:
        return when["in"] if isinstance(when["in"], list) else None
    return [when["equals"]] if "equals" in when else None


def check_gate(task: dict[str, Any], tpath: JsonPath, tasks_by_name: dict[str, dict[str, Any]],
               report: Report) -> None:
    """``when``: the gate task is binary or categorical, and its listed classes exist."""
    when = task.get("when")
    if not isinstance(when, dict) or not isinstance(when.get("task"), str):
        return
    gate = tasks_by_name.get(when["task"])
    if gate is None or when["task"] == task.get("name"):
        return  # reported by the core checks
    gtype = gate.get("type")
    key = "in" if "in" in when else "equals"
    classes = gate_classes(when)
    if gtype == "binary":
        units: int | None = 2
    elif gtype == "categorical":
        units = _whole(gate.get("units"))
    else:
        return  # the core checks say the gate must be binary or categorical
    if classes is None:
        return
    if gtype == "binary":
        for i, raw in enumerate(classes):
            if _whole(raw) not in (0, 1) and _whole(raw) is not None:
                place = tpath + ("when", key) + ((i,) if key == "in" else ())
                report(place, f"task {when['task']!r} is binary: its ground truth is 0 or 1, not {raw}")
        if key == "in":
            _check_classes(classes, None, tpath + ("when", "in"), report)
    elif key == "in":
        _check_classes(classes, units, tpath + ("when", "in"), report)
    else:
        _check_classes(classes, units, tpath + ("when",), report)


def check_task_additions(task: dict[str, Any], tpath: JsonPath, output: dict[str, Any], term_names: list[str],
                         report: Report) -> None:
    ttype = task.get("type")
    units = _whole(task.get("units"))
    sparse = ttype == "categorical" and task.get("targets") == "sparse"

    if "class_weights" in task:
        cw = task["class_weights"]
        path = tpath + ("class_weights",)
        if ttype != "categorical":
            report(path, f"class_weights is for categorical tasks only (this task is {ttype})")
        elif isinstance(cw, list) and units is not None and len(cw) != units:
            report(path, f"class_weights needs one weight per class: {units}, got {len(cw)}")
        if "dice" in term_names:
            report(path, "class_weights cannot be combined with a dice term: dice is one value per example, "
                         "not a map of positions to weigh")

    if "label_smoothing" in task:
        path = tpath + ("label_smoothing",)
        if term_names and not any(name in SMOOTHABLE_LOSSES for name in term_names):
            report(path, "label_smoothing applies to the crossentropy and focal losses, which this task's loss "
                         f"does not use ({', '.join(term_names)})")

    if "pool" in task:
        path = tpath + ("pool",)
        spatial = output.get("spatial", [])
        if isinstance(spatial, list) and not spatial:
            report(path, "pool needs an output with spatial dims (this output has none)")
        for other in ("when", "ignore_value"):
            if other in task:
                report(path, f"pool cannot be combined with \"{other}\": a pooled task has one position "
                             "per example, none to leave out")
        if "dice" in term_names:
            report(path, "pool cannot be combined with a dice term")

    metrics = task.get("metrics")
    if isinstance(metrics, list) and isinstance(ttype, str) and ttype in METRICS_BY_TYPE:
        seen: set[str] = set()
        for i, item in enumerate(metrics):
            mpath = tpath + ("metrics", i)
            name = item if isinstance(item, str) else item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name not in METRICS_BY_TYPE[ttype] and any(name in ms for ms in METRICS_BY_TYPE.values()):
                report(mpath, f"metric {name!r} is not for {ttype} tasks; use one of "
                              f"{', '.join(METRICS_BY_TYPE[ttype])}")
                continue
            if name in seen:
                report(mpath, f"metric {name!r} is listed twice for this task (both would be named "
                              f"{task.get('name')}_{name})")
            seen.add(name)
            if not isinstance(item, dict):
                continue
            if "k" in item and name != "top_k_categorical_accuracy":
                report(mpath + ("k",), f"\"k\" is a parameter of top_k_categorical_accuracy, not of {name}")
            if "classes" in item:
                if ttype != "categorical":
                    report(mpath + ("classes",), f"\"classes\" is for categorical tasks only (this task is {ttype})")
                elif sparse:
                    report(mpath + ("classes",), "\"classes\" needs dense targets; this task's targets are sparse")
                else:
                    _check_classes(item["classes"], units, mpath + ("classes",), report)


def check_framework(data: dict[str, Any], report: Report, framework: str | None = None) -> None:
    """The Additions are generated by the built-in emitters only; elsewhere they are an error,
    not ignored.

    ``framework``: the one asked for on the command line, over the layout's own.
    """
    framework = framework or data.get("framework", "keras")
    if framework in ADDITIONS_FRAMEWORKS or not isinstance(framework, str):
        return
    if data.get("weights") == "variable":
        report(("weights",), f"\"variable\" weights are generated for {_ONLY}, not {framework!r}")
    for oi, output in enumerate(data.get("outputs") or []):
        if not isinstance(output, dict) or not isinstance(output.get("tasks"), list):
            continue
        for ti, task in enumerate(output["tasks"]):
            if isinstance(task, dict):
                _check_task_framework(task, ("outputs", oi, "tasks", ti), output["tasks"], framework, report)


def _check_task_framework(task: dict[str, Any], tpath: JsonPath, tasks: list[Any], framework: str,
                          report: Report) -> None:
    for key in ADDITION_TASK_FIELDS:
        if key in task:
            report(tpath + (key,), f"{key!r} is generated for {_ONLY}, not {framework!r}")
    when = task.get("when")
    if isinstance(when, dict) and "in" in when:
        report(tpath + ("when", "in"), f"\"when\" with \"in\" is generated for {_ONLY}, not {framework!r}")
    elif isinstance(when, dict) and any(
        isinstance(other, dict) and other.get("name") == when.get("task") and other.get("type") == "categorical"
        for other in tasks
    ):
        report(tpath + ("when", "task"), f"a categorical gate is generated for {_ONLY}, not {framework!r}")


def build_when(when: dict[str, Any] | None) -> When | None:
    if not when:
        return None
    classes = gate_classes(when) or []
    return When(when["task"], tuple(int(c) for c in classes))


def build_metrics(task: dict[str, Any]) -> tuple[Metric, ...]:
    metrics = []
    for item in task.get("metrics", []):
        if isinstance(item, str):
            metrics.append(Metric(item))
        else:
            metrics.append(Metric(
                item["name"],
                classes=tuple(int(c) for c in item["classes"]) if "classes" in item else None,
                k=int(item["k"]) if "k" in item else None,
            ))
    return tuple(metrics)
