"""LCK104 masked-mean."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import (
    read_names,
    walk,
)
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts, function_facts
from losscheck.lint.api.value_ops import KEEPS_VALUES
from losscheck.lint.masks import MaskFacts
from losscheck.lint.reductions import as_reduction
from losscheck.lint.rule import Invalid, Rule, Valid

class MaskedMean(Rule):
    """
    ## What it does
    Checks for a masked loss averaged over all positions, `mean(loss * mask)`, instead of over the
    positions the mask keeps, and for `sum(loss * mask) / sum(mask)` with an unguarded denominator.
    A mask is a comparison (`y_true != 0`), a cast of one, `tf.not_equal(...)`,
    `tf.where(cond, 1.0, 0.0)`, or a name containing `mask`. The masked value may be built in
    place (`loss *= mask`, `loss = tf.multiply(loss, mask)`), and a masked sum divided by the
    tensor's size (`tf.size(loss)`, `prod(shape(loss))`) is a mean over all positions too.

    ## Why is this bad?
    `mean(loss * mask)` divides by every position, the masked-out ones included: the loss shrinks as
    the mask gets sparser and two batches with different amounts of padding are weighted
    differently. There is no error. And `sum(loss * mask) / sum(mask)` is NaN on a batch (or an
    example) whose mask selects nothing.

    ## Example
    ```python
    def masked_mse(y_true, y_pred):
        mask = tf.cast(tf.not_equal(y_true, -1.0), tf.float32)
        return tf.reduce_mean(tf.square(y_true - y_pred) * mask, axis=-1)
    ```

    ## Use instead
    ```python
    def masked_mse(y_true, y_pred):
        mask = tf.cast(tf.not_equal(y_true, -1.0), tf.float32)
        sq = tf.square(y_true - y_pred) * mask
        return tf.reduce_sum(sq, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)
    ```
    """

    code = "LCK104"
    name = "masked-mean"
    summary = "A masked loss averaged over all positions instead of the mask's count (or divided by an unguarded count)"
    severity = "error"

    VALID = [
        Valid(
            """
            import tensorflow as tf

            def masked_mse(y_true, y_pred):
                mask = tf.cast(tf.not_equal(y_true, -1.0), tf.float32)
                sq = tf.square(y_true - y_pred) * mask
                return tf.reduce_sum(sq, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def masked_bce(y_true, y_pred):
                valid = tf.cast(y_true >= 0, tf.float32)
                bce = tf.keras.backend.binary_crossentropy(tf.maximum(y_true, 0.0), y_pred)
                return tf.math.divide_no_nan(tf.reduce_sum(bce * valid, axis=-1), tf.reduce_sum(valid, axis=-1))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def ratio(y_true, y_pred):
                mask = tf.cast(y_true > 0, tf.float32)
                # mean/mean is sum/sum: correct
                return tf.reduce_mean(tf.abs(y_true - y_pred) * mask, axis=-1) / (tf.reduce_mean(mask, axis=-1) + 1e-7)
            """
        ),
        Valid(
            """
            import keras
            from keras import ops

            def weighted_mse(y_true, y_pred):
                class_weights = ops.convert_to_tensor([1.0, 2.0, 0.5])
                return ops.mean(ops.square(y_true - y_pred) * class_weights, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def complementary(y_true, y_pred):
                mask = tf.cast(y_true > 0.5, tf.float32)
                err = tf.abs(y_true - y_pred)
                return tf.reduce_mean(err * mask + 0.1 * err * (1.0 - mask), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def late_mask(y_true, y_pred):
                keep = tf.cast(y_true >= 0.0, tf.float32)
                err = tf.abs(y_true - y_pred)
                overall = tf.reduce_mean(err, axis=-1)  # averaged before the mask is applied
                err *= keep
                return overall + tf.reduce_sum(err, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def unmasked_over_size(y_true, y_pred):
                err = tf.square(y_true - y_pred)
                return tf.reduce_sum(err, axis=-1) / tf.cast(tf.size(y_true[0]), tf.float32)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def evaluate(real, pred):
                # not named like a loss: `(real, pred)` alone does not make a loss function
                mask = tf.cast(real > 0, tf.float32)
                return tf.reduce_mean(tf.abs(real - pred) * mask)
            """
        ),
        Valid(
            """
            from keras import backend as K

            def bce(y_true, y_pred):
                # the complement of the label is a term of the crossentropy, not a gate
                p = K.clip(y_pred[:, :, 0], 1e-7, 1 - 1e-7)
                ce = -(y_true[:, :, 0] * K.log(p) + (1 - y_true[:, :, 0]) * K.log(1 - p))
                return K.mean(ce, axis=-1)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from keras import backend as K

            def imputed_mse(y_true, y_pred):
                # y_true[..., 1] flags imputed steps, packed beside the target
                err = K.square(y_true[:, :, 0] - y_pred[:, :, 0])
                return K.mean(err * (1 - y_true[:, :, 1]), axis=-1)
            """,
            message="averages over ALL positions",
            line=7,
        ),
        Invalid(
            """
            import tensorflow as tf

            def masked_mse(y_true, y_pred):
                mask = tf.cast(tf.not_equal(y_true, -1.0), tf.float32)
                return tf.reduce_mean(tf.square(y_true - y_pred) * mask, axis=-1)
            """,
            message="averages over ALL positions",
            line=6,
        ),
        Invalid(
            """
            from keras import ops

            def padded_loss(y_true, y_pred, padding_mask=None):
                err = ops.abs(y_true - y_pred)
                masked = err * padding_mask
                return ops.mean(masked, axis=[1, 2])
            """,
            message="`ops.mean(...)` of a masked value averages over ALL positions",
        ),
        Invalid(
            """
            import tensorflow as tf

            def seg_loss(y_true, y_pred):
                labelled = y_true[..., 1:] != 0
                ce = tf.keras.losses.categorical_crossentropy(y_true[..., :1], y_pred)
                return tf.reduce_mean(ce * tf.cast(labelled[..., 0], ce.dtype), axis=[1, 2])
            """,
            message="Divide the masked sum by the mask's count",
        ),
        Invalid(
            """
            import tensorflow as tf

            def masked_mae(y_true, y_pred):
                mask = tf.cast(y_true > 0, tf.float32)
                return tf.reduce_sum(tf.abs(y_true - y_pred) * mask, axis=-1) / tf.reduce_sum(mask, axis=-1)
            """,
            message="is zero when the mask selects nothing",
            line=6,
        ),
        Invalid(
            """
            import keras.backend as K

            def masked_loss(y_true, y_pred):
                mask = K.cast(K.not_equal(y_true, 0), K.floatx())
                return K.mean(K.square(y_pred - y_true) * mask, axis=-1)
            """,
            message="averages over ALL positions",
        ),
        Invalid(
            """
            import tensorflow as tf

            token_ce = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")

            def loss_function(real, pred):
                not_pad = tf.cast(tf.not_equal(real, 0), tf.float32)
                per_token = token_ce(real, pred)
                per_token *= not_pad
                return tf.reduce_mean(per_token)
            """,
            message="of a masked value averages over ALL positions",
            line=10,
        ),
        Invalid(
            """
            from keras import ops

            def padded_mae(y_true, y_pred):
                keep_mask = ops.cast(ops.not_equal(y_true, -1.0), "float32")
                err = ops.abs(y_true - y_pred)
                err = ops.multiply(err, keep_mask)
                return ops.mean(err, axis=-1)
            """,
            message="of a masked value averages over ALL positions",
            line=8,
        ),
        Invalid(
            """
            import tensorflow as tf

            def sum_over_everything(y_true, y_pred):
                seen = tf.cast(y_true >= 0.0, tf.float32)
                err = tf.square(y_true - y_pred) * seen
                return tf.reduce_sum(err) / tf.cast(tf.size(err), tf.float32)
            """,
            message="counts every position",
            line=7,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        for fn in ctx.losses():
            facts = function_facts(ctx, fn)
            masks = MaskFacts(ctx, facts)
            counted = self._counted_masks(ctx, fn, masks)
            for node in function_facts(ctx, fn).nodes:
                if type(node) is cst.Call:
                    self._masked_mean(ctx, fn, facts, masks, counted, node)
                elif type(node) is cst.BinaryOperation and type(node.operator) is cst.Divide:
                    self._unguarded(ctx, facts, masks, node)
                    self._sum_over_size(ctx, facts, masks, counted, node)

    def _counted_masks(self, ctx: FileContext, fn: LossFunction, masks: MaskFacts) -> set[str]:
        """Names of masks that the function reduces by sum/mean anywhere (it counts them itself)."""
        counted: set[str] = set()
        for node in function_facts(ctx, fn).nodes:
            if type(node) is cst.Call:
                reduction = as_reduction(ctx, node)
                if reduction is not None and (reduction.is_sum or reduction.is_mean):
                    if masks.is_mask(reduction.operand) and masks.mask_in_product(reduction.operand) is None:
                        counted |= masks.mask_names(reduction.operand)
        return counted

    def _masked_mean(
        self,
        ctx: FileContext,
        fn: LossFunction,
        facts: FunctionFacts,
        masks: MaskFacts,
        counted: set[str],
        node: cst.Call,
    ) -> None:
        reduction = as_reduction(ctx, node)
        if reduction is None or not reduction.is_mean:
            return
        mask = masks.mask_in_product(reduction.operand, follow=True)
        if mask is None or not facts.derives(reduction.operand):
            return
        names = masks.mask_names(mask)
        if names & counted:
            return  # the mask's count is computed in this function: assume it is used to normalise
        if self._divided_by_mask(facts, masks, node, names):
            return
        callee = ctx.code_for(node.func)
        mask_text = ctx.code_for(mask)
        short = mask_text if len(mask_text) <= 30 else "mask"
        ctx.report(
            self,
            node,
            f"`{callee}(...)` of a masked value averages over ALL positions, the ones `{mask_text}` masks out "
            "included, so the loss shrinks as the mask gets sparser. Divide the masked sum by the mask's count: "
            f"`sum(loss * {short}) / maximum(sum({short}), 1)` (same axes), or use `divide_no_nan`.",
        )

    def _sum_over_size(
        self, ctx: FileContext, facts: FunctionFacts, masks: MaskFacts, counted: set[str], node: cst.BinaryOperation
    ) -> None:
        """``sum(loss * mask) / size(loss)``: a mean over every position, written out."""
        numerator = node.left
        if type(numerator) is cst.Name:
            numerator = facts.single_value(numerator.value) or numerator
        reduction = as_reduction(ctx, numerator) if type(numerator) is cst.Call else None
        if reduction is None or not reduction.is_sum or not facts.derives(reduction.operand):
            return
        if not _counts_every_position(ctx, facts, node.right):
            return
        mask = masks.mask_in_product(reduction.operand, follow=True)
        if mask is None or masks.mask_names(mask) & counted:
            return
        mask_text = ctx.code_for(mask)
        short = mask_text if len(mask_text) <= 30 else "mask"
        ctx.report(
            self,
            node,
            f"`{ctx.code_for(node.right)}` counts every position, so this masked sum is averaged over ALL "
            f"positions, the ones `{mask_text}` masks out included, and the loss shrinks as the mask gets sparser. "
            f"Divide by the mask's count instead: `sum(loss * {short}) / maximum(sum({short}), 1)`.",
        )

    @staticmethod
    def _divided_by_mask(facts: FunctionFacts, masks: MaskFacts, node: cst.Call, names: set[str]) -> bool:
        parent = facts.parent(node)
        while type(parent) in (cst.BinaryOperation, cst.UnaryOperation):
            if type(parent) is cst.BinaryOperation and type(parent.operator) is cst.Divide:
                if {n.value for n in read_names(parent.right)} & names:
                    return True
            parent = facts.parent(parent)
        return False

    def _unguarded(self, ctx: FileContext, facts: FunctionFacts, masks: MaskFacts, node: cst.BinaryOperation) -> None:
        denominator = node.right
        if type(denominator) is cst.Name:
            value = facts.single_value(denominator.value)
            if value is None:
                return
            denominator_call = value
        else:
            denominator_call = denominator
        if type(denominator_call) is not cst.Call:
            return
        reduction = as_reduction(ctx, denominator_call)
        if reduction is None or not reduction.is_sum or not masks.is_mask(reduction.operand):
            return
        mask_names = masks.mask_names(reduction.operand)
        # the numerator must be a masked sum with the same mask: sum(loss * mask) / sum(mask)
        numerator_ok = False
        for sub in walk(node.left):
            if type(sub) is cst.Call:
                num = as_reduction(ctx, sub)
                if num is not None and num.is_sum:
                    factor = masks.mask_in_product(num.operand)
                    if factor is not None and masks.mask_names(factor) & mask_names:
                        numerator_ok = True
        if not numerator_ok:
            return
        text = ctx.code_for(denominator)
        ctx.report(
            self,
            denominator,
            f"The denominator `{text}` is zero when the mask selects nothing (a batch or an example with no "
            f"valid position), and the loss becomes NaN. Guard it: `maximum({text}, 1.0)`, add an epsilon, "
            "or use `divide_no_nan`.",
        )



def _counts_every_position(ctx: FileContext, facts: FunctionFacts, expr: cst.BaseExpression, depth: int = 0) -> bool:
    """Is ``expr`` the number of elements of a tensor (``tf.size(x)``, ``prod(shape(x))``), cast or not?"""
    if depth > 4:
        return False
    if type(expr) is cst.Name:
        value = facts.single_value(expr.value)
        return value is not None and _counts_every_position(ctx, facts, value, depth + 1)
    if type(expr) is not cst.Call or not expr.args:
        return False
    first = expr.args[0].value
    if type(expr.func) is cst.Name and expr.func.value in {"float", "int"}:
        return _counts_every_position(ctx, facts, first, depth + 1)
    found = ctx.imports.api(expr.func)
    if found is None:
        return False
    short = found.name.rsplit(".", 1)[-1]
    if short in KEEPS_VALUES:
        return _counts_every_position(ctx, facts, first, depth + 1)
    if short == "size" and found.family != "numpy":
        return facts.derives(first)
    if short in {"reduce_prod", "prod"} and len(expr.args) == 1 and type(first) is cst.Call:
        inner = ctx.imports.api(first.func)
        return inner is not None and inner.name.rsplit(".", 1)[-1] == "shape" and facts.derives(first)
    return False
