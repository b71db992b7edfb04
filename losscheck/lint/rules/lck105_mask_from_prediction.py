"""LCK105 mask-from-prediction."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import function_facts
from losscheck.lint.evaluation_code import name_says_loss
from losscheck.lint.prediction_gates import PredictionGates, gated_uses
from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.summaries import reached_helpers


class MaskFromPrediction(Rule):
    """
    ## What it does
    Checks for a mask or gate computed from `y_pred` (`y_pred > 0.5`, `tf.cast(y_pred > t, ...)`,
    `tf.round(y_pred)`, `tf.one_hot(tf.argmax(y_pred, -1), n)`) that then multiplies or selects the
    loss (`loss * mask`, `loss *= mask`, `tf.where(mask, loss, 0)`, `tf.where(mask, loss * w, loss)`,
    `tf.boolean_mask(loss, mask)`). The gate may be combined with a label mask
    (`logical_and(gate, y_true < 0.5)`), scaled into a weight (`1 + 4 * gate`), pick class weights
    (`tf.gather(w, tf.argmax(y_pred, -1))`), measure how far the predicted class is from the true
    one (`abs(argmax(y_pred) - argmax(y_true))`), or sit in a helper the loss passes its tensors to.
    In code surely used as a loss (compiled, a helper a loss calls, a function named for a loss),
    the prediction rebound to its own gate (`y_pred = K.one_hot(K.argmax(y_pred), n)`) counts too;
    a function found only by its signature that does so is taken for a hard metric.

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
        # the expected distance under the predicted probabilities: a weight with a gradient
        Valid(
            """
            import keras
            from keras import ops

            def graded_crossentropy(y_true, y_pred):
                grades = ops.arange(ops.shape(y_pred)[-1], dtype="float32")
                true_grade = ops.cast(ops.argmax(y_true, axis=-1), "float32")[:, None]
                expected_off = ops.sum(y_pred * ops.abs(grades - true_grade), axis=-1)
                return (1.0 + expected_off) * keras.losses.categorical_crossentropy(y_true, y_pred)
            """
        ),
        # a hard score that thresholds its own prediction, which no loss calls: a metric
        Valid(
            """
            import tensorflow as tf

            def dice_hard(y_true, y_pred, threshold=0.5):
                y_pred = tf.cast(y_pred > threshold, tf.float32)
                shared = tf.reduce_sum(y_true * y_pred, axis=[1, 2, 3])
                return 2.0 * shared / (tf.reduce_sum(y_true + y_pred, axis=[1, 2, 3]) + 1e-5)
            """
        ),
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
        # the prediction replaced by its own one-hot argmax in the helper behind the loss
        Invalid(
            """
            from keras import backend as K

            def overlap(y_true, y_pred, classes=4):
                y_pred = K.one_hot(K.argmax(y_pred, axis=-1), classes)
                shared = K.sum(y_true * y_pred, axis=(1, 2))
                return 2.0 * shared / (K.sum(y_true + y_pred, axis=(1, 2)) + 1e-7)

            def overlap_loss(y_true, y_pred):
                return 1.0 - overlap(y_true, y_pred)
            """,
            message="which the loss `overlap_loss` calls",
            line=5,
        ),
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
        # an ordinal penalty by how many grades the predicted grade is off: argmax has no gradient
        Invalid(
            """
            import keras
            from keras import ops

            def graded_crossentropy(y_true, y_pred):
                off_by = ops.abs(ops.argmax(y_pred, axis=-1) - ops.argmax(y_true, axis=-1))
                scale = ops.cast(off_by, "float32") / (ops.shape(y_pred)[-1] - 1)
                return (1.0 + scale) * keras.losses.categorical_crossentropy(y_true, y_pred)
            """,
            message="The weight from `ops.argmax(y_pred, axis=-1)` (the predicted class) multiplies the loss",
            line=6,
        ),
        Invalid(
            """
            import keras
            from keras import ops

            class GradedCrossentropy(keras.losses.Loss):
                def call(self, y_true, y_pred):
                    guessed = ops.argmax(y_pred, axis=1)
                    grade_gap = ops.abs(ops.argmax(y_true, axis=1) - guessed) / 4
                    return (1.0 + grade_gap) * keras.losses.categorical_crossentropy(y_true, y_pred)
            """,
            message="The weight from `ops.argmax(y_pred, axis=1)` (the predicted class)",
            line=7,
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
            surely_a_loss = loss.origin != "signature" or name_says_loss(loss.name.lower())
            self._check_function(ctx, loss, reported, "", surely_a_loss)
            # helpers the loss hands its tensors to (`dice_coef(y_true, y_pred)`), parameters bound
            for helper in reached_helpers(ctx, loss):
                self._check_function(ctx, helper, reported, f" (in `{helper.name}`, which the loss `{loss.name}` calls)",
                                     True)

    def _check_function(self, ctx: FileContext, fn: LossFunction, reported: set[int], where: str,
                        surely_a_loss: bool) -> None:
        facts = function_facts(ctx, fn)
        gates = PredictionGates(ctx, facts, follow_rebound=surely_a_loss)
        for node in facts.nodes:
            for gate_expr, how in gated_uses(ctx, facts, node):
                origin = gates.origin(gate_expr)
                if origin is None or id(origin) in reported:
                    continue
                reported.add(id(origin))
                text = ctx.code_for(origin)
                if _is_argmax(ctx, origin):  # class weights or a class distance, by the predicted class
                    message = (
                        f"The weight from `{text}` (the predicted class) {how} the loss{where}: it changes as "
                        "the model trains and has no gradient, so the loss is weighted by the model's own "
                        "guess. Weight by the labels (`tf.argmax(y_true, -1)`), or, where the weight must "
                        "follow the prediction, by its probabilities (an expected class distance).")
                else:
                    message = (
                        f"The mask `{text}` is computed from the prediction and {how} the loss{where}: it "
                        "changes as the model trains, ignores exactly the positions the model gets wrong, and "
                        "has no gradient. Build masks from the labels (e.g. `y_true > 0.5`, "
                        "`tf.not_equal(y_true, ignore_value)`).")
                ctx.report(self, origin, message)


def _is_argmax(ctx: FileContext, node: cst.CSTNode) -> bool:
    found = ctx.imports.api(node.func) if type(node) is cst.Call else None
    return found is not None and found.name.rsplit(".", 1)[-1] == "argmax"
