"""Masks computed from the prediction, and where they gate a loss.

A *prediction gate* is a 0/1 mask made from ``y_pred`` alone: a comparison (``y_pred > 0.5``),
``round``, ``one_hot(argmax(y_pred))``, class weights picked by the predicted class, or the
distance between the predicted and the true class (``abs(argmax(y_true) - argmax(y_pred))``),
through casts, names, subscripts and ``1 - gate``-style weights, alone or combined with a label
mask.
``PredictionGates.origin`` finds the node that made an expression one; ``gated_uses`` the places
where an expression multiplies, selects or reweights a value that involves ``y_true``. Read by
``mask-from-prediction`` (LCK105). Unlike ``masks.py`` (any 0/1 gate, for ``masked-mean``), a
gate here must come from the prediction, and the rule reports where it came from.
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import get_arg, is_number, is_zero
from losscheck.lint.context import FileContext
from losscheck.lint.api.value_ops import COMPARISONS, KEEPS_VALUES, LOGICAL
from losscheck.lint.dataflow import PRED, TRUE, FunctionFacts
from losscheck.lint.scope_index import values_reaching

_ROUND_OPS = frozenset({"round", "rint"})
_DISTANCES = frozenset({"abs", "absolute", "square"})  # of a class difference: still its distance
_COMBINING = LOGICAL | {"equal", "not_equal"}  # of two masks: `equal(gate, label_mask)` is one too


class PredictionGates:
    """Finds gates (0/1 masks) computed from y_pred alone, and where each came from."""

    def __init__(self, ctx: FileContext, facts: FunctionFacts, *, follow_rebound: bool = False) -> None:
        """``follow_rebound``: read a parameter rebound in the function (``y_pred = round(y_pred)``)
        as what it holds, for code surely used as a loss; a function found by its signature alone
        that hardens its own prediction is a hard metric as often as not (``dice_hard``)."""
        self.ctx = ctx
        self.facts = facts
        self.follow_rebound = follow_rebound
        self._names: dict[str, cst.CSTNode | None] = {}

    def _pred_only(self, expr: cst.BaseExpression) -> bool:
        return self.facts.sources(expr) == frozenset({PRED})

    def _short(self, call: cst.Call) -> str | None:
        found = self.ctx.imports.api(call.func)
        return found.name.rsplit(".", 1)[-1] if found is not None else None

    def origin(self, expr: cst.BaseExpression | None, depth: int = 0) -> cst.CSTNode | None:
        """The node that made ``expr`` a prediction gate (the comparison, round...), else None."""
        if expr is None or depth > 6:
            return None
        if type(expr) is cst.Name:
            if self.facts.is_param(expr.value):
                # the prediction rebound before this use (`y_pred = one_hot(argmax(y_pred))`): the
                # value it holds here, read from the reaching definitions; only when asked
                # (``follow_rebound``)
                if not self.follow_rebound:
                    return None
                reaching = values_reaching(self.ctx, expr)
                if reaching and len(reaching) == 1 and reaching[0][0] is None:
                    return self.origin(reaching[0][1], depth + 1)
                return None
            if expr.value in self._names:
                return self._names[expr.value]
            self._names[expr.value] = None  # cycle guard
            value = self._value(expr.value)
            found = self.origin(value, depth + 1) if value is not None else None
            self._names[expr.value] = found
            return found
        if type(expr) is cst.Comparison:
            operands = [expr.left] + [c.comparator for c in expr.comparisons]
            if any(TRUE in self.facts.sources(o) for o in operands):
                return None
            return expr if any(self._pred_only(o) for o in operands) else None
        if type(expr) is cst.Subscript:
            return self.origin(expr.value, depth + 1)
        if type(expr) is cst.BinaryOperation and type(expr.operator) in (cst.Multiply, cst.BitAnd):
            # a weight times a gate (`w * gate`, `label_mask & gate`) is still gated by the prediction
            return self.origin(expr.left, depth + 1) or self.origin(expr.right, depth + 1)
        if type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Subtract:
            class_distance = self._class_distance(expr.left, expr.right)
            if class_distance is not None:
                return class_distance
        if type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Divide \
                and TRUE not in self.facts.sources(expr.right):
            return self.origin(expr.left, depth + 1)  # scaled (`distance / (n_classes - 1)`)
        if type(expr) is cst.BinaryOperation and type(expr.operator) in (cst.Add, cst.Subtract):
            # `1 - gate`, `1 + 4 * gate`: a weight that the gate switches
            for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
                if not self.facts.derives(other):
                    found = self.origin(side, depth + 1)
                    if found is not None:
                        return found
            return None
        if type(expr) is cst.Call:
            short = self._short(expr)
            args = [a.value for a in expr.args if a.keyword is None]
            if short in _COMBINING and len(args) == 2:
                combined = self._combined(args, depth)
                if combined is not None:
                    return combined
            if short in COMPARISONS:
                if any(TRUE in self.facts.sources(a) for a in args):
                    return None
                return expr if any(self._pred_only(a) for a in args) else None
            if short == "multiply" and len(args) == 2:
                return self.origin(args[0], depth + 1) or self.origin(args[1], depth + 1)
            if short == "subtract" and len(args) == 2:
                return self._class_distance(args[0], args[1])
            if short in _DISTANCES and args:
                return self.origin(args[0], depth + 1)
            if short == "gather" and len(args) == 2:
                # weights picked by the predicted class: `tf.gather(class_w, tf.argmax(y_pred, -1))`
                return self._argmax_call(args[1], PRED)
            if short in _ROUND_OPS:
                return expr if args and self._pred_only(args[0]) else None
            if short in KEEPS_VALUES:
                return self.origin(args[0], depth + 1) if args else None
            if short == "one_hot" and args:
                return expr if self._argmax_call(args[0], PRED) is not None else None
            if short == "where":
                a, b = get_arg(expr, "x", 1), get_arg(expr, "y", 2)
                if is_number(a) and is_number(b):
                    return self.origin(get_arg(expr, "condition", 0), depth + 1)
        return None

    def _value(self, name: str) -> cst.BaseExpression | None:
        """The one value of ``name``, not counting re-assignments that only convert it
        (``gate = K.cast(gate, "float32")``)."""
        value = self.facts.single_value(name)
        if value is not None or self.facts.is_param(name) or name in self.facts.aug_assigns:
            return value
        if name in self.facts.loop_vars or name in self.facts.complex_bound:
            return None
        values = [v for v in self.facts.assigns.get(name, []) if not self._converts(v, name)]
        return values[0] if len(values) == 1 else None

    def _converts(self, value: cst.BaseExpression, name: str) -> bool:
        if type(value) is not cst.Call or self._short(value) not in KEEPS_VALUES or not value.args:
            return False
        first = value.args[0].value
        return type(first) is cst.Name and first.value == name

    def _class_distance(self, left: cst.BaseExpression, right: cst.BaseExpression) -> cst.CSTNode | None:
        """``argmax(y_true) - argmax(y_pred)`` (either way round): how far the predicted class is
        from the true one, a weight only the prediction's argmax moves; its argmax node."""
        for pred, true in ((left, right), (right, left)):
            found = self._argmax_call(pred, PRED)
            if found is not None and self._argmax_call(true, TRUE) is not None:
                return found
        return None

    def _argmax_call(self, expr: cst.BaseExpression, source: str) -> cst.Call | None:
        """The ``argmax`` of ``source`` alone (y_pred or y_true) that ``expr`` is, or that the
        name ``expr`` holds (``pred_cat = argmax(y_pred)``): the node to report."""
        if type(expr) is cst.Name:
            expr = self.facts.single_value(expr.value) or expr
        if type(expr) is cst.Call and self._short(expr) == "argmax":
            first = get_arg(expr, None, 0)
            if first is not None and self.facts.sources(first) == frozenset({source}):
                return expr
        return None

    def _combined(self, args: list[cst.BaseExpression], depth: int) -> cst.CSTNode | None:
        """``equal(gate, label_mask)``, ``logical_and(label_mask, gate)``: two boolean masks, one
        of them from the prediction, combined into one (the label mask alone would be fine)."""
        gates = [self.origin(a, depth + 1) for a in args]
        for gate, other in ((gates[0], args[1]), (gates[1], args[0])):
            if gate is not None and self._is_boolean(other, depth + 1):
                return gate
        return None

    def _is_boolean(self, expr: cst.BaseExpression, depth: int) -> bool:
        """A comparison (through names, casts and subscripts): a mask, whatever it compares."""
        if depth > 6:
            return False
        if type(expr) is cst.Name:
            value = self._value(expr.value)
            return value is not None and self._is_boolean(value, depth + 1)
        if type(expr) is cst.Comparison:
            return True
        if type(expr) is cst.Subscript:
            return self._is_boolean(expr.value, depth + 1)
        if type(expr) is cst.Call:
            short = self._short(expr)
            if short in COMPARISONS or short in LOGICAL:
                return True
            if short in KEEPS_VALUES and expr.args:
                return self._is_boolean(expr.args[0].value, depth + 1)
        return False


def gated_uses(ctx: FileContext, facts: FunctionFacts, node: cst.CSTNode) -> list[tuple[cst.BaseExpression, str]]:
    """(gate candidate, "multiplies"/"selects") pairs where ``node`` gates a loss-like value.

    The gated value must involve ``y_true``: `tf.where(logits >= 0, logits, 0)` transforms the
    prediction itself (a ReLU), it does not mask a loss."""

    def lossy(expr: cst.BaseExpression) -> bool:
        return TRUE in facts.sources(expr)

    if type(node) is cst.BinaryOperation and type(node.operator) is cst.Multiply:
        pairs = [(node.left, node.right), (node.right, node.left)]
        return [(g, "multiplies") for g, other in pairs if lossy(other)]
    if type(node) is cst.AugAssign and type(node.operator) is cst.MultiplyAssign:
        return [(node.value, "multiplies")] if lossy(node.target) else []  # `loss *= gate`
    if type(node) is not cst.Call:
        return []
    found = ctx.imports.api(node.func)
    if found is None:
        return []
    short = found.name.rsplit(".", 1)[-1]
    if short == "multiply" and len(node.args) >= 2:
        a, b = node.args[0].value, node.args[1].value
        return [(g, "multiplies") for g, other in ((a, b), (b, a)) if lossy(other)]
    if short == "where":
        cond, x, y = get_arg(node, "condition", 0), get_arg(node, "x", 1), get_arg(node, "y", 2)
        if cond is not None and x is not None and y is not None:
            if (_is_zeros(ctx, y) and lossy(x)) or (_is_zeros(ctx, x) and lossy(y)):
                return [(cond, "selects")]
            if (lossy(x) or lossy(y)) and (_scaled(ctx, x, y) or _scaled(ctx, y, x)):
                return [(cond, "reweights")]  # `where(gate, loss * w, loss)`
    if short == "boolean_mask":
        mask = get_arg(node, "mask", 1)
        tensor = get_arg(node, "tensor", 0)
        if mask is not None and tensor is not None and lossy(tensor):
            return [(mask, "selects")]
    return []


def _scaled(ctx: FileContext, expr: cst.BaseExpression, base: cst.BaseExpression) -> bool:
    """Is ``expr`` ``base * w`` (or ``w * base``), the same code on one side?"""
    text = ctx.code_for(base).strip()
    if type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Multiply:
        return text in (ctx.code_for(expr.left).strip(), ctx.code_for(expr.right).strip())
    return False


def _is_zeros(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    if is_zero(expr):
        return True
    if type(expr) is cst.Call:
        found = ctx.imports.api(expr.func)
        return found is not None and found.name.rsplit(".", 1)[-1] in {"zeros_like"}
    return False
