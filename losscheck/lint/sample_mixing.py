"""Operations that mix the examples of a batch where one example's values were meant.

Read by ``wrong-axis`` (LCK102) beside its axis table. Each finder yields ``(node, message)``.

- ``y_pred[:3]``, ``y_true[3:]``: a slice of the first axis, the batch, where columns were meant;
- ``tf.reduce_max(margin - y_pred, 0)``: a maximum over the batch where the element-wise hinge
  ``tf.maximum(margin - y_pred, 0)`` was meant (the ``0`` is read as the axis);
- ``K.argmax(K.flatten(y_true))``: an argmax (or softmax) over a tensor flattened across the batch.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from losscheck.lint.astutil import get_arg, literal_int
from losscheck.lint.context import FileContext
from losscheck.lint.dataflow import FunctionFacts
from losscheck.lint.reductions import axis0_is_batch
from losscheck.lint.shape_structure import is_flattened

_MAX_REDUCTIONS = frozenset({
    "tensorflow.reduce_max", "tensorflow.math.reduce_max", "keras.backend.max", "tensorflow.keras.backend.max",
    "keras.ops.max", "tensorflow.reduce_min", "tensorflow.math.reduce_min", "keras.backend.min",
    "tensorflow.keras.backend.min", "keras.ops.min",
})
_PICKS = frozenset({
    "tensorflow.argmax", "tensorflow.math.argmax", "keras.backend.argmax", "tensorflow.keras.backend.argmax",
    "keras.ops.argmax", "tensorflow.argmin", "tensorflow.math.argmin", "keras.backend.argmin",
    "tensorflow.keras.backend.argmin", "keras.ops.argmin", "tensorflow.nn.softmax", "keras.backend.softmax",
    "tensorflow.keras.backend.softmax", "keras.ops.softmax", "keras.activations.softmax",
})

Problem = tuple[cst.CSTNode, str]


def batch_slices(ctx: FileContext, facts: FunctionFacts, node: cst.Subscript) -> Iterator[Problem]:
    """``y_pred[:3]`` / ``y_true[3:]`` on a parameter whose first axis is the batch."""
    if not (type(node.value) is cst.Name and facts.is_param(node.value.value) and node.slice):
        return
    first = node.slice[0].slice
    if type(first) is not cst.Slice or first.step is not None:
        return
    bounds = [b for b in (first.lower, first.upper) if b is not None]
    if not bounds or any(literal_int(b) is None for b in bounds):
        return
    if not axis0_is_batch(ctx, facts, node.value):
        return
    var = node.value.value
    written = ctx.code_for(node)
    part = ctx.code_for(first)
    yield node, (
        f"`{written}` slices the first axis of `{var}`, which is the batch: it selects examples `{part}`, "
        f"not channels or columns. For columns write `{var}[:, {part}]` (or `{var}[..., {part}]` for the last "
        "axis)."
    )


def hinge_over_batch(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[Problem]:
    """``reduce_max(margin - y_pred, 0)``: the axis 0 where ``maximum(x, 0)`` was meant."""
    qualname = ctx.imports.qualname(call.func)
    if qualname not in _MAX_REDUCTIONS:
        return
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) != 2 or literal_int(positional[1].value) != 0:
        return
    operand = positional[0].value
    if not (type(operand) is cst.BinaryOperation and type(operand.operator) in (cst.Subtract, cst.Add)):
        return
    sides = (operand.left, operand.right)
    if sum(facts.derives(side) for side in sides) != 1:
        return  # a margin and a tensor: one side from y_true/y_pred, the other a constant
    callee = ctx.code_for(call.func)
    maximum = "tf.maximum" if qualname.startswith("tensorflow.") else (
        "K.maximum" if "backend" in qualname else "keras.ops.maximum")
    yield call, (
        f"`{callee}({ctx.code_for(operand)}, 0)` takes the maximum over axis 0, the batch, not the element-wise "
        f"hinge `{maximum}({ctx.code_for(operand)}, 0)`: every example then gets the batch's largest margin "
        "term. Use the element-wise maximum."
    )


def picks_over_flattened_batch(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[Problem]:
    """``argmax``/``softmax`` of a tensor flattened across the batch (``K.flatten(y_true)``)."""
    qualname = ctx.imports.qualname(call.func)
    if qualname not in _PICKS:
        return
    operand = get_arg(call, "x", 0) or get_arg(call, "input", 0) or get_arg(call, "logits", 0)
    if operand is None or not facts.derives(operand) or not is_flattened(ctx, facts, operand):
        return
    callee = ctx.code_for(call.func)
    yield call, (
        f"`{callee}({ctx.code_for(operand)})` works on a tensor flattened across the whole batch: it picks (or "
        "normalizes over) every position of every example at once, not one class per example. Keep the batch "
        "axis (flatten the other axes only, e.g. `tf.reshape(x, [tf.shape(x)[0], -1])`) and use `axis=-1`."
    )
