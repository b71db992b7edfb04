"""LCK105 mask-from-prediction."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import get_arg, is_number, is_zero
from losscheck.lint.context import FileContext
from losscheck.lint.dataflow import PRED, TRUE, FunctionFacts, function_facts
from losscheck.lint.rule import Invalid, Rule, Valid

_COMPARE_OPS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"})
_PASS_OPS = frozenset({"cast", "to_float", "to_int32", "cast_to_floatx", "stop_gradient", "expand_dims", "squeeze",
                       "identity"})
_ROUND_OPS = frozenset({"round", "rint"})


class _Gates:
    """Finds gates (0/1 masks) computed from y_pred alone, and where each came from."""

    def __init__(self, ctx: FileContext, facts: FunctionFacts) -> None:
        self.ctx = ctx
        self.facts = facts
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
        if isinstance(expr, cst.Name):
            if expr.value in self._names:
                return self._names[expr.value]
            self._names[expr.value] = None  # cycle guard
            value = self.facts.single_value(expr.value)
            found = self.origin(value, depth + 1) if value is not None else None
            self._names[expr.value] = found
            return found
        if isinstance(expr, cst.Comparison):
            operands = [expr.left] + [c.comparator for c in expr.comparisons]
            if any(TRUE in self.facts.sources(o) for o in operands):
                return None
            return expr if any(self._pred_only(o) for o in operands) else None
        if isinstance(expr, cst.Subscript):
            return self.origin(expr.value, depth + 1)
        if isinstance(expr, cst.Call):
            short = self._short(expr)
            args = [a.value for a in expr.args if a.keyword is None]
            if short in _COMPARE_OPS:
                if any(TRUE in self.facts.sources(a) for a in args):
                    return None
                return expr if any(self._pred_only(a) for a in args) else None
            if short in _ROUND_OPS:
                return expr if args and self._pred_only(args[0]) else None
            if short in _PASS_OPS:
                return self.origin(args[0], depth + 1) if args else None
            if short == "one_hot" and args:
                inner = args[0]
                if isinstance(inner, cst.Name):
                    inner = self.facts.single_value(inner.value) or inner
                if isinstance(inner, cst.Call) and self._short(inner) == "argmax":
                    first = get_arg(inner, None, 0)
                    return expr if first is not None and self._pred_only(first) else None
            if short == "where":
                a, b = get_arg(expr, "x", 1), get_arg(expr, "y", 2)
                if is_number(a) and is_number(b):
                    return self.origin(get_arg(expr, "condition", 0), depth + 1)
        return None


class MaskFromPrediction(Rule):
    """
    ## What it does
    Checks for a mask or gate computed from `y_pred` (`y_pred > 0.5`, `tf.cast(y_pred > t, ...)`,
    `tf.round(y_pred)`, `tf.one_hot(tf.argmax(y_pred, -1), n)`) that then multiplies or selects the
    loss (`loss * mask`, `tf.where(mask, loss, 0)`, `tf.boolean_mask(loss, mask)`).

    ## Why is this bad?
    Which positions count should come from the labels. A gate computed from the prediction changes
    as the model trains (the loss ignores exactly the positions the model gets wrong), and the
    comparison has no gradient, so nothing teaches the model to move the gated positions. The
    values are silently different from the intended loss.

    ## Example
    ```python
    def fg_loss(y_true, y_pred):
        fg = tf.cast(y_pred > 0.5, tf.float32)
        return tf.reduce_sum(tf.square(y_true - y_pred) * fg, axis=-1)
    ```

    ## Use instead
    ```python
    def fg_loss(y_true, y_pred):
        fg = tf.cast(y_true > 0.5, tf.float32)
        return tf.reduce_sum(tf.square(y_true - y_pred) * fg, axis=-1)
    ```
    """

    code = "LCK105"
    name = "mask-from-prediction"
    summary = "A mask or gate computed from y_pred selects or multiplies the loss"
    severity = "warning"
    losses_only = True

    VALID = [
        Valid(
            """
            import tensorflow as tf

            def fg_loss(y_true, y_pred):
                fg = tf.cast(y_true > 0.5, tf.float32)
                return tf.reduce_sum(tf.square(y_true - y_pred) * fg, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def huber(y_true, y_pred, delta=1.0):
                err = tf.abs(y_true - y_pred)
                # a piecewise loss, not a mask: the condition mixes y_true and y_pred
                return tf.reduce_mean(tf.where(err < delta, 0.5 * err ** 2, delta * (err - 0.5 * delta)), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def stable_bce(y_true, logits):
                # selecting a numerically stable branch by the logit's sign is not a mask
                relu = tf.where(logits >= 0, logits, tf.zeros_like(logits))
                return tf.reduce_mean(relu - logits * y_true + tf.math.log1p(tf.exp(-tf.abs(logits))), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def binary_acc(y_true, y_pred):
                # a metric may threshold the prediction
                return tf.reduce_mean(tf.cast(tf.equal(y_true, tf.round(y_pred)), tf.float32), axis=-1)

            model.compile(loss="bce", metrics=[binary_acc])
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def focal(y_true, y_pred, gamma=2.0):
                p_t = tf.where(tf.equal(y_true, 1.0), y_pred, 1.0 - y_pred)
                return -tf.reduce_sum((1.0 - p_t) ** gamma * tf.math.log(p_t + 1e-7), axis=-1)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            def fg_loss(y_true, y_pred):
                fg = tf.cast(y_pred > 0.5, tf.float32)
                return tf.reduce_sum(tf.square(y_true - y_pred) * fg, axis=-1)
            """,
            message="`y_pred > 0.5` is computed from the prediction",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            def confident_ce(y_true, y_pred):
                ce = tf.keras.losses.categorical_crossentropy(y_true, y_pred)
                confident = tf.reduce_max(y_pred, axis=-1) > 0.9
                return tf.where(confident, ce, 0.0)
            """,
            message="selects",
        ),
        Invalid(
            """
            from keras import ops

            def rounded(y_true, y_pred):
                hard = ops.round(y_pred)
                return ops.mean(ops.abs(y_true - y_pred) * hard, axis=-1)
            """,
            message="`ops.round(y_pred)`",
        ),
        Invalid(
            """
            import tensorflow as tf

            def winner_only(y_true, y_pred):
                winner = tf.one_hot(tf.argmax(y_pred, axis=-1), 10)
                sq = tf.square(y_true - y_pred)
                return tf.reduce_sum(sq * winner, axis=-1)
            """,
            message="computed from the prediction",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            class Gated(tf.keras.losses.Loss):
                def call(self, y_true, y_pred):
                    keep = tf.greater(y_pred, 0.3)
                    err = tf.abs(y_true - y_pred)
                    return tf.reduce_mean(tf.boolean_mask(err, keep))
            """,
            message="`tf.greater(y_pred, 0.3)`",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        for fn in ctx.losses():
            facts = function_facts(ctx, fn)
            gates = _Gates(ctx, facts)
            reported: set[int] = set()
            for node in function_facts(ctx, fn).nodes:
                for gate_expr, how in self._uses(ctx, facts, node):
                    origin = gates.origin(gate_expr)
                    if origin is None or id(origin) in reported:
                        continue
                    reported.add(id(origin))
                    text = ctx.code_for(origin)
                    ctx.report(
                        self,
                        origin,
                        f"The mask `{text}` is computed from the prediction and {how} the loss: it changes as "
                        "the model trains, ignores exactly the positions the model gets wrong, and has no "
                        "gradient. Build masks from the labels (e.g. `y_true > 0.5`, "
                        "`tf.not_equal(y_true, ignore_value)`).",
                    )

    @staticmethod
    def _uses(ctx: FileContext, facts: FunctionFacts, node: cst.CSTNode) -> list[tuple[cst.BaseExpression, str]]:
        """(gate candidate, "multiplies"/"selects") pairs where ``node`` gates a loss-like value.

        The gated value must involve ``y_true``: `tf.where(logits >= 0, logits, 0)` transforms the
        prediction itself (a ReLU), it does not mask a loss."""

        def lossy(expr: cst.BaseExpression) -> bool:
            return TRUE in facts.sources(expr)

        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
            pairs = [(node.left, node.right), (node.right, node.left)]
            return [(g, "multiplies") for g, other in pairs if lossy(other)]
        if not isinstance(node, cst.Call):
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
        if short == "boolean_mask":
            mask = get_arg(node, "mask", 1)
            tensor = get_arg(node, "tensor", 0)
            if mask is not None and tensor is not None and lossy(tensor):
                return [(mask, "selects")]
        return []


def _is_zeros(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    if is_zero(expr):
        return True
    if isinstance(expr, cst.Call):
        found = ctx.imports.api(expr.func)
        return found is not None and found.name.rsplit(".", 1)[-1] in {"zeros_like"}
    return False
