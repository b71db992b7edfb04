"""LCK902 inference-gap: where shape inference lost track of a known shape (off by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext


class InferenceGap(Rule):
    """Where static shape inference stopped following a value whose shape it knew.

    ## What it does
    In a loss whose `y_true`/`y_pred` shapes are declared (layout, shape comment or jaxtyping
    annotation), notes each call that takes a tensor of known shape and gives back a value
    whose shape inference cannot follow: a helper function it does not enter, a method, or an
    op it does not model. Off by default; enable it with `--extend-select LCK902`.

    ## Why is this bad?
    It is not a bug. `shape-mismatch` says nothing past these points, so a mistake after
    them goes unreported; the note tells you where the linter's view ends, so you can add a
    shape comment there or inline the helper.

    ## Example
    ```python
    def loss(y_true, y_pred):
        # y_true shape: (batch_size, 4)
        # y_pred shape: (batch_size, 4)
        return my_helper(y_true, y_pred)
    ```

    ## Use instead
    ```python
    def loss(y_true, y_pred):
        # y_true shape: (batch_size, 4)
        # y_pred shape: (batch_size, 4)
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LCK902"
    name = "inference-gap"
    summary = "Shape inference lost track of a known shape here (informational, off by default)"
    severity = "info"
    default_enabled = False

    VALID = [
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 4)
            # y_pred shape: (batch_size, 4)
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """,
        """
        def loss(y_true, y_pred):
            # nothing declared: nothing was being tracked, so nothing was lost
            return my_helper(y_true, y_pred)
        """,
        """
        from keras import ops

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 4)
            # y_pred shape: (batch_size, 4)
            err = ops.abs(y_true - y_pred)
            return ops.mean(ops.where(err < 1.0, 0.5 * err ** 2, err - 0.5), axis=-1)
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_pred shape: (batch_size, 4)
            scale = get_scale()  # no tensor of known shape goes in
            return tf.reduce_sum(y_pred, axis=-1) * scale
        """,
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 2)
            # y_pred shape: (batch_size, 2)
            probs = tf.nn.softmax(y_pred, axis=-1)
            return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)
        """,
    ]
    INVALID = [
        Invalid(
            """
            def loss(y_true, y_pred):
                # y_true shape: (batch_size, 4)
                # y_pred shape: (batch_size, 4)
                return my_helper(y_true, y_pred)
            """,
            message="`my_helper` is not followed",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_pred shape: (batch_size, 4)
                return tf.linalg.norm(y_pred, axis=-1)
            """,
            message="is not modelled",
        ),
        Invalid(
            """
            def loss(y_true, y_pred):
                # y_pred shape: (batch_size, 4)
                return y_pred.sum(axis=-1)
            """,
            message="the method `.sum()`",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_pred shape: (batch_size, 4)
                n = tf.shape(y_pred)[0]
                return tf.reshape(y_pred, [n * 2, -1])
            """,
            message="is not inferred",
        ),
        Invalid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (batch_size, 4)
                # y_pred shape: (batch_size, 4)
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=compute_axis())
            """,
            message="is not inferred",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        seen: set[tuple[int, int]] = set()
        from losscheck.shapes import has_declared_shapes

        for fn in ctx.functions:
            if not has_declared_shapes(ctx, fn):
                continue  # nothing declared: every shape is unknown, nothing to report
            for note in ctx.shapes(fn).gaps:
                where = ctx.position(note.node)
                key = (where.start.line, where.start.column)
                if key in seen:
                    continue
                seen.add(key)
                ctx.report(self, note.node, note.message)
