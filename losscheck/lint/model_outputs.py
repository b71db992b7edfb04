"""What a functional model's outputs are: ``keras.Model(inputs, outputs)`` with one tensor, a list,
or a dict, and for a dict the output names in order.

The names come from the literal (``{"seg": s, "cls": c}``, ``dict(seg=s, cls=c)``), from a dict
filled key by key (``outputs["seg"] = ...``), or from a comprehension over a literal list of
strings (``{t: head(t) for t in TASKS}``), in the order written: ``list-for-dict-outputs``
(LCK502) compares that order with the sorted one Keras pairs a list of losses with. The model
analysis (``model_analyzer.py``) calls this for each construction, with its query for what a name
of the call holds there; reading the outputs needs nothing else from it.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from losscheck.lint.astutil import simple_string_value
from losscheck.lint.model_syntax import dict_keys, literal_elements
from losscheck.lint.model_values import (
    UNKNOWN,
    Binding,
    BuiltDict,
    KerasTensor,
    LiteralValue,
    ModelInfo,
)


def functional_model(call: cst.Call, lookup: Callable[[cst.Name], Binding],
                     is_tensor: Callable[[cst.BaseExpression], bool]) -> ModelInfo:
    """The model ``keras.Model(inputs, outputs)`` builds, with the form of its outputs and, for a
    dict, their names. ``lookup``: what a name of the call is bound to there; ``is_tensor``:
    whether an expression there is a KerasTensor."""
    outputs: cst.BaseExpression | None = None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "outputs":
            outputs = arg.value
    if outputs is None and len(positional) >= 2:
        outputs = positional[1].value
    info = ModelInfo("functional", call, outputs_node=outputs)
    if outputs is None:
        if not call.args:  # keras.Model() with no arguments: a subclass-style model
            info.kind = "subclassed"
        return info
    literal = outputs
    if type(outputs) is cst.Name:
        bound = lookup(outputs)
        if isinstance(bound, LiteralValue):
            literal = bound.node
        elif isinstance(bound, BuiltDict):
            info.outputs_form = "dict"
            info.output_names = bound.names
            return info
        elif isinstance(bound, KerasTensor):
            info.outputs_form = "single"
            return info
    if type(literal) is cst.Dict:
        info.outputs_form = "dict"
        info.output_names = dict_keys(literal)
    elif type(literal) is cst.Call and type(literal.func) is cst.Name and literal.func.value == "dict" \
            and lookup(literal.func) is UNKNOWN and all(a.keyword is not None for a in literal.args):
        info.outputs_form = "dict"
        info.output_names = tuple(a.keyword.value for a in literal.args)  # type: ignore[union-attr]
    elif type(literal) is cst.DictComp:
        info.outputs_form = "dict"
        info.output_names = _comprehension_keys(literal, lookup)
    elif type(literal) in (cst.List, cst.Tuple):
        info.outputs_form = "list"
    elif is_tensor(literal):
        info.outputs_form = "single"
    return info


def _comprehension_keys(comp: cst.DictComp, lookup: Callable[[cst.Name], Binding]) -> tuple[str, ...] | None:
    """``{t: head(t) for t in ["seg", "cls"]}`` (or a name bound to that list): the keys in order."""
    loop = comp.for_in
    if loop.inner_for_in is not None or loop.ifs or loop.asynchronous is not None:
        return None
    if not (type(comp.key) is cst.Name and type(loop.target) is cst.Name):
        return None
    if comp.key.value != loop.target.value:
        return None
    source = loop.iter
    if type(source) is cst.Name:
        bound = lookup(source)
        source = bound.node if isinstance(bound, LiteralValue) else None
    elements = literal_elements(source) if source is not None else None
    if elements is None:
        return None
    names = []
    for element in elements:
        if not (type(element) is cst.SimpleString and isinstance(simple_string_value(element), str)):
            return None
        names.append(simple_string_value(element))
    return tuple(names) if len(set(names)) == len(names) else None
