"""Validate a parsed layout: the JSON Schema, then every semantic rule of layout-v1.

All problems are collected and reported at once (a user fixing a layout should not
have to re-run once per typo), each as ``FILE:LINE: $.json.path: message``.
The semantic pass walks the raw JSON defensively: it only looks at parts whose
shape the schema accepted, so malformed input yields messages, never a traceback.
Only when there is no problem at all is the typed :class:`~losscheck.layout.model.Layout` built.
"""

from __future__ import annotations

import difflib
import json
import keyword
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from losscheck.errors import UserError
from losscheck.layout.additions import (
    build_metrics,
    build_when,
    check_framework,
    check_gate,
    check_task_additions,
)
from losscheck.layout.load import Document, JsonPath, format_path
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
# Whole-string match (never `$`, which also matches before a final newline).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER_MESSAGE = "is not an ASCII Python identifier (letters, digits and _, not starting with a digit)"
# An output's channels in all (its tasks' units summed): the same bound as one task's units.
MAX_OUTPUT_CHANNELS = 1_000_000
_MAX_CLASS = MAX_OUTPUT_CHANNELS - 1
_CROSSENTROPIES = ("binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
                   "categorical_focal_crossentropy")


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    path: JsonPath
    message: str

    def format(self, source_name: str) -> str:
        return f"{source_name}:{self.line}: {format_path(self.path)}: {self.message}"


@dataclass
class LayoutError(UserError):
    """One or more problems in a layout file; ``str()`` gives one line per problem."""

    problems: tuple[Problem, ...] = ()

    def lines(self) -> list[str]:
        return [p.format(self.where or "<layout>") for p in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The layout's JSON Schema (draft 2020-12), shipped as package data."""
    text = resources.files("losscheck.layout").joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def schema_text() -> str:
    return resources.files("losscheck.layout").joinpath("schema.json").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # ~85 ms: only paid by gen/validation

    # JSON Schema counts 3.0 as an integer; a layout must write whole numbers as such
    # (units, classes, spatial sizes...), so that what is checked is what is generated.
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, v: _is_int(v))
    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return strict(schema())


# -- helpers ------------------------------------------------------------------------------
def _show(value: Any, limit: int = 60) -> str:
    """A value as JSON text, shortened: messages must stay one readable line."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggest(word: Any, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_EXACT_FLOAT_INTS = 2.0**53  # past this a float is not a count anyone wrote


def _whole(v: Any) -> int | None:
    """``v`` as an int when it is a whole number, written ``3`` or ``3.0`` (else None).

    The schema rejects ``3.0`` where an integer is needed; the semantic checks still read
    it as 3, so that a layout's every problem is reported in one run.
    """
    if _is_int(v):
        return v
    if isinstance(v, float) and abs(v) <= _EXACT_FLOAT_INTS and v.is_integer():
        return int(v)
    return None


def _integer_hint(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return " (write whole numbers without a decimal point or an exponent)"
    return ""


_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


class _Collector:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: set[Problem] = set()
        # paths already reported in full (a number too large): further messages there are noise
        self.settled: set[JsonPath] = set()

    def add(self, path: JsonPath, message: str) -> None:
        if tuple(path) in self.settled:
            return
        self.problems.add(Problem(self.doc.line_of(path), tuple(path), message))


# -- schema pass --------------------------------------------------------------------------
def _leaf_errors(error: Any) -> Iterator[Any]:
    """Replace an anyOf failure by the errors of the branch the user evidently meant.

    jsonschema's ``best_match`` guesses poorly here (for a list of terms it blames the
    string branch). The branch meant is the one whose errors are not about the value's
    own type (it has the right shape) and that got furthest into the value.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    own = len(error.absolute_path)

    def score(errs: list[Any]) -> tuple[int, int]:
        shape_ok = not any(e.validator in ("type", "enum", "const") and len(e.absolute_path) == own for e in errs)
        return (int(shape_ok), max(len(e.absolute_path) for e in errs))

    best = max(sorted(branches), key=lambda b: score(branches[b]))
    if score(branches[best])[0] == 0:
        # No branch has the right shape: say what shapes are accepted.
        kinds = []
        for e in error.context:
            if e.validator == "type":
                kinds += e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
            elif e.validator == "enum" and len(e.absolute_path) == own:
                kinds.append("enum")
        if "enum" in kinds and isinstance(error.instance, str):
            enum_err = next(e for e in error.context if e.validator == "enum")
            yield enum_err
            return
        error.message_override = "expected " + " or ".join(
            dict.fromkeys("a known name" if k == "enum" else _TYPE_NAMES.get(k, k) for k in kinds)
        ) + f", got {_json_type(error.instance)} {_show(error.instance)}"
        if "integer" in kinds:
            error.message_override += _integer_hint(error.instance)
        yield error
        return
    for sub in branches[best]:
        yield from _leaf_errors(sub)


def _schema_message(err: Any) -> list[tuple[JsonPath, str]]:
    path: JsonPath = tuple(err.absolute_path)
    kind, inst, arg = err.validator, err.instance, err.validator_value
    if kind == "additionalProperties" and isinstance(inst, dict):
        allowed = list(err.schema.get("properties", {}))
        extra = sorted(k for k in inst if k not in allowed)
        return [(path + (k,), f"unknown field {k!r}{_suggest(k, allowed)}") for k in extra]
    if kind == "required":
        missing = [k for k in arg if isinstance(inst, dict) and k not in inst]
        return [(path, f"missing required field {k!r}") for k in missing]
    if kind == "type":
        wanted = arg if isinstance(arg, list) else [arg]
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        hint = _integer_hint(inst) if "integer" in wanted else ""
        return [(path, f"expected {names}, got {_json_type(inst)} {_show(inst)}{hint}")]
    override = getattr(err, "message_override", None)
    if override:
        return [(path, override)]
    if kind == "enum" and err.schema is schema()["$defs"]["loss_name"]:
        return [(path, f"unknown loss {_show(inst)}{_suggest(inst, arg)}; the catalogue: {', '.join(arg)}")]
    if kind == "enum":
        options = ", ".join(_show(o) for o in arg)
        return [(path, f"{_show(inst)} is not one of {options}{_suggest(inst, [o for o in arg if isinstance(o, str)])}")]
    if kind == "const":
        return [(path, f"must be {_show(arg)}, got {_show(inst)}")]
    if kind == "pattern":
        return [(path, f"{_show(inst)} {_IDENTIFIER_MESSAGE}")]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return [(path, f"must be {words[kind]} {_show(arg)}, got {_show(inst)}")]
    if kind == "minItems":
        return [(path, "must not be empty" if arg == 1 else f"needs at least {arg} items")]
    if kind == "maxItems":
        return [(path, f"has more than {arg} items")]
    if kind == "maxLength":
        return [(path, f"is longer than {arg} characters")]
    return [(path, err.message)]


_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "default", "examples", "$comment"})


def _json_equal(a: Any, b: Any) -> bool:
    """JSON Schema equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if _is_num(a) and _is_num(b):
        return a == b
    return type(a) is type(b) and a == b


_TYPE_CHECKS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_num,
    "integer": _is_int,  # strict, like the validator (see _validator)
}


def conforms(value: Any, node: dict[str, Any], root: dict[str, Any]) -> bool:
    """Whether ``value`` is valid under ``node`` (this schema's keyword subset), fast.

    jsonschema takes ~0.7 s on a 200-task layout (mostly ``$ref`` resolution) and ~85 ms
    to import; this walk takes milliseconds. It is used only as a yes/no gate: when it
    says no, jsonschema runs and words the errors. An unknown keyword answers "no", so
    a schema change can only make it slower, never let an error through.
    """
    import re

    for key, arg in node.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            target: Any = root
            for part in arg.lstrip("#/").split("/"):
                target = target[part]
            ok = conforms(value, target, root)
        elif key == "type":
            ok = any(_TYPE_CHECKS[t](value) for t in (arg if isinstance(arg, list) else [arg]))
        elif key == "enum":
            ok = any(_json_equal(value, option) for option in arg)
        elif key == "const":
            ok = _json_equal(value, arg)
        elif key == "anyOf":
            ok = any(conforms(value, sub, root) for sub in arg)
        elif key == "oneOf":
            ok = sum(conforms(value, sub, root) for sub in arg) == 1
        elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            ok = not _is_num(value) or {
                "minimum": value >= arg, "maximum": value <= arg,
                "exclusiveMinimum": value > arg, "exclusiveMaximum": value < arg,
            }[key]
        elif key in ("pattern", "maxLength"):
            ok = not isinstance(value, str) or (
                re.search(arg, value) is not None if key == "pattern" else len(value) <= arg)
        elif key in ("minItems", "maxItems", "items"):
            if not isinstance(value, list):
                ok = True
            elif key == "items":
                ok = all(conforms(v, arg, root) for v in value)
            else:
                ok = len(value) >= arg if key == "minItems" else len(value) <= arg
        elif key in ("required", "properties", "additionalProperties"):
            if not isinstance(value, dict):
                ok = True
            elif key == "required":
                ok = all(k in value for k in arg)
            elif key == "properties":
                ok = all(conforms(value[k], sub, root) for k, sub in arg.items() if k in value)
            else:
                ok = arg is not False or all(k in node.get("properties", {}) for k in value)
        else:
            return False  # a keyword this walk does not know: let jsonschema decide
        if not ok:
            return False
    return True


def _schema_pass(doc: Document, out: _Collector) -> None:
    if conforms(doc.value, schema(), schema()):
        return
    for top in _validator().iter_errors(doc.value):
        for err in _leaf_errors(top):
            for path, message in _schema_message(err):
                out.add(path, message)


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
