"""Shape-aware answers for the axis rules (``batch-mean-reduction``, ``wrong-axis``).

``losscheck.lint.reductions`` asks every hook in ``BATCH_AXIS_HOOKS`` whether reducing
``operand`` over ``axes`` touches the batch axis before it falls back on syntax. This hook
answers from inferred shapes: True when one of the axes holds the batch ``B``, False when
the shape is known well enough to say none does (axis 0 after ``tf.stack`` is the number of
stacked values; a value that already lost its batch axis has none), None otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from losscheck.shapes.domain import ANY, BATCH, normalize_axis
from losscheck.shapes.values import Tensor

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction


def batch_axis_verdict(
    ctx: FileContext, fn: LossFunction, operand: cst.BaseExpression, axes: tuple[int, ...] | None
) -> bool | None:
    if axes is None:
        return None
    value = ctx.shapes(fn).value_of(operand)
    if not isinstance(value, Tensor):
        return None
    shape = value.shape
    if shape is None:
        # rank unknown: only "is axis 0 the batch?" can be answered, from what axis 0 is
        if axes != (0,) or value.lead is None or value.lead is ANY:
            return None
        return value.lead == BATCH
    if axes == ():
        if BATCH in shape.dims:
            return True
        return False if ANY not in shape.dims else None
    picked = [normalize_axis(a, shape.rank) for a in axes]
    if any(p is None for p in picked):
        return None  # an axis out of range: shape-mismatch reports it
    if any(shape.dims[p] == BATCH for p in picked):  # type: ignore[index]
        return True
    if BATCH in shape.dims or ANY not in [shape.dims[p] for p in picked]:  # type: ignore[index]
        return False
    return None


def batch_axis_note(ctx: FileContext, fn: LossFunction, operand: cst.BaseExpression, axes: tuple[int, ...] | None) -> str:
    """A sentence for messages when the batch sits on an axis other than 0 (``axis=-1`` of a (B,) value)."""
    if not axes or 0 in axes:
        return ""
    shape = ctx.shapes(fn).shape_of(operand)
    if shape is None:
        return ""
    hit = [a for a in axes if normalize_axis(a, shape.rank) is not None and shape.dims[a] == BATCH]
    if not hit:
        return ""
    code = " ".join(ctx.code_for(operand).split())
    return f" Here `{code}` is {shape}, so axis {hit[0]} is its batch axis."


def lost_batch_returns(ctx: FileContext, fn: LossFunction) -> list[tuple[cst.CSTNode, str]]:
    """Returned values computed from y_true/y_pred whose inferred shape has no batch axis left.

    Only when every return is such a value, with a fully known shape (no ``?``) and a declared
    batch on the inputs: then the loss certainly does not return one value per example.
    """
    facts = ctx.shapes(fn)
    if not facts.known or not facts.returns:
        return []
    if not any(BATCH in d.shape.dims for d in facts.declared.values()):
        return []
    from losscheck.lint.dataflow import function_facts

    flow = function_facts(ctx, fn)
    found = []
    for node, value in facts.returns:
        shape = value.shape if isinstance(value, Tensor) else None
        if shape is None or BATCH in shape.dims or ANY in shape.dims or not flow.derives(node):
            return []
        code = " ".join(ctx.code_for(node).split())
        found.append((node, f"`{code[:60]}` has shape {shape}: the batch axis B of the inputs is gone"))
    return found
