"""LCK401 shape-mismatch: shapes that certainly fail or silently broadcast wrong (static shape inference)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext


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

        for fn in ctx.functions:
            if not has_declared_shapes(ctx, fn):
                continue  # nothing declared: every shape is unknown, nothing to report
            facts = ctx.shapes(fn)
            for note in facts.problems:
                where = ctx.position(note.node)
                key = (where.start.line, where.start.column, note.message)
                if key in seen:
                    continue  # a nested function found twice, or a branch evaluated twice
                seen.add(key)
                ctx.report(self, note.node, note.message)
