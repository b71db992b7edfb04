"""Which expressions of a loss function are masks: 0/1 gates over positions.

A mask is a comparison (``y_true > 0``), a cast or reshape of one, ``where(cond, 1, 0)``, a name
that says "mask" or is bound to one, a slice of one, or an indicator channel packed beside the
target (``y_true[..., 1]`` multiplying an error made from ``y_true[..., 0]``). Read by
``masked-mean`` (LCK104).
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import get_arg, is_number, is_zero, literal_int, read_names, walk
from losscheck.lint.context import FileContext
from losscheck.lint.api.value_ops import BOOLEAN_TESTS, COMPARISONS, KEEPS_VALUES, LOGICAL
from losscheck.lint.dataflow import TRUE, FunctionFacts

_MASK_OPS = COMPARISONS | LOGICAL | BOOLEAN_TESTS  # what makes a mask


class MaskFacts:
    """Which expressions of one function are masks (0/1 gates over positions)."""

    def __init__(self, ctx: FileContext, facts: FunctionFacts) -> None:
        self.ctx = ctx
        self.facts = facts
        self._names: dict[str, bool] = {}
        self._defs: dict[str, list[tuple[int, str, cst.BaseExpression]]] | None = None

    def _definitions(self) -> dict[str, list[tuple[int, str, cst.BaseExpression]]]:
        """name -> (position, "=" or the augmented operator, value) in source order."""
        if self._defs is None:
            # positions are the values': in `loss = mean(loss)` the mean reads the definition before
            self._defs = {}
            for node in self.facts.nodes:
                if type(node) is cst.Assign and len(node.targets) == 1 and type(node.targets[0].target) is cst.Name:
                    entry = (self.position(node.value) or 0, "=", node.value)
                    self._defs.setdefault(node.targets[0].target.value, []).append(entry)
                elif type(node) is cst.AugAssign and type(node.target) is cst.Name:
                    entry = (self.position(node.value) or 0, type(node.operator).__name__, node.value)
                    self._defs.setdefault(node.target.value, []).append(entry)
        return self._defs

    def position(self, node: cst.CSTNode) -> int | None:
        positions: dict[int, int] | None = self.__dict__.get("_positions")
        if positions is None:
            positions = self.__dict__["_positions"] = {id(n): i for i, n in enumerate(self.facts.nodes)}
        return positions.get(id(node))

    def _reaching(self, name: str, at: int) -> list[tuple[str, cst.BaseExpression]]:
        """The definitions of ``name`` that the code before position ``at`` leaves in effect, read in
        source order: the last plain assignment and the augmented ones after it (``loss *= mask``)."""
        defs = [d for d in self._definitions().get(name, []) if d[0] < at]
        last_plain = max((i for i, (_pos, op, _v) in enumerate(defs) if op == "="), default=None)
        if last_plain is None:
            return []
        return [(op, value) for _pos, op, value in defs[last_plain:]]

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
        self, expr: cst.BaseExpression, depth: int = 0, at: int | None = None
    ) -> cst.BaseExpression | None:
        """The mask factor of ``x * mask`` (nested products and ``tf.multiply`` too), else None.

        ``at``: the position of the use; a name then stands for the definitions that reach it
        (``loss = f(...)`` then ``loss *= mask`` is a masked value)."""
        if depth > 4:
            return None
        if type(expr) is cst.Name:
            value = self.facts.single_value(expr.value)
            if value is not None:
                return self.mask_in_product(value, depth + 1, self.position(value))
            if at is None or expr.value in self.facts.loop_vars or expr.value in self.facts.complex_bound:
                return None
            for op, value in reversed(self._reaching(expr.value, at)):
                if op == "MultiplyAssign":
                    if self.is_mask(value):
                        return value
                elif op == "=":
                    return self.mask_in_product(value, depth + 1, self.position(value))
                elif op not in ("AddAssign", "SubtractAssign"):
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
            inner = self.mask_in_product(factor, depth + 1, at) if type(factor) is not cst.Name else None
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
