"""Reductions and the batch axis (whether a loss returns one value per example is
``return_verdicts.py``'s, which builds on this).

The single place that decides whether a reduction's axis is the batch axis is
:func:`reduces_batch`. Shape inference can refine it by appending a callable to
:data:`BATCH_AXIS_HOOKS`: ``hook(ctx, fn, operand, axes) -> bool | None`` (None: no opinion),
e.g. to say that axis 0 after ``tf.stack`` is not the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import libcst as cst

from losscheck.lint.astutil import get_arg, is_none, literal_ints
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts
from losscheck.lint.imports import Api

# family -> op names that reduce; every one takes (x, axis=None, keepdims=False) or close enough.
_REDUCE_NAMES: dict[str, frozenset[str]] = {
    "tensorflow": frozenset(
        {"reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp",
         "reduce_std", "reduce_variance", "reduce_euclidean_norm"}
    ),
    "keras.ops": frozenset({"mean", "sum", "max", "min", "prod", "amax", "amin", "std", "var", "logsumexp"}),
    "keras.backend": frozenset({"mean", "sum", "max", "min", "prod", "std", "var", "logsumexp"}),
    "tf.keras.backend": frozenset({"mean", "sum", "max", "min", "prod", "std", "var", "logsumexp"}),
    "numpy": frozenset(
        {"mean", "sum", "max", "min", "prod", "amax", "amin", "average", "nanmean", "nansum", "std", "var",
         "nanmax", "nanmin"}
    ),
}
# Keras 3 `keras.losses.dice(y_true, y_pred, axis=None)` reduces everything unless given an axis.
_AXIS_NONE_LOSSES = {("keras.losses", "dice"): 2}

MEAN_NAMES = frozenset({"reduce_mean", "mean", "nanmean", "average"})
SUM_NAMES = frozenset({"reduce_sum", "sum", "nansum"})

BatchHook = Callable[[FileContext, LossFunction, cst.BaseExpression, "tuple[int, ...] | None"], "bool | None"]


def _shape_inference_hook(
    ctx: FileContext, fn: LossFunction, operand: cst.BaseExpression, axes: "tuple[int, ...] | None"
) -> "bool | None":
    # inferred shapes (losscheck.shapes) say where the batch axis is, e.g. not axis 0 after tf.stack.
    from losscheck.shapes.hooks import batch_axis_verdict

    return batch_axis_verdict(ctx, fn, operand, axes)


BATCH_AXIS_HOOKS: list[BatchHook] = [_shape_inference_hook]


@dataclass(frozen=True)
class Reduction:
    """A reducing call (``reduce_mean``, ``ops.sum``...) with its operand and axis."""

    call: cst.Call
    api: Api
    operand: cst.BaseExpression
    axis: cst.BaseExpression | None  # None: not given (reduces every axis)

    @property
    def op(self) -> str:
        return self.api.name

    @property
    def is_mean(self) -> bool:
        return self.api.name in MEAN_NAMES

    @property
    def is_sum(self) -> bool:
        return self.api.name in SUM_NAMES

    def axes(self) -> tuple[int, ...] | None:
        """Literal axes; ``()`` for "every axis" (no axis / axis=None); None when not literal."""
        if self.axis is None or is_none(self.axis):
            return ()
        return literal_ints(self.axis)


def as_reduction(ctx: FileContext, call: cst.Call) -> Reduction | None:
    found = ctx.imports.api(call.func)
    if found is None:
        return None
    axis_pos = 1
    if found.name not in _REDUCE_NAMES.get(found.family, ()):
        if (found.family, found.name) not in _AXIS_NONE_LOSSES:
            return None
        axis_pos = _AXIS_NONE_LOSSES[(found.family, found.name)]
    kw_operand = "input_tensor" if found.family == "tensorflow" else ("a" if found.family == "numpy" else "x")
    operand = get_arg(call, kw_operand, 0) or get_arg(call, "x") or get_arg(call, "y_pred", 1)
    if operand is None:
        return None
    if any(arg.star for arg in call.args):
        return None
    axis = get_arg(call, "axis", axis_pos)
    if axis is None and found.family == "tensorflow":
        axis = get_arg(call, "reduction_indices")
    return Reduction(call, found, operand, axis)


def reduces_batch(ctx: FileContext, fn: LossFunction, reduction: Reduction, hooks: bool = True) -> bool | None:
    """True: the reduction includes axis 0 of a batch-first tensor; False: it does not; None: unknown.

    ``hooks=False`` skips shape inference (helpers: see ``summaries.py``)."""
    axes = reduction.axes()
    for hook in BATCH_AXIS_HOOKS if hooks else ():
        verdict = hook(ctx, fn, reduction.operand, axes)
        if verdict is not None:
            return verdict
    if axes is None:
        return None  # axis is a variable: cannot tell
    if axes == ():
        return True  # every axis, the batch included
    if 0 in axes:
        return True
    return False  # negative axes could be the batch on a rank-1 tensor: stay quiet (precision)


# -- is axis 0 of this expression the batch? ---------------------------------------------------

# ops whose result keeps the batch on axis 0 when their (first) tensor argument has it there
_BATCH_PRESERVING = frozenset(
    {"cast", "convert_to_tensor", "identity", "stop_gradient", "clip_by_value", "clip", "abs", "square", "sqrt",
     "rsqrt", "exp", "log", "log1p", "sigmoid", "tanh", "relu", "softplus", "maximum", "minimum", "multiply",
     "add", "subtract", "divide", "truediv", "divide_no_nan", "pow", "power", "negative", "round", "floor",
     "ceil", "sign", "one_hot", "to_float", "to_int32", "to_int64", "cast_to_floatx", "ensure_shape",
     "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "log_softmax",
     "softmax", "l2_normalize", "normalize", "equal", "not_equal", "greater", "greater_equal", "less",
     "less_equal", "logical_and", "logical_or", "logical_not", "where", "square_difference", "squared_difference"}
)


def axis0_is_batch(
    ctx: FileContext,
    facts: FunctionFacts,
    expr: cst.BaseExpression,
    depth: int = 0,
    _visiting: set[str] | None = None,
) -> bool:
    """True only when we are sure axis 0 of ``expr`` is the batch axis of y_true/y_pred.

    Shape-inference hooks (``BATCH_AXIS_HOOKS`` with ``axes=(0,)``) get the first word; then a
    syntactic check: the parameters themselves, names always assigned such values, element-wise
    and dtype ops on them, and subscripts that keep the first axis (``y[:, 0]``, ``y[..., 1:]``).
    ``tf.stack``, ``transpose``, ``unstack``, ``reshape``, ``boolean_mask``... are not followed: after
    them axis 0 may be something else.
    """
    for hook in BATCH_AXIS_HOOKS:
        verdict = hook(ctx, facts.fn, expr, (0,))
        if verdict is not None:
            return verdict
    if depth > 8:
        return False
    if _visiting is None:
        _visiting = set()
    if type(expr) is cst.Name:
        name = expr.value
        if name in _visiting:
            # `y_true = tf.cast(y_true, ...)`: the parameter's incoming value is batch-first
            return facts.is_param(name)
        if name in facts.aug_assigns or name in facts.loop_vars or name in facts.complex_bound:
            return False
        values = facts.assigns.get(name, [])
        if not values:
            return facts.is_param(name)
        _visiting.add(name)
        try:
            return all(axis0_is_batch(ctx, facts, v, depth + 1, _visiting) for v in values)
        finally:
            _visiting.discard(name)
    if type(expr) is cst.BinaryOperation:
        sides = [s for s in (expr.left, expr.right) if facts.derives(s)]
        return bool(sides) and all(axis0_is_batch(ctx, facts, s, depth + 1, _visiting) for s in sides)
    if type(expr) is cst.UnaryOperation:
        return axis0_is_batch(ctx, facts, expr.expression, depth + 1, _visiting)
    if type(expr) is cst.Subscript:
        if not expr.slice:
            return False
        first = expr.slice[0].slice
        keeps = (
            type(first) is cst.Slice and first.lower is None and first.upper is None and first.step is None
        ) or (type(first) is cst.Index and type(first.value) is cst.Ellipsis and len(expr.slice) > 1)
        return keeps and axis0_is_batch(ctx, facts, expr.value, depth + 1, _visiting)
    if type(expr) is cst.Call:
        found = ctx.imports.api(expr.func)
        if found is None or found.name.rsplit(".", 1)[-1] not in _BATCH_PRESERVING:
            return False
        tensor_args = [a.value for a in expr.args if a.keyword is None and facts.derives(a.value)]
        if found.name.rsplit(".", 1)[-1] in {"softmax", "log_softmax"}:
            axis = literal_ints(get_arg(expr, "axis", 1))
            if axis is not None and 0 in axis:
                return False
        return bool(tensor_args) and all(axis0_is_batch(ctx, facts, a, depth + 1, _visiting) for a in tensor_args)
    return False
