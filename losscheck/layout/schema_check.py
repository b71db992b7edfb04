"""The layout's JSON Schema (shipped as package data) and the schema pass of validation: every
schema error, worded for a person and placed at its JSON path (``validate.py`` runs it first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from losscheck.layout.load import Document, JsonPath
from losscheck.layout.problems import (
    _IDENTIFIER_MESSAGE,
    _TYPE_NAMES,
    _Collector,
    _integer_hint,
    _is_int,
    _is_num,
    _json_type,
    _show,
    _suggest,
)


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
