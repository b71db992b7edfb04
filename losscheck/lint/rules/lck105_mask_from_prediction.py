"""LCK105 mask-from-prediction."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import get_arg, is_number, is_zero
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import PRED, TRUE, FunctionFacts, function_facts
from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.summaries import reached_helpers

_COMPARE_OPS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"})
_PASS_OPS = frozenset({"cast", "to_float", "to_int32", "cast_to_floatx", "stop_gradient", "expand_dims", "squeeze",
                       "identity"})
_ROUND_OPS = frozenset({"round", "rint"})
_LOGICAL_OPS = frozenset({"equal", "not_equal", "logical_and", "logical_or", "logical_xor"})


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
            value = self._value(expr.value)
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
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Multiply, cst.BitAnd)):
            # a weight times a gate (`w * gate`, `label_mask & gate`) is still gated by the prediction
            return self.origin(expr.left, depth + 1) or self.origin(expr.right, depth + 1)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract)):
            # `1 - gate`, `1 + 4 * gate`: a weight that the gate switches
            for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
                if not self.facts.derives(other):
                    found = self.origin(side, depth + 1)
                    if found is not None:
                        return found
            return None
        if isinstance(expr, cst.Call):
            short = self._short(expr)
            args = [a.value for a in expr.args if a.keyword is None]
            if short in _LOGICAL_OPS and len(args) == 2:
                combined = self._combined(args, depth)
                if combined is not None:
                    return combined
            if short in _COMPARE_OPS:
                if any(TRUE in self.facts.sources(a) for a in args):
                    return None
                return expr if any(self._pred_only(a) for a in args) else None
            if short == "multiply" and len(args) == 2:
                return self.origin(args[0], depth + 1) or self.origin(args[1], depth + 1)
            if short == "gather" and len(args) == 2:
                # weights picked by the predicted class: `tf.gather(class_w, tf.argmax(y_pred, -1))`
                return args[1] if self._argmax_of_pred(args[1]) else None
            if short in _ROUND_OPS:
                return expr if args and self._pred_only(args[0]) else None
            if short in _PASS_OPS:
                return self.origin(args[0], depth + 1) if args else None
            if short == "one_hot" and args:
                return expr if self._argmax_of_pred(args[0]) else None
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
        if not isinstance(value, cst.Call) or self._short(value) not in _PASS_OPS or not value.args:
            return False
        first = value.args[0].value
        return isinstance(first, cst.Name) and first.value == name

    def _argmax_of_pred(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Name):
            expr = self.facts.single_value(expr.value) or expr
        if isinstance(expr, cst.Call) and self._short(expr) == "argmax":
            first = get_arg(expr, None, 0)
            return first is not None and self._pred_only(first)
        return False

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
        if isinstance(expr, cst.Name):
            value = self._value(expr.value)
            return value is not None and self._is_boolean(value, depth + 1)
        if isinstance(expr, cst.Comparison):
            return True
        if isinstance(expr, cst.Subscript):
            return self._is_boolean(expr.value, depth + 1)
        if isinstance(expr, cst.Call):
            short = self._short(expr)
            if short in _COMPARE_OPS or short in _LOGICAL_OPS:
                return True
            if short in _PASS_OPS and expr.args:
                return self._is_boolean(expr.args[0].value, depth + 1)
        return False


class MaskFromPrediction(Rule):
    """
    ## What it does
    Checks for a mask or gate computed from `y_pred` (`y_pred > 0.5`, `tf.cast(y_pred > t, ...)`,
    `tf.round(y_pred)`, `tf.one_hot(tf.argmax(y_pred, -1), n)`) that then multiplies or selects the
    loss (`loss * mask`, `loss *= mask`, `tf.where(mask, loss, 0)`, `tf.where(mask, loss * w, loss)`,
    `tf.boolean_mask(loss, mask)`). The gate may be combined with a label mask
    (`logical_and(gate, y_true < 0.5)`), scaled into a weight (`1 + 4 * gate`), pick class weights
    (`tf.gather(w, tf.argmax(y_pred, -1))`), or sit in a helper the loss passes its tensors to.

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
        Valid(
            """
            import tensorflow as tf

            def stable_logistic(y_true, logits):
                # two different branches chosen by the logit's sign: a stable formula, not a gate
                pos = logits - logits * y_true + tf.math.log1p(tf.exp(-logits))
                neg = -logits * y_true + tf.math.log1p(tf.exp(logits))
                return tf.reduce_mean(tf.where(logits >= 0, pos, neg), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def hard_examples(y_true, y_pred):
                # the gate compares the error, which involves the labels
                err = tf.abs(y_true - y_pred)
                hard = tf.cast(err > 0.3, tf.float32)
                err *= hard
                return tf.reduce_sum(err, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def _labelled(labels, scores):
                known = tf.cast(tf.logical_and(labels >= 0.0, labels <= 1.0), tf.float32)
                return tf.reduce_sum(tf.square(labels - scores) * known, axis=-1)

            def known_only(y_true, y_pred):
                return _labelled(y_true, y_pred)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            def above_zero_mse(y_true, y_pred):
                sq = tf.square(y_true - y_pred)
                active = y_pred > 0.0
                sq *= tf.cast(active, tf.float32)
                return tf.reduce_sum(sq, axis=-1)
            """,
            message="`y_pred > 0.0` is computed from the prediction and multiplies",
            line=6,
        ),
        Invalid(
            """
            from keras import backend as K

            def soft_overlap(truth, guess):
                hard = K.cast(K.greater(guess, 0.5), "float32")
                return K.sum(truth * hard, axis=-1) / (K.sum(truth, axis=-1) + K.sum(hard, axis=-1) + 1.0)

            def overlap_loss(y_true, y_pred):
                return 1.0 - soft_overlap(y_true, y_pred)
            """,
            message="(in `soft_overlap`, which the loss `overlap_loss` calls)",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            def boosted(y_true, y_pred):
                err = tf.abs(y_true[..., 0] - y_pred[..., 0])
                return tf.where(y_pred[..., 1] > 0.5, err * 3.0, err)
            """,
            message="reweights the loss",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def false_alarm_weighted(y_true, y_pred):
                said_yes = tf.greater_equal(y_pred, 0.5)
                is_no = tf.less(y_true, 0.5)
                false_alarm = tf.cast(tf.logical_and(said_yes, is_no), tf.float32)
                bce = tf.keras.backend.binary_crossentropy(y_true, y_pred)
                return tf.reduce_mean(bce * (1.0 + 4.0 * false_alarm), axis=-1)
            """,
            message="`tf.greater_equal(y_pred, 0.5)`",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            CLASS_W = tf.constant([1.0, 2.0, 5.0])

            def by_predicted_class(y_true, y_pred):
                ce = tf.keras.losses.categorical_crossentropy(y_true, y_pred)
                return ce * tf.gather(CLASS_W, tf.argmax(y_pred, axis=-1))
            """,
            message="`tf.argmax(y_pred, axis=-1)`",
            line=8,
        ),
        Invalid(
            """
            import keras
            from keras import ops

            class TopOnly(keras.losses.CategoricalCrossentropy):
                def call(self, y_true, y_pred):
                    top = ops.cast(ops.equal(y_pred, ops.max(y_pred, axis=-1, keepdims=True)), "float32")
                    return super().call(y_true, y_pred) * ops.sum(top * y_true, axis=-1)
            """,
            message="`ops.equal(y_pred, ops.max(y_pred, axis=-1, keepdims=True))`",
            line=7,
        ),
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
        Invalid(
            """
            import tensorflow as tf

            bce = tf.keras.losses.BinaryCrossentropy(reduction="none")

            def step_loss(y_true, y_pred):
                # a custom training loop's loss: still loss code
                keep = tf.cast(y_pred > 0.5, tf.float32)
                return tf.reduce_sum(bce(y_true, y_pred) * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)

            def train_step(model, optimizer, x, y):
                with tf.GradientTape() as tape:
                    loss = step_loss(y, model(x))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
            """,
            message="`y_pred > 0.5` is computed from the prediction",
            line=8,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        reported: set[int] = set()
        for loss in ctx.losses():
            self._check_function(ctx, loss, reported, "")
            # helpers the loss hands its tensors to (`dice_coef(y_true, y_pred)`), parameters bound
            for helper in reached_helpers(ctx, loss):
                self._check_function(ctx, helper, reported, f" (in `{helper.name}`, which the loss `{loss.name}` calls)")

    def _check_function(self, ctx: FileContext, fn: LossFunction, reported: set[int], where: str) -> None:
        facts = function_facts(ctx, fn)
        gates = _Gates(ctx, facts)
        for node in facts.nodes:
            for gate_expr, how in self._uses(ctx, facts, node):
                origin = gates.origin(gate_expr)
                if origin is None or id(origin) in reported:
                    continue
                reported.add(id(origin))
                text = ctx.code_for(origin)
                ctx.report(
                    self,
                    origin,
                    f"The mask `{text}` is computed from the prediction and {how} the loss{where}: it changes as "
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
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.MultiplyAssign):
            return [(node.value, "multiplies")] if lossy(node.target) else []  # `loss *= gate`
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
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        return text in (ctx.code_for(expr.left).strip(), ctx.code_for(expr.right).strip())
    return False


def _is_zeros(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    if is_zero(expr):
        return True
    if isinstance(expr, cst.Call):
        found = ctx.imports.api(expr.func)
        return found is not None and found.name.rsplit(".", 1)[-1] in {"zeros_like"}
    return False
