"""Axis-taking ops applied over the batch axis: ``softmax``, ``argmax``, ``one_hot``, ``concat``
and ``gather`` with ``axis=0``, or without an axis where the op's default is axis 0 or flattens the
tensor (``tf.argmax(y_pred)``, ``tf.gather(y_pred, [0, 2])``), on a value derived from ``y_true``
or ``y_pred`` whose axis 0 is the batch.

Read by ``wrong-axis`` (LCK102) beside ``sample_mixing.py``; how each op takes its axis is data
(``api/axes.py``), this module decides which calls of a loss use it on the batch. Each finding is
``(call, message)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losscheck.lint.api.axes import AXIS_OPS, AxisOp, axis_message
from losscheck.lint.astutil import get_arg, literal_ints
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts, function_facts
from losscheck.lint.reductions import axis0_is_batch


def batch_axis_ops(ctx: FileContext, fn: LossFunction, facts: FunctionFacts) -> Iterator[tuple[cst.Call, str]]:
    """(the call, the message) for each axis-taking op of ``fn`` that works over axis 0, the batch,
    of a value derived from `y_true`/`y_pred`."""
    for node in function_facts(ctx, fn).nodes:
        if type(node) is not cst.Call:
            continue
        found = ctx.imports.api(node.func)
        if found is None:
            continue
        spec = AXIS_OPS.get((found.family, found.name.rsplit(".", 1)[-1]))
        if spec is None or any(a.star for a in node.args):
            continue
        axis_expr = get_arg(node, "axis", spec.position)
        if spec.kind == "gather" and axis_expr is None:
            axis_expr = get_arg(node, "batch_dims")  # batch_dims implies a leading batch: leave alone
            if axis_expr is not None:
                continue
        if axis_expr is None:
            if spec.default == "ok":
                continue
            on_batch, default = True, spec.default
        else:
            axes = literal_ints(axis_expr)
            if axes is None or 0 not in axes:
                continue
            on_batch, default = True, None
        callee = ctx.code_for(node.func)
        operand = _operand(node, spec)
        if operand is None or not facts.derives(operand):
            continue
        if spec.kind == "concat":
            if not _concat_of_channel_slices(ctx, facts, operand):
                continue
        elif spec.kind == "gather":
            indices = get_arg(node, "indices", 1)
            if literal_ints(indices) is None or not axis0_is_batch(ctx, facts, operand):
                continue
        elif spec.kind == "one_hot":
            if not axis0_is_batch(ctx, facts, operand):
                continue
        elif not axis0_is_batch(ctx, facts, operand):
            continue
        if on_batch:
            yield node, axis_message(spec.kind, callee, default, ctx.code_for(operand))


def _operand(call: cst.Call, spec: AxisOp) -> cst.BaseExpression | None:
    keywords = {"softmax": ("logits", "x"), "argmax": ("input", "x", "a"), "one_hot": ("indices", "x"),
                "concat": ("values", "xs", "tensors"), "gather": ("params", "x"),
                "split": ("value", "x"), "unstack": ("value", "x")}[spec.kind]
    for kw in keywords:
        value = get_arg(call, kw)
        if value is not None:
            return value
    return get_arg(call, None, 0)


def _concat_of_channel_slices(ctx: FileContext, facts: FunctionFacts, values: cst.BaseExpression) -> bool:
    """`tf.concat([y_pred[:, 0:1], y_pred[:, 2:3]], axis=0)`: channel slices stacked over samples."""
    if type(values) not in (cst.List, cst.Tuple) or not values.elements:
        return False
    for element in values.elements:
        value = element.value
        if not (
            type(value) is cst.Subscript
            and len(value.slice) >= 2
            and axis0_is_batch(ctx, facts, value)
        ):
            return False
    return True
