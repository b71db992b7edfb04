"""Which expressions of a loss function are masks: 0/1 gates over positions.

A mask is a comparison (``y_true > 0``), a cast or reshape of one, ``where(cond, 1, 0)``, a name
that says "mask" or is bound to one, a slice of one, or an indicator channel packed beside the
target (``y_true[..., 1]`` multiplying an error made from ``y_true[..., 0]``). Read by
``masked-mean`` (LCK104).
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.api.value_ops import (
    BOOLEAN_TESTS,
    COMPARISONS,
    KEEPS_VALUES,
    LOGICAL,
)
from losscheck.lint.astutil import (
    get_arg,
    is_number,
    is_zero,
    literal_int,
    read_names,
    walk,
)
from losscheck.lint.context import FileContext
from losscheck.lint.dataflow import TRUE, FunctionFacts
from losscheck.lint.scope_index import values_reaching

_MASK_OPS = COMPARISONS | LOGICAL | BOOLEAN_TESTS  # what makes a mask


class MaskFacts:
    """Which expressions of one function are masks (0/1 gates over positions)."""

    def __init__(self, ctx: FileContext, facts: FunctionFacts) -> None:
        self.ctx = ctx
        self.facts = facts
        self._names: dict[str, bool] = {}

    def is_mask(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 6:
            return False
        if type(expr) is cst.Name:
            return self._name_is_mask(expr.value, depth)
        if type(expr) is cst.Comparison:
            return True
        if type(expr) is cst.Subscript:  # a slice of a mask is a mask
            return self.is_mask(expr.value, depth + 1)
        if type(expr) is cst.Call:
            found = self.ctx.imports.api(expr.func)
            if found is None:
                return False
            short = found.name.rsplit(".", 1)[-1]
            if short in _MASK_OPS:
                return True
            if short in KEEPS_VALUES:
                first = get_arg(expr, None, 0) or get_arg(expr, "x")
                return first is not None and self.is_mask(first, depth + 1)
            if short == "where":
                # where(cond, 1.0, 0.0): a 0/1 mask
                a, b = get_arg(expr, "x", 1), get_arg(expr, "y", 2)
                return is_number(a) and is_number(b) and (is_zero(a) or is_zero(b))
        return False

    def _name_is_mask(self, name: str, depth: int) -> bool:
        if name in self._names:
            return self._names[name]
        self._names[name] = False  # cycle guard
        result = "mask" in name.lower()
        if not result:
            value = self.facts.single_value(name)
            result = value is not None and self.is_mask(value, depth + 1)
        self._names[name] = result
        return result

    def mask_in_product(
        self, expr: cst.BaseExpression, depth: int = 0, follow: bool = False
    ) -> cst.BaseExpression | None:
        """The mask factor of ``x * mask`` (nested products and ``tf.multiply`` too), else None.

        ``follow``: a name stands for the definitions that reach it (``loss = f(...)`` then
        ``loss *= mask`` is a masked value: ``scope_index.values_reaching``)."""
        if depth > 4:
            return None
        if type(expr) is cst.Name:
            value = self.facts.single_value(expr.value)
            if value is not None:
                return self.mask_in_product(value, depth + 1, True)
            reaching = values_reaching(self.ctx, expr) if follow else None
            for operator, value in reversed(reaching or ()):
                if operator == "MultiplyAssign":
                    if self.is_mask(value):
                        return value
                elif operator is None:
                    return self.mask_in_product(value, depth + 1, True)
                elif operator not in ("AddAssign", "SubtractAssign"):
                    return None  # `loss /= count` and the like: no longer the masked value
            return None
        factors: list[cst.BaseExpression] = []
        if type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Multiply:
            factors = [expr.left, expr.right]
        elif type(expr) is cst.Call:
            found = self.ctx.imports.api(expr.func)
            if found is not None and found.name.rsplit(".", 1)[-1] == "multiply":
                factors = [a.value for a in expr.args[:2]]
        for factor in factors:
            if self.is_mask(factor):
                return factor
        if len(factors) == 2:
            for factor, other in (factors, factors[::-1]):
                if self._indicator_channel(factor, other):
                    return factor
        for factor in factors:
            inner = self.mask_in_product(factor, depth + 1, follow) if type(factor) is not cst.Name else None
            if inner is not None:
                return inner
        return None

    def _indicator_channel(self, factor: cst.BaseExpression, other: cst.BaseExpression) -> bool:
        """``y_true[..., 1]`` (or ``1 - y_true[..., 1]``) multiplying an error made from another
        channel of ``y_true`` (``y_true[..., 0]``): a 0/1 indicator packed beside the target, used
        as a gate. Not ``(1 - y_true) * log(1 - y_pred)``: that factor is no other channel's gate."""
        while type(factor) is cst.BinaryOperation and type(factor.operator) is cst.Subtract \
                and is_number(factor.left):
            factor = factor.right
        channel = self._true_channel(factor)
        if channel is None:
            return False
        parts: list[cst.CSTNode] = [other]
        for name in read_names(other):  # `err * gate` with `err = square(y_true[..., 0] - ...)`
            value = self.facts.single_value(name.value)
            if value is not None:
                parts.append(value)
        others = {self._true_channel(n) for part in parts for n in walk(part) if type(n) is cst.Subscript}
        others.discard(None)
        return bool(others) and channel not in others

    def _true_channel(self, expr: cst.CSTNode) -> tuple[int, int] | None:
        """(position, index) of ``y_true[..., k]`` / ``y_true[:, :, k]``: a literal index on the
        last subscript position of the ``y_true`` parameter itself."""
        if not (type(expr) is cst.Subscript and type(expr.value) is cst.Name):
            return None
        if self.facts.params.get(expr.value.value) != TRUE or len(expr.slice) < 2:
            return None
        last = expr.slice[-1].slice
        if type(last) is not cst.Index:
            return None
        index = literal_int(last.value)
        return None if index is None else (len(expr.slice), index)

    def mask_names(self, mask: cst.BaseExpression) -> set[str]:
        return {n.value for n in read_names(mask)}
