"""Keras ``Loss`` objects called inside a loss (``BinaryCrossentropy()(y_true, y_pred)``): they apply
their own reduction, so the loss returns one value for the whole batch."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.facts import fact
from losscheck.lint.astutil import get_arg, is_none, string_value
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts
from losscheck.lint.imports import dotted_name

_LOSS_CLASS_MODULES = ("keras.losses", "tf.keras.losses")
_NOT_LOSS_CLASSES = frozenset({"Loss", "Reduction", "LossFunctionWrapper"})


def _no_reduction(call: cst.Call) -> bool | None:
    """Does a Loss constructor call ask for no reduction? None when it cannot tell."""
    value = get_arg(call, "reduction")
    if value is None:
        return False
    if is_none(value):
        return True
    text = string_value(value)
    if text is not None:
        return text.lower() == "none"
    dotted = dotted_name(value)
    if dotted is not None:
        return dotted.endswith(".NONE")
    return None


def loss_object_constructor(ctx: FileContext, expr: cst.BaseExpression) -> cst.Call | None:
    """``expr`` is ``SomeKerasLoss(...)`` (a Keras Loss class or a Loss subclass in this file)."""
    if type(expr) is not cst.Call:
        return None
    found = ctx.imports.api(expr.func)
    if found is not None:
        if found.family in _LOSS_CLASS_MODULES and found.name[:1].isupper() and found.name not in _NOT_LOSS_CLASSES:
            return expr
        return None
    if type(expr.func) is cst.Name:
        from losscheck.lint.finder import loss_class_names

        if expr.func.value in loss_class_names(ctx):
            return expr
    return None


def _class_attr_values(fn: LossFunction, attr: str) -> list[cst.BaseExpression]:
    """Values assigned to ``self.<attr>`` anywhere in ``fn``'s class."""
    if fn.class_node is None:
        return []
    values: list[cst.BaseExpression] = []
    from losscheck.lint.astutil import walk

    for node in walk(fn.class_node, into_nested=True):
        if type(node) is cst.Assign:
            for target in node.targets:
                t = target.target
                if (
                    type(t) is cst.Attribute
                    and type(t.value) is cst.Name
                    and t.value.value == "self"
                    and t.attr.value == attr
                ):
                    values.append(node.value)
    return values


@fact()
def module_assigns(ctx: FileContext) -> dict[str, list[cst.BaseExpression]]:
    """``name = value`` statements at module level: name -> the values."""
    found: dict[str, list[cst.BaseExpression]] = {}
    for stmt in ctx.module.body:
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                if type(small) is cst.Assign and len(small.targets) == 1:
                    target = small.targets[0].target
                    if type(target) is cst.Name:
                        found.setdefault(target.value, []).append(small.value)
    return found


def _module_values(ctx: FileContext, name: str) -> list[cst.BaseExpression]:
    return module_assigns(ctx).get(name, [])


def reducing_loss_object_call(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> cst.Call | None:
    """If ``call`` calls a Loss object that reduces (the default), the constructor call; else None."""
    func = call.func
    candidates: list[cst.BaseExpression] = []
    if type(func) is cst.Call:
        candidates = [func]
    elif type(func) is cst.Name:
        if facts.is_bound_locally(func.value):
            value = facts.single_value(func.value)
            candidates = [value] if value is not None else []
        elif not facts.is_param(func.value):
            candidates = _module_values(ctx, func.value)
    elif type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        candidates = _class_attr_values(facts.fn, func.attr.value)
    if len(candidates) != 1:
        return None
    ctor = loss_object_constructor(ctx, candidates[0])
    if ctor is None or _no_reduction(ctor) is not False:
        return None
    return ctor
