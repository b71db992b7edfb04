"""LCK401 shape-mismatch: shapes that certainly fail or silently broadcast wrong (static shape inference)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from losscheck.lint import shape_structure
from losscheck.lint.loss_roles import is_keras_called
from losscheck.lint.rule import Invalid, Rule
from losscheck.lint.shape_structure import ShapeProblem
from losscheck.lint.summaries import reached_helpers

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction
    from losscheck.shapes.interp import Note


class ShapeMismatch(Rule):
    """Tensor shapes in a loss that do not fit together, found by static shape inference.

    ## What it does
    Infers the shapes of the values in a loss function from what the shapes of `y_true` and
    `y_pred` are declared to be (`--layout layout.json`, a comment such as
    `# y_true shape: (batch_size, 4)`, or a jaxtyping annotation such as
    `y_pred: Float[Tensor, "b 4"]`), and reports:

    - element-wise operations on sizes that cannot broadcast (`(B, 2)` with `(B, 3)`);
    - the silent `(B,)` with `(B, 1)` broadcast that pairs every example with every other,
      giving `(B, B)`;
    - a `one_hot` depth that differs from the channels it is compared with;
    - an index past a known axis, or a slice that reaches past it (silently cut short);
    - crossentropy between operands of different shapes;
    - with `--layout`, a slice of `y_true`/`y_pred` on the channel axis that matches no task's
      channel range.

    When inference loses track of a shape (an unknown helper, an op it does not model) it says
    nothing: it never guesses.

    Whatever the declared shapes (none needed), it also reports what fails for any batch: an
    empty slice of `y_true`/`y_pred` (`y_pred[:, :, :0]`), the static batch size
    (`y_true.shape[0]`, `K.int_shape(y)[0]`, directly or through a name) used in arithmetic or as
    a size unless the loss first tests it against None, a loop over a fixed batch size
    (`for i in range(32): ... y_true[i]`, or groups of rows of the batch flattened,
    `flat[i * 16:(i + 1) * 16]`), a hyperparameter named the batch size as the batch
    axis of a shape (`tf.reshape(y_pred, [batch_size, -1])`, `tf.tile(grid, [self.batch_size, 1])`),
    a matrix product (`K.dot`, `tf.matmul`) of a flattened, rank-1 tensor, and a matrix product
    of the labels with the full transpose of the prediction (`K.dot(y_true, K.transpose(y_pred))`),
    which pairs every example with every other. Helpers a loss hands its batch tensors to
    (`dice_coef` behind `dice_loss`) are read as loss code.

    ## Why is this bad?
    Broadcasting turns most shape mistakes into wrong numbers instead of errors: `(B,) - (B, 1)`
    is a `(B, B)` matrix, whose mean is not the loss you meant, and a slice past the last channel
    is silently shorter. Training runs, the loss goes down, and the model learns the wrong thing.

    ## Example
    ```python
    def loss(y_true, y_pred):
        # y_true shape: (batch_size, 2)
        # y_pred shape: (batch_size, 1)
        return tf.reduce_mean(tf.square(y_true[:, 0] - y_pred), axis=-1)
    ```

    ## Use instead
    ```python
    def loss(y_true, y_pred):
        # y_true shape: (batch_size, 2)
        # y_pred shape: (batch_size, 1)
        return tf.reduce_mean(tf.square(y_true[:, 0:1] - y_pred), axis=-1)
    ```
    """

    code = "LCK401"
    name = "shape-mismatch"
    summary = "Tensor shapes in a loss that do not fit together (found by static shape inference)"
    severity = "error"

    VALID = [
        # the static batch size, used only after the loss checked it is known
        """
        import tensorflow as tf

        def per_sample(y_true, y_pred):
            if y_pred.shape.as_list()[0] is None:
                return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
            batch = y_pred.shape[0]
            return tf.reduce_mean(tf.abs(tf.reshape(y_true, [batch, -1]) - tf.reshape(y_pred, [batch, -1])), axis=-1)
        """,
        # the batch size of the tensors, whatever its name says
        """
        import tensorflow as tf

        def nss(y_true, y_pred):
            batch_size = tf.shape(y_pred)[0]
            fixations = tf.reshape(y_true, [batch_size, -1])
            return -tf.reduce_sum(tf.reshape(y_pred, [batch_size, -1]) * fixations, axis=-1)
        """,
        # the dynamic batch size, kept in a name
        """
        import tensorflow as tf

        def per_sample(y_true, y_pred):
            batch_num = tf.shape(y_pred)[0]
            channels = y_pred.shape[-1]
            return tf.reduce_sum(tf.abs(y_true - y_pred), axis=-1) / tf.cast(batch_num * channels, tf.float32)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            n = tf.cast(tf.shape(y_true)[0], tf.float32)  # the dynamic batch size
            if y_true.shape[0] is not None:
                pass
            first = y_pred[:, :, 0:1]
            return tf.reduce_sum(tf.square(y_true - first), axis=-1) + 0.0 * n
        """,
        # a count of batches is no batch size; nor is the first axis of a shape the loss does not build
        """
        import tensorflow as tf

        def per_step(y_true, y_pred, n_batches=10):
            steps = tf.reshape(y_pred, (-1, 4))
            scale = tf.ones((n_batches, 1))
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + 0.0 * tf.reduce_sum(scale) * tf.reduce_sum(steps)
        """,
        # pairwise similarities of one tensor with itself (metric learning), and a label-equality mask
        """
        import tensorflow as tf

        def batch_hard_triplet(y_true, y_pred):
            sims = tf.matmul(y_pred, tf.transpose(y_pred))
            same = tf.matmul(y_true, tf.transpose(y_true))
            hardest = tf.reduce_max((1.0 - same) * sims, axis=-1)
            return tf.nn.relu(hardest - tf.reduce_min(same * sims + (1.0 - same) * 1e9, axis=-1) + 0.2)
        """,
        # a helper given a confusion matrix, whose first axis is a class, not the batch
        """
        import tensorflow as tf

        def _f1_from(confusion):
            classes = confusion.shape[0]
            diag = tf.linalg.diag_part(confusion)
            return tf.reduce_mean(2.0 * diag / (tf.reduce_sum(confusion, 0) + tf.reduce_sum(confusion, 1)
                                                + tf.cast(classes, tf.float32) * 0.0 + 1e-7))

        def macro_f1(y_true, y_pred):
            confusion = tf.matmul(tf.transpose(y_true), y_pred)
            return _f1_from(confusion)
        """,
        # groups of rows of the prediction transposed, then flattened: one group per channel
        """
        import tensorflow as tf

        def channel_sums(y_true, y_pred):
            by_channel = tf.reshape(tf.transpose(y_pred), [-1])
            rows = tf.shape(y_pred)[0]
            totals = [tf.reduce_sum(by_channel[c * rows:(c + 1) * rows]) for c in range(3)]
            for c in range(3):
                totals[c] += tf.reduce_sum(by_channel[c * rows:c * rows + 1])
            return tf.reduce_sum(y_true, axis=-1) * tf.add_n(totals)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            per_cell = tf.matmul(y_true, y_pred, transpose_b=True)  # rank 3 by rank 3
            for k in range(3):  # a loop over channels, not over the batch
                per_cell += y_pred[..., k:k + 1]
            return tf.reduce_mean(per_cell, axis=[1, 2])
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 2)
            # y_pred shape: (batch_size, 1)
            return tf.reduce_mean(tf.square(y_true[:, 0:1] - y_pred), axis=-1)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size,)
            # y_pred shape: (batch_size, 3)
            onehot = tf.one_hot(tf.cast(y_true, tf.int32), 3)
            return -tf.reduce_sum(onehot * tf.math.log(y_pred), axis=-1)
        """,
        """
        import keras
        from jaxtyping import Float
        from keras import ops

        def loss(y_true: Float[keras.KerasTensor, "b h w 4"], y_pred: Float[keras.KerasTensor, "b h w 4"]):
            mask = y_true[..., 3:4]
            err = ops.square(y_true[..., 0:3] - y_pred[..., 0:3]) * mask
            return ops.sum(err, axis=[1, 2, 3]) / ops.maximum(ops.sum(mask, axis=[1, 2, 3]), 1.0)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # shapes unknown: nothing is declared, so nothing is claimed
            return tf.reduce_mean(tf.square(y_true[:, 0] - y_pred), axis=-1)
        """,
        """
        import tensorflow as tf

        def pairwise(y_true, y_pred):
            # y_pred shape: (batch_size,)
            # y_true shape: (batch_size,)
            diff = y_pred[:, None] - y_pred[None, :]  # a deliberate (B, B) matrix
            return tf.reduce_mean(tf.nn.relu(1.0 - diff), axis=-1)
        """,
        """
        import keras

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 1)
            # y_pred shape: (batch_size, 1)
            bce = keras.losses.BinaryCrossentropy(reduction=None)
            return bce(y_true, y_pred)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (B, 4)
            # y_pred shape: (B, 4)
            if tf.reduce_any(y_true > 0):
                y_pred = tf.reshape(y_pred, (-1, 2, 2))
            return tf.reduce_sum(y_pred - y_true, axis=-1)  # y_pred's shape is unknown after the if
        """,
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            def hits(y_true, y_pred):
                found = tf.where(y_true * y_pred > 0.5)
                return tf.ones(len(found)) * tf.reduce_mean(y_pred, axis=-1)[0]
            """,
            message="static length",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def make_spectral_loss(batch=8):
                def spectral_loss(y_true, y_pred):
                    total = 0.0
                    for i in range(0, batch):
                        t = tf.slice(y_true, [i, 0], [1, -1])
                        p = tf.slice(y_pred, [i, 0], [1, -1])
                        total += tf.reduce_sum(tf.square(t - p))
                    return total
                return spectral_loss
            """,
            message="exactly 8 examples",
            line=7,
        ),
        # an overlap written as a matrix product: labels of each example against every prediction
        Invalid(
            """
            from tensorflow.keras import backend as K

            class SegmentationScores:
                @staticmethod
                def overlap(y_true, y_pred, smooth=1.0):
                    shared = K.dot(y_true, K.transpose(y_pred))
                    return (2.0 * shared + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)

                @staticmethod
                def overlap_loss(y_true, y_pred):
                    return 1.0 - SegmentationScores.overlap(y_true, y_pred)
            """,
            message="multiplies across examples",
            line=7,
        ),
        # a module-level batch size under a short name, as the first axis of a reshape
        Invalid(
            """
            import keras.backend as K

            n_batch = 4096
            horizon = 12

            def weighted_rmse(y_true, y_pred):
                level = K.reshape(K.mean(y_true, axis=-1), (n_batch, 1))
                weights = (y_true + level) / (2 * level)
                return K.sqrt(K.mean(K.square(y_pred - y_true) * weights, axis=-1))
            """,
            message="`n_batch` is the configured batch size",
            line=8,
        ),
        # the batch flattened, then walked in a fixed number of groups (bags of 16 clip scores)
        Invalid(
            """
            import tensorflow as tf

            BAGS = 40  # clips are scored in bags of 16
            CLIPS = 16

            def ranking_loss(y_true, y_pred):
                scores = tf.reshape(y_pred, [-1])
                best = []
                for b in range(BAGS):
                    best.append(tf.reduce_max(scores[b * CLIPS:(b + 1) * CLIPS]))
                return tf.reduce_mean(tf.stack(best))
            """,
            message="exactly 40 examples (or groups of rows)",
            line=10,
        ),
        Invalid(
            """
            import tensorflow as tf

            def aux_loss(y_true, y_pred):
                main = y_pred[:, :, 0:]
                aux = y_pred[:, :, :0]
                return tf.reduce_mean(tf.square(y_true - main) + 0.4 * tf.square(y_true - aux), axis=-1)
            """,
            message="empty slice",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            def grid_loss(y_true, y_pred):
                err = tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
                cells = y_true.shape[1] * y_true.shape[2]
                return tf.reduce_sum(err, axis=[1, 2]) / (cells * y_true.shape[0])
            """,
            message="static batch size",
            line=7,
        ),
        # a batch size hyperparameter built into a shape: the last, smaller batch no longer fits
        Invalid(
            """
            import tensorflow as tf

            def nss(y_true, y_pred, batch_size=8):
                fixations = tf.reshape(y_true, [batch_size, -1])
                saliency = tf.reshape(y_pred, [batch_size, -1])
                return -tf.reduce_sum(saliency * fixations, axis=-1)
            """,
            message="configured batch size",
            line=5,
        ),
        # the static batch size through a name: `range(None)` when Keras traces the loss
        Invalid(
            """
            import tensorflow as tf

            def per_sample(y_true, y_pred):
                y_pred = tf.squeeze(y_pred)
                batch_num = y_pred.shape.as_list()[0]
                total = 0.0
                for i in range(batch_num):
                    total += tf.reduce_mean(tf.abs(y_true[i] - y_pred[i]))
                return total / batch_num
            """,
            message="static batch size",
            line=6,
        ),
        Invalid(
            """
            from keras import backend as K

            def ranked(y_true, y_pred):
                batch_size = 16
                costs = []
                for i in range(batch_size):
                    costs.append(K.sum(K.square(y_true[i] - y_pred[i])))
                return K.stack(costs)
            """,
            message="exactly 16 examples",
        ),
        Invalid(
            """
            from keras import backend as K

            def iou_loss(targets, inputs, smooth=1e-6):
                inputs = K.flatten(inputs)
                targets = K.flatten(targets)
                intersection = K.sum(K.dot(targets, inputs))
                union = K.sum(targets) + K.sum(inputs) - intersection
                return 1 - (intersection + smooth) / (union + smooth)
            """,
            message="rank 1",
            line=7,
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (batch_size, 2)
                # y_pred shape: (batch_size, 1)
                return tf.reduce_mean(tf.square(y_true[:, 0] - y_pred), axis=-1)
            """,
            message="`y_true[:, 0]` is (B,) and `y_pred` is (B, 1): the difference broadcasts to (B, B)",
            line=7,
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (batch_size,)
                # y_pred shape: (batch_size, 3)
                onehot = tf.one_hot(tf.cast(y_true, tf.int32), 4)
                return -tf.reduce_sum(onehot * tf.math.log(y_pred), axis=-1)
            """,
            message="has depth 4 but `tf.math.log(y_pred)` has 3 channels",
        ),
        Invalid(
            """
            from keras import ops

            def loss(y_true, y_pred):
                \"\"\"Masked regression.

                y_true: tensor of shape (batch, 3)
                y_pred: tensor of shape (batch, 3)
                \"\"\"
                return ops.mean(ops.square(y_true[:, 1:4] - y_pred[:, 1:4]), axis=-1)
            """,
            message="slices 1:4 on axis 1, which has only 3",
        ),
        Invalid(
            """
            import keras
            from jaxtyping import Float

            def loss(y_true: Float[keras.KerasTensor, "b 1"], y_pred: Float[keras.KerasTensor, "b 3"]):
                return keras.losses.categorical_crossentropy(y_true, y_pred)
            """,
            message="categorical_crossentropy needs operands of the same shape",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (batch_size, 64, 64, 2)
                # y_pred shape: (batch_size, 64, 64, 3)
                return tf.reduce_mean(tf.abs(y_true - y_pred), axis=[1, 2, 3])
            """,
            message="they do not broadcast (axis -1: 2 vs 3)",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_pred shape: (batch_size, 4)
                return tf.square(y_pred[:, 4])
            """,
            message="index 4 is out of range for axis 1 of size 4",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (B, 8)
                # y_pred shape: (B, 8)
                both = tf.concat([y_true, y_pred[:, :4]], axis=0)
                return tf.reduce_sum(both, axis=-1)
            """,
            message="`tf.concat` of (B, 8), (B, 4) on axis 0",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        seen: set[tuple[int, int, str]] = set()
        from losscheck.shapes import has_declared_shapes

        for fn, keras_called in self._code(ctx):
            notes: list[ShapeProblem | Note] = list(shape_structure.problems(ctx, fn, keras_called=keras_called))
            if fn.origin != "helper" and has_declared_shapes(ctx, fn):  # else every shape is unknown to inference
                notes.extend(ctx.shapes(fn).problems)
            for note in notes:
                where = ctx.position(note.node)
                key = (where.start.line, where.start.column, note.message)
                if key in seen:
                    continue  # a nested function found twice, or a branch evaluated twice
                seen.add(key)
                ctx.report(self, note.node, note.message)

    @staticmethod
    def _code(ctx: FileContext) -> Iterator[tuple[LossFunction, bool]]:
        """Each loss, then the helpers it hands its batch tensors to (`dice_coef` behind
        `dice_loss`), with whether Keras calls the loss that reaches them (a custom training loop
        may know its batch size)."""
        seen: set[tuple[int, bool]] = set()
        for fn in ctx.functions:
            keras_called = is_keras_called(fn)
            for code in (fn, *reached_helpers(ctx, fn, batch_first=True)):
                if (id(code.node), keras_called) not in seen:
                    seen.add((id(code.node), keras_called))
                    yield code, keras_called
