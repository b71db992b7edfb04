"""Validate a parsed layout: the JSON Schema, then every semantic rule of layout-v1.

All problems are collected and reported at once (a user fixing a layout should not
have to re-run once per typo), each as ``FILE:LINE: $.json.path: message``.
The semantic pass walks the raw JSON defensively: it only looks at parts whose
shape the schema accepted, so malformed input yields messages, never a traceback.
Only when there is no problem at all is the typed :class:`~losscheck.layout.model.Layout` built.
The schema pass is ``schema_check.py``'s; the problems and the wording of their messages are
``problems.py``'s; the checks of the layout's additions (gates, class weights, metrics...) are
``additions.py``'s.
"""

from __future__ import annotations

import keyword
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from losscheck.layout.additions import (
    build_metrics,
    build_when,
    check_framework,
    check_gate,
    check_task_additions,
)
from losscheck.layout.load import Document, JsonPath
from losscheck.layout.problems import (  # noqa: F401 - LayoutError and Problem are part of this module's API
    _IDENTIFIER,
    _IDENTIFIER_MESSAGE,
    LayoutError,
    Problem,
    _Collector,
    _integer_hint,
    _is_int,
    _is_num,
    _json_type,
    _show,
    _suggest,
    _whole,
)
from losscheck.layout.schema_check import _schema_pass, conforms, schema, schema_text  # noqa: F401 - API
from losscheck.layout.model import (
    DEFAULT_LOSS,
    FOCAL_LOSSES,
    LOSS_ALIASES,
    LOSSES_BY_TYPE,
    Layout,
    Output,
    Task,
    Term,
)

BUILTIN_FRAMEWORKS = ("keras", "tf.keras")
# An output's channels in all (its tasks' units summed): the same bound as one task's units.
MAX_OUTPUT_CHANNELS = 1_000_000
_MAX_CLASS = MAX_OUTPUT_CHANNELS - 1
_CROSSENTROPIES = ("binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
                   "categorical_focal_crossentropy")


# -- semantic pass ------------------------------------------------------------------------
def _number_pass(value: Any, path: JsonPath, out: _Collector) -> None:
    """Numbers beyond a float's range: JSON reads 1e400 as infinity and 10**400 as an int
    that no float holds. Reported once, here; the other passes stay silent on that path."""
    if _is_num(value) and not (isinstance(value, float) and math.isfinite(value)) and \
            not (_is_int(value) and abs(value) <= sys.float_info.max):
        shown = "" if isinstance(value, float) else f" {_show(value, 24)}"  # inf: the text is gone
        out.add(path, f"number{shown} is not finite (too large for a float)")
        out.settled.add(tuple(path))
    elif isinstance(value, dict):
        for k, v in value.items():
            _number_pass(v, path + (k,), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _number_pass(v, path + (i,), out)


@dataclass
class _RawTerm:
    path: JsonPath  # where the term is (the string or the object)
    name: str  # as written
    params: dict[str, Any] = field(default_factory=dict)
    is_object: bool = False  # written as {"name": ...} (messages then point at its "name")


def _raw_terms(task: dict[str, Any], tpath: JsonPath) -> list[_RawTerm] | None:
    """The task's terms if the ``loss`` field is well-formed (the schema reports it otherwise)."""
    loss = task.get("loss")
    if loss is None and "loss" not in task:
        ttype = task.get("type")
        return [_RawTerm(tpath, DEFAULT_LOSS[ttype])] if isinstance(ttype, str) and ttype in DEFAULT_LOSS else None
    items = loss if isinstance(loss, list) else [loss]
    base = tpath + ("loss",)
    terms: list[_RawTerm] = []
    for i, item in enumerate(items):
        ipath = base + (i,) if isinstance(loss, list) else base
        if isinstance(item, str):
            terms.append(_RawTerm(ipath, item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            terms.append(_RawTerm(ipath, item["name"], {k: v for k, v in item.items() if k != "name"}, True))
        else:
            return None
    return terms or None


def _check_name(name: Any, path: JsonPath, out: _Collector) -> None:
    if not isinstance(name, str):
        return
    # The schema's pattern says the same; checked here too because names become code.
    if not _IDENTIFIER.fullmatch(name):
        out.add(path, f"{_show(name)} {_IDENTIFIER_MESSAGE}")
    elif keyword.iskeyword(name):
        out.add(path, f"{name!r} is a Python keyword; names become Python identifiers")


def _check_task(task: dict[str, Any], tpath: JsonPath, tasks_by_name: dict[str, dict[str, Any]],
                out: _Collector, output: dict[str, Any]) -> None:
    ttype = task.get("type") if isinstance(task.get("type"), str) else None  # junk is the schema's to report
    units = _whole(task.get("units"))
    typed = ttype in LOSSES_BY_TYPE
    if ttype == "binary" and units is not None and units != 1:
        out.add(tpath + ("units",), f"a binary task has exactly 1 unit, got {units} (use type \"multilabel\" "
                                    "for several independent binary channels)")
    if ttype == "categorical" and units is not None and units < 2:
        out.add(tpath + ("units",), f"a categorical task needs units >= 2 (the class count), got {units} "
                                    "(use type \"binary\" for one channel)")
    sparse = ttype == "categorical" and task.get("targets") == "sparse"
    if "targets" in task and typed and ttype != "categorical":
        out.add(tpath + ("targets",), f"\"targets\" is for categorical tasks only (this task is {ttype})")
    if ttype == "regression" and task.get("from_logits") is True:
        out.add(tpath + ("from_logits",), "from_logits applies to crossentropy, focal and dice losses, "
                                          "not to a regression task")

    terms = _raw_terms(task, tpath)
    names: list[str] = []
    for term in terms or []:
        canon = LOSS_ALIASES.get(term.name, term.name)
        names.append(canon)
        if not typed:
            continue
        allowed = LOSSES_BY_TYPE[ttype]
        if canon not in allowed:
            spath = term.path + ("name",) if term.is_object else term.path
            if any(canon in losses for losses in LOSSES_BY_TYPE.values()):
                out.add(spath, f"loss {term.name!r} is not for {ttype} tasks; use one of {', '.join(allowed)}")
            continue  # an unknown name is reported by the schema
        _check_term_params(term, canon, ttype, sparse, units, out)
        if canon == "dice":
            if sparse:
                out.add(term.path, "dice needs dense targets (one channel per class), this task's targets "
                                   "are sparse")
            if "when" in task:
                out.add(tpath + ("when",), "dice cannot be combined with \"when\": dice is one value per "
                                           "example, not a map that a mask can select from")
            if "ignore_value" in task:
                out.add(tpath + ("ignore_value",), "dice cannot be combined with \"ignore_value\": dice is one "
                                                   "value per example, not a map that a mask can select from")

    if "pos_weight" in task and typed:
        if ttype not in ("binary", "multilabel"):
            out.add(tpath + ("pos_weight",), f"pos_weight is for binary and multilabel tasks (this task is {ttype})")
        elif terms is not None and "binary_crossentropy" not in names:
            out.add(tpath + ("pos_weight",), "pos_weight weights binary_crossentropy, which this task's loss "
                                             f"does not use ({', '.join(names)})")

    when = task.get("when")
    if isinstance(when, dict) and isinstance(when.get("task"), str):
        gate = when["task"]
        wpath = tpath + ("when", "task")
        if gate == task.get("name"):
            out.add(wpath, "a task cannot be gated by itself")
        elif gate not in tasks_by_name:
            out.add(wpath, f"no task {gate!r} in this output{_suggest(gate, tasks_by_name)}")
        elif tasks_by_name[gate].get("type") not in ("binary", "categorical"):
            out.add(wpath, f"task {gate!r} is {_show(tasks_by_name[gate].get('type'))}, but \"when\" needs a "
                           "binary task (its y_true is the 0/1 gate) or a categorical one (its class)")
        check_gate(task, tpath, tasks_by_name, out.add)
    if typed:
        check_task_additions(task, tpath, output, names if terms is not None else [], out.add)


def _check_term_params(term: _RawTerm, canon: str, ttype: str, sparse: bool, units: int | None,
                       out: _Collector) -> None:
    p = term.params
    if "delta" in p and canon != "huber":
        out.add(term.path + ("delta",), f"\"delta\" is a parameter of huber, not of {canon}")
    for key in ("alpha", "gamma"):
        if key in p and canon not in FOCAL_LOSSES:
            out.add(term.path + (key,), f"{key!r} is a parameter of the focal losses, not of {canon}")
    if "classes" not in p:
        return
    cpath = term.path + ("classes",)
    if ttype != "categorical":
        out.add(cpath, f"\"classes\" is for categorical tasks only (this task is {ttype})")
        return
    if sparse:
        out.add(cpath, "\"classes\" needs dense targets; this task's targets are sparse")
        return
    classes = p["classes"]
    if not isinstance(classes, list):
        return  # the schema says what is wrong
    seen: set[int] = set()
    for i, raw in enumerate(classes):
        c = _whole(raw)
        if c is None:
            continue  # not a whole number: the schema says so
        if units is not None and not 0 <= c < units and c <= _MAX_CLASS:  # larger: the schema's maximum
            out.add(cpath + (i,), f"class index {_show(c, 24)} is out of range for {units} units (0..{units - 1})")
        if c in seen:
            out.add(cpath + (i,), f"class index {c} is repeated")
        seen.add(c)
    if len(classes) == 1 and canon in _CROSSENTROPIES:
        out.add(cpath, f"{canon} over a single class is always 0 (the class's share of itself is 1); "
                       "list at least 2 classes")


def _check_cycles(tasks: list[tuple[dict[str, Any], JsonPath]], out: _Collector) -> None:
    gate_of: dict[str, str] = {}
    path_of: dict[str, JsonPath] = {}
    for task, tpath in tasks:
        when, name = task.get("when"), task.get("name")
        if isinstance(name, str) and isinstance(when, dict) and isinstance(when.get("task"), str):
            if when["task"] != name:
                gate_of.setdefault(name, when["task"])
                path_of.setdefault(name, tpath + ("when", "task"))
    reported: set[str] = set()
    for start in gate_of:
        chain, node = [start], gate_of[start]
        while node in gate_of and node not in chain:
            chain.append(node)
            node = gate_of[node]
        if node in chain:
            cycle = chain[chain.index(node):]
            key = min(cycle)
            if key not in reported:
                reported.add(key)
                first = min(cycle, key=lambda n: path_of[n])
                i = cycle.index(first)
                ordered = cycle[i:] + cycle[:i] + [first]
                out.add(path_of[first], "\"when\" gates form a cycle: " + " -> ".join(ordered))


def _semantic_pass(doc: Document, out: _Collector, frameworks: Iterable[str] | None,
                   framework: str | None = None) -> None:
    data = doc.value
    if not isinstance(data, dict):
        return
    fw = data.get("framework", "keras")
    if frameworks is not None and isinstance(fw, str):
        known = sorted(set(frameworks))
        if fw not in known:
            out.add(("framework",), f"unknown framework {fw!r}{_suggest(fw, known)}; known: {', '.join(known)}")
    check_framework(data, out.add, framework)
    outputs = data.get("outputs")
    if not isinstance(outputs, list):
        return
    seen_outputs: set[str] = set()
    for oi, output in enumerate(outputs):
        opath: JsonPath = ("outputs", oi)
        if not isinstance(output, dict):
            continue
        oname = output.get("name")
        _check_name(oname, opath + ("name",), out)
        if isinstance(oname, str):
            if oname in seen_outputs:
                out.add(opath + ("name",), f"duplicate output name {oname!r}")
            seen_outputs.add(oname)
        tasks = output.get("tasks")
        if not isinstance(tasks, list):
            continue
        by_name: dict[str, dict[str, Any]] = {}
        listed: list[tuple[dict[str, Any], JsonPath]] = []
        for ti, task in enumerate(tasks):
            if not isinstance(task, dict):
                continue
            tpath = opath + ("tasks", ti)
            listed.append((task, tpath))
            tname = task.get("name")
            _check_name(tname, tpath + ("name",), out)
            if isinstance(tname, str):
                if tname in by_name:
                    out.add(tpath + ("name",), f"duplicate task name {tname!r} in output {_show(oname)}")
                else:
                    by_name[tname] = task
        for task, tpath in listed:
            _check_task(task, tpath, by_name, out, output)
        _check_cycles(listed, out)
        _check_channel_total(oname, listed, out)


def _check_channel_total(oname: Any, tasks: list[tuple[dict[str, Any], JsonPath]], out: _Collector) -> None:
    """Each task's units are bounded by the schema; their sum, the output's channels, is bounded too."""
    total = 0
    for task, tpath in tasks:
        units = _whole(task.get("units"))
        if units is None or not 1 <= units <= MAX_OUTPUT_CHANNELS:
            continue  # the schema reports it
        total += units
        if total > MAX_OUTPUT_CHANNELS:
            out.add(tpath + ("units",), f"output {_show(oname)} would have {total:,} channels with this task; "
                                        f"an output has at most {MAX_OUTPUT_CHANNELS:,}")
            return


# -- building the model -------------------------------------------------------------------
def _num(v: Any) -> float | int:
    return int(v) if _is_int(v) else float(v)


def _build(data: dict[str, Any], source_name: str) -> Layout:
    outputs = []
    for o in data["outputs"]:
        tasks = []
        for t in o["tasks"]:
            raw = _raw_terms(t, ())
            assert raw is not None  # validated
            terms = []
            for r in raw:
                p = r.params
                terms.append(Term(
                    name=LOSS_ALIASES.get(r.name, r.name),
                    weight=float(p.get("weight", 1.0)),
                    classes=tuple(int(c) for c in p["classes"]) if "classes" in p else None,
                    delta=float(p["delta"]) if "delta" in p else None,
                    alpha=float(p["alpha"]) if "alpha" in p else None,
                    gamma=float(p["gamma"]) if "gamma" in p else None,
                ))
            when = t.get("when")
            tasks.append(Task(
                name=t["name"],
                type=t["type"],
                units=int(t["units"]),
                terms=tuple(terms),
                targets=t.get("targets", "dense"),
                from_logits=bool(t.get("from_logits", False)),
                weight=float(t.get("weight", 1.0)),
                pos_weight=float(t["pos_weight"]) if "pos_weight" in t else None,
                when=build_when(when),
                ignore_value=_num(t["ignore_value"]) if "ignore_value" in t else None,
                class_weights=tuple(float(w) for w in t["class_weights"]) if "class_weights" in t else None,
                label_smoothing=float(t.get("label_smoothing", 0.0)),
                pool=t.get("pool"),
                metrics=build_metrics(t),
            ))
        outputs.append(Output(
            name=o["name"],
            tasks=tuple(tasks),
            spatial=tuple(None if s is None else int(s) for s in o.get("spatial", [])),
            channel_axis=int(o.get("channel_axis", -1)),
            weight=float(o.get("weight", 1.0)),
        ))
    return Layout(version=1, framework=data.get("framework", "keras"), outputs=tuple(outputs),
                  weights=data.get("weights", "static"), source_name=source_name)


def check(doc: Document, frameworks: Iterable[str] | None = BUILTIN_FRAMEWORKS,
          framework: str | None = None) -> list[Problem]:
    """Every problem in the document, sorted by line then path (empty when the layout is valid).

    ``frameworks``: the names ``framework`` may take (built-ins plus plugin emitters);
    ``None`` skips that check. ``framework``: the one code is generated for, when it overrides
    the layout's own (``gen --framework``).
    """
    out = _Collector(doc)
    for parent, key, line in doc.duplicate_keys:
        out.problems.add(Problem(line, parent + (key,), f"duplicate key {key!r} (JSON keeps only the last one)"))
    _number_pass(doc.value, (), out)
    _schema_pass(doc, out)
    _semantic_pass(doc, out, frameworks, framework)
    return sorted(out.problems, key=lambda p: (p.line, [str(x) for x in p.path], p.message))


def validate(doc: Document, frameworks: Iterable[str] | None = BUILTIN_FRAMEWORKS,
             framework: str | None = None) -> Layout:
    """The typed layout, or :class:`LayoutError` listing every problem."""
    problems = check(doc, frameworks, framework)
    if problems:
        raise LayoutError(f"{len(problems)} problem(s) in the layout", doc.source_name, tuple(problems))
    return _build(doc.value, doc.source_name)
