"""LCK101 batch-mean-reduction."""

from __future__ import annotations

from losscheck.lint import project
from losscheck.lint.batch_reductions import batch_reductions
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.finder import loss_class_names
from losscheck.lint.loss_roles import is_custom_loop_style, overrides_loss_call
from losscheck.lint.project_uses import unless_compiled_as_loss, unless_used_only_in_loops
from losscheck.lint.rule import Invalid, Rule, Valid


class BatchMeanReduction(Rule):
    """
    ## What it does
    Checks for loss functions that return a value already reduced over the batch axis: a
    `mean`/`sum`/`max`/`min`/`prod` with no `axis` or with `axis=0` (TensorFlow, `keras.ops`,
    the Keras 2 backend or NumPy), `np.average`, a sum divided by the tensor's size, a Keras
    `Loss` object (`BinaryCrossentropy()(y_true, y_pred)`) called inside the loss, or a helper
    that returns such a value (whatever its parameters are called: `_reduce(err)`), local or
    imported from another module of the project (`from .terms import focal_term`). It also
    reports a loss term of `y_true` and `y_pred` reduced over the whole batch and added to a
    per-example loss (`bce(y_true, y_pred) + dice_over_batch(y_true, y_pred)`).

    A function named like a metric (`iou`, `dice_coef`) is checked as a loss when another module
    of the project passes it to `compile` as the loss. A recursive `return` of the function itself
    (`return iou(1 - y_true, 1 - y_pred)` for an empty mask) returns what its other returns do.
    A `Loss` subclass's `__call__` is not checked: `Loss.__call__` returns the reduced value by
    contract (`call` is the method that returns one value per example).
    Keras passes only `y_true` and `y_pred`, so a loss's other parameters keep their defaults:
    with `reduce="mean"`, `if reduce == "mean": loss = K.mean(loss)` is the branch that runs.

    A loss of a custom training loop is not reported: `loss_function(real, pred)`, and a loss
    that other modules of the project use only inside functions that run a `GradientTape`
    (`tape.gradient`, `minimize`, `apply_gradients`) and never pass to `compile`. There one value
    for the batch is what `tape.gradient` wants.

    ## Why is this bad?
    Keras calls a loss function to get one value per example, applies `sample_weight` and
    `class_weight` to those values, and only then averages over the batch. A loss that returns a
    scalar silently turns weighting into `mean(loss) * mean(weight)` (measured: 7.5 instead of
    12.25), and under `MirroredStrategy` with 2 replicas the loss and its gradient double. A Loss
    object applies its own reduction, so calling one inside a loss has the same effect.

    ## Example
    ```python
    def my_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))
    ```

    ## Use instead
    ```python
    def my_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    ```
    Reduce only the non-batch axes (`axis=-1`, or `axis=[1, 2, 3]` for images) and let Keras
    average over the batch. Inside a loss, call the per-example function
    (`keras.losses.binary_crossentropy`) instead of a Loss object, or build the object with
    `reduction=None`.
    """

    code = "LCK101"
    name = "batch-mean-reduction"
    summary = "A loss returns a value reduced over the batch axis (mean/sum without axis, axis=0, Loss objects)"
    severity = "error"
    losses_only = True

    VALID = [
        Valid(
            """
            import tensorflow as tf

            def mse(y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            """
        ),
        # a Loss's `__call__` returns the reduced value by contract (here a "batchmean" divergence)
        Valid(
            """
            import tensorflow as tf

            class BatchMeanDivergence(tf.keras.losses.Loss):
                def __call__(self, y_true, y_pred):
                    rows = tf.cast(tf.shape(y_true)[0], tf.float32)
                    return tf.reduce_sum(y_pred * (tf.math.log(y_pred) - y_true)) / rows
            """
        ),
        Valid(
            """
            import keras
            from keras import ops

            def dice_loss(y_true, y_pred, smooth=1.0):
                inter = ops.sum(y_true * y_pred, axis=[1, 2, 3])
                union = ops.sum(y_true, axis=[1, 2, 3]) + ops.sum(y_pred, axis=[1, 2, 3])
                return 1.0 - (2.0 * inter + smooth) / (union + smooth)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def weighted_bce(y_true, y_pred):
                # a batch statistic used as a weight: the result is still one value per example
                pos_rate = tf.reduce_mean(y_true)
                bce = tf.keras.losses.binary_crossentropy(y_true, y_pred)
                return bce * (1.0 - pos_rate)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def dice_coef(y_true, y_pred):
                # a metric may return a batch mean
                return tf.reduce_mean(2 * y_true * y_pred / (y_true + y_pred + 1e-7))

            model.compile(loss="mse", metrics=[dice_coef])
            """
        ),
        Valid(
            """
            from keras import backend as K

            def mean_q(y_true, y_pred):
                # registered as a metric through a list that compile() receives later
                return K.mean(K.max(y_pred, axis=-1))

            class Agent:
                def compile(self, model, optimizer, metrics=[]):
                    metrics += [mean_q]
                    per_output = {model.output_names[1]: metrics}
                    model.compile(optimizer=optimizer, loss="mse", metrics=per_output)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            class FocalLoss(tf.keras.losses.Loss):
                def __init__(self, gamma=2.0):
                    super().__init__()
                    self.gamma = gamma
                    self.bce = tf.keras.losses.BinaryCrossentropy(reduction="none")

                def call(self, y_true, y_pred):
                    ce = self.bce(y_true, y_pred)
                    p_t = tf.exp(-ce)
                    return (1.0 - p_t) ** self.gamma * ce
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def regression_loss(y_true, y_pred, kind="mse"):
                match kind:
                    case "mse":
                        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
                    case _:
                        return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def paired_loss(y_true, y_pred):
                match (y_true, y_pred):
                    case (target, prediction):
                        return tf.reduce_mean(tf.square(target - prediction), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def _per_row(values):
                return tf.reduce_mean(values, axis=-1)

            def _over_rows(values):
                # axis 0 of what the loss passes is the channel axis: the batch is on axis 1
                return tf.reduce_sum(values, axis=0)

            def row_loss(y_true, y_pred):
                return _per_row(tf.abs(y_true - y_pred))

            def column_loss(y_true, y_pred):
                return _over_rows(tf.transpose(tf.square(y_true - y_pred)))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def shifted_bce(y_true, y_pred):
                # a batch statistic of the labels alone, not a loss term over the batch
                bce = tf.keras.losses.binary_crossentropy(y_true, y_pred)
                return bce - 0.01 * tf.reduce_mean(y_true)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def step_loss(targets, inputs):
                # `inputs` goes through the model: these are a training step's data, not (y_true, y_pred)
                outputs = model(inputs, training=True)
                return tf.reduce_mean(tf.square(targets - outputs))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            token_ce = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")

            def loss_function(real, pred):
                # the custom-training-loop form: the loop wants one value for the batch
                return tf.reduce_mean(token_ce(real, pred))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def step_loss(y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred))  # the tape wants one value

            def train_step(model, optimizer, x, y):
                with tf.GradientTape() as tape:
                    loss = step_loss(y, model(x))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def scaled_error(y_true, y_pred):
                err = tf.reduce_mean(tf.abs(y_true - y_pred))  # a batch statistic first...
                err = tf.abs(y_true - y_pred) / (err + 1e-7)  # ...then the per-example value returned
                return tf.reduce_mean(err, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            class SmoothL1(tf.keras.losses.Loss):
                def _roughness(self, field):
                    return tf.reduce_mean(tf.abs(field[:, 1:] - field[:, :-1]), axis=-1)

                def call(self, y_true, y_pred):
                    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1) + self._roughness(y_pred[..., :4])
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from keras import backend as K

            def weighted_mse(y_true, y_pred):
                # the inner mean has no axis: one batch-wide error, scaled per example
                return K.mean(K.mean(K.square(y_pred - y_true)) * (y_true + 1.0), axis=-1)
            """,
            message="is combined with the per-example loss in `weighted_mse`",
            line=6,
        ),
        Invalid(
            """
            import keras

            mae = keras.losses.MeanAbsoluteError()

            def heads_loss(y_true, y_pred):
                return sum(mae(y_true[:, k], y_pred[:, k]) for k in range(3))
            """,
            message="calls a Keras Loss object",
            line=7,
        ),
        Invalid(
            """
            import keras

            def box_and_flag(y_true, y_pred):
                box = keras.ops.mean(keras.ops.square(y_true[:, 1:] - y_pred[:, 1:]), axis=-1)
                return box + keras.losses.binary_crossentropy(y_true[:, 0], y_pred[:, 0])
            """,
            message="`keras.losses.binary_crossentropy(...)` reduces over the whole batch",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            class Roughness(tf.keras.losses.Loss):
                def _penalty(self, field):
                    return tf.reduce_mean(tf.square(field[:, 1:] - field[:, :-1]))

                def call(self, y_true, y_pred):
                    return 0.1 * self._penalty(y_pred[..., 1:] - y_true[..., 1:])
            """,
            message="`self._penalty(...)` returns a value reduced over the whole batch",
            line=9,
        ),
        Invalid(
            """
            import tensorflow as tf

            def flag_scaled(y_true, y_pred):
                flag = y_true[0, 0]  # one sample's value scales the whole batch's mean
                return (1.0 - flag) * tf.reduce_mean(tf.abs(y_true - y_pred))
            """,
            message="`tf.reduce_mean(...)` with no axis",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def summed_then_averaged(y_true, y_pred):
                loss = tf.square(y_true - y_pred)
                loss = tf.reduce_mean(tf.reduce_sum(loss, axis=-1))
                return loss
            """,
            message="`tf.reduce_mean(...)` with no axis",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def guarded(y_true, y_pred):
                if y_true is None:
                    return 0.0
                return tf.reduce_sum(tf.abs(y_true - y_pred))
            """,
            message="`tf.reduce_sum(...)` with no axis",
            line=7,
        ),
        Invalid(
            """
            from tensorflow.keras import backend as K

            def OverlapLoss(targets, inputs, smooth=1e-6):
                t = K.flatten(targets)
                p = K.flatten(inputs)
                overlap = K.sum(t * p)
                return 1 - (2 * overlap + smooth) / (K.sum(t) + K.sum(p) + smooth)
            """,
            message="reduces over the batch axis in the loss `OverlapLoss`",
            line=7,
        ),
        Invalid(
            """
            import tensorflow as tf

            def _average(t):
                return tf.reduce_mean(t)

            def l1_loss(y_true, y_pred):
                gap = tf.abs(y_true - y_pred)
                return _average(gap)
            """,
            message="`_average(...)` returns a value reduced over the whole batch",
            line=9,
        ),
        Invalid(
            """
            import keras
            from keras import ops

            def overlap(truth, guess):
                t = ops.reshape(truth, [-1])
                g = ops.reshape(guess, [-1])
                return 2.0 * ops.sum(t * g, axis=-1) / (ops.sum(t, axis=-1) + ops.sum(g, axis=-1) + 1.0)

            def bce_plus_overlap(y_true, y_pred):
                return keras.losses.binary_crossentropy(y_true, y_pred) + (1.0 - overlap(y_true, y_pred))
            """,
            message="is combined with the per-example loss in `bce_plus_overlap`",
            line=11,
        ),
        Invalid(
            """
            import tensorflow as tf

            def mse(y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred))
            """,
            message="`tf.reduce_mean(...)` with no axis reduces over the batch axis",
            line=5,
        ),
        Invalid(
            """
            import keras.backend as K

            def rmse(y_true, y_pred):
                sq = K.square(y_pred - y_true)
                loss = K.sqrt(K.mean(sq, axis=0))
                return loss
            """,
            message="with axis=0 reduces over the batch axis",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def combined(y_true, y_pred):
                bce = tf.keras.losses.BinaryCrossentropy()
                return bce(y_true, y_pred) + 0.1 * tf.reduce_mean(tf.abs(y_pred))
            """,
            message="Loss object",
        ),
        Invalid(
            """
            import tensorflow as tf

            def sum_over_size(y_true, y_pred):
                err = tf.abs(y_true - y_pred)
                return tf.reduce_sum(err) / tf.cast(tf.size(err), tf.float32)
            """,
            message="`tf.reduce_sum(...)` with no axis",
        ),
        Invalid(
            """
            from keras import backend as K

            def dice_coef(y_true, y_pred, smooth=1):
                intersection = K.sum(y_true * y_pred)
                return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)

            def dice_loss(y_true, y_pred):
                return 1 - dice_coef(y_true, y_pred)
            """,
            message="`dice_coef(...)` returns a value reduced over the whole batch",
            line=9,
            count=1,
        ),
        Invalid(
            """
            import keras
            import numpy as np

            class MyLoss(keras.losses.Loss):
                def call(self, y_true, y_pred):
                    return np.average(np.abs(y_true - y_pred))
            """,
            message="`np.average(...)` with no axis",
        ),
        Invalid(
            """
            import tensorflow as tf

            def regression_loss(y_true, y_pred, kind="mse"):
                match kind:
                    case "mse":
                        return tf.reduce_mean(tf.square(y_true - y_pred))
                    case _:
                        return tf.reduce_mean(tf.abs(y_true - y_pred))
            """,
            message="`tf.reduce_mean(...)` with no axis reduces over the batch axis",
            line=7,
            count=2,
        ),
        Invalid(
            """
            import tensorflow as tf

            def paired_loss(y_true, y_pred):
                match (y_true, y_pred):
                    case (target, prediction):
                        return tf.reduce_mean(tf.square(target - prediction))
            """,
            message="`tf.reduce_mean(...)` with no axis reduces over the batch axis",
            line=7,
            count=1,
        ),
        Invalid(
            """
            from keras import backend as K

            def iou_loss(y_true, y_pred, eps=1e-6):
                if K.max(y_true) == 0.0:
                    return iou_loss(1 - y_true, 1 - y_pred)  # an empty mask: the IoU of the zeros
                inter = K.sum(y_true * y_pred, axis=[1, 2, 3])
                union = K.sum(y_true + y_pred, axis=[1, 2, 3]) - inter
                return -K.mean((inter + eps) / (union + eps), axis=0)
            """,
            message="with axis=0 reduces over the batch axis",
            line=9,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        loss_classes = loss_class_names(ctx)
        for fn in ctx.losses():
            if is_custom_loop_style(fn):
                continue  # `loss_function(real, pred)` of a training loop: a batch scalar is what it wants
            if overrides_loss_call(fn, loss_classes):
                continue  # a Loss's `__call__` returns the reduced value: that is its contract
            # so is one that other modules use only in training loops (read only if it has a finding)
            with unless_used_only_in_loops(ctx, fn):
                self._check_loss(ctx, fn)
        if project.root_for(ctx.path, ctx.options.get("keras_target")) is None:
            return  # no project around the file (or --isolated): no other module to say more
        for fn in ctx.functions:  # a metric by its name, that another module compiles as the loss
            if fn.kind == "metric" and fn.origin == "signature" and fn.class_node is None:
                with unless_compiled_as_loss(ctx, fn):
                    self._check_loss(ctx, fn)

    def _check_loss(self, ctx: FileContext, fn: LossFunction) -> None:
        for node, message in batch_reductions(ctx, fn):
            ctx.report(self, node, message)

