"""LCK102 wrong-axis."""

from __future__ import annotations


import libcst as cst

from losscheck.lint.astutil import literal_int, literal_ints, walk
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import (
    PRED,
    TRUE,
    FunctionFacts,
    function_facts,
    reaching_values,
)
from losscheck.lint import sample_mixing
from losscheck.lint.batch_axis_ops import batch_axis_ops
from losscheck.lint.loss_roles import is_keras_called
from losscheck.lint.project_uses import unless_used_only_in_loops
from losscheck.lint.ignored_params import ignored_parameters
from losscheck.lint.reductions import as_reduction, axis0_is_batch
from losscheck.lint.return_verdicts import reduced_returns
from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.sample_indexing import is_range_loop_var, only_for_shape, sums_output_terms
from losscheck.lint.summaries import code_with_helpers


class WrongAxis(Rule):
    """
    ## What it does
    Checks for operations on the batch axis (axis 0) of `y_true`/`y_pred` where a feature axis is
    meant: `softmax`, `argmax`, `one_hot`, `concat` or `gather` with `axis=0` (or a default that is
    axis 0, like `tf.argmax(y_pred)` and `tf.gather(y_pred, [0, 2])`), integer indexing on axis 0
    (`y_true[0]`, `y_pred[i]`, `y_true[0, ...]`), and a reduction over `axis=0` of the error between
    `y_true` and `y_pred` that is then mixed into the returned loss (a batch reduction of the whole
    returned value is `batch-mean-reduction`). Batch statistics of the labels alone (class counts)
    or of the prediction alone (centre terms) are deliberate and not reported; nor are loops over
    the samples (`for i in range(batch_size)`). Integer indexing is not reported in a loss that
    other modules of the project use only in custom training loops (inside functions that run a
    `GradientTape`, never passed to `compile`), which may pass a list of outputs, nor in a
    pass-through loss that never reads `y_true` (the model outputs its own loss terms).

    ## Why is this bad?
    Keras hands a loss one output's tensors with the batch first: `y_true[0]` is the first
    SAMPLE, not the first output or channel, and a softmax or argmax over axis 0 mixes the
    examples of the batch. There is no error: the loss is just wrong, and it changes with the
    batch size (the last, smaller batch included).

    ## Example
    ```python
    def two_head_loss(y_true, y_pred):
        return tf.square(y_true[0] - y_pred[0]) + tf.square(y_true[1] - y_pred[1])
    ```

    ## Use instead
    ```python
    def two_head_loss(y_true, y_pred):
        return tf.square(y_true[..., 0] - y_pred[..., 0]) + tf.square(y_true[..., 1] - y_pred[..., 1])
    ```
    Index the channel axis (`y[..., 0]`, `y[:, 0]`) and give softmax/argmax `axis=-1`. For a model
    with several outputs, pass `loss={"name": fn, ...}` to `compile`. Axis 0 after `tf.stack`,
    `transpose` or `unstack` is not the batch, and this rule does not look there.
    """

    code = "LCK102"
    name = "wrong-axis"
    summary = "Softmax/argmax/concat/gather/indexing on the batch axis (axis 0) of y_true/y_pred"
    severity = "error"

    VALID = [
        Valid(
            """
            import tensorflow as tf

            def dice_loss(y_true, y_pred, axis=(1, 2), **kwargs):
                inter = tf.reduce_sum(y_true * y_pred, axis=axis)
                return 1.0 - 2.0 * inter / (tf.reduce_sum(y_true + y_pred, axis=axis) + 1.0)

            def base_loss(y_true, y_pred, axis=-1):
                raise NotImplementedError

            def stub_loss(y_true, y_pred, axis=-1, from_logits=False): ...
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def pose_loss(y_true, y_pred):
                position = tf.norm(y_pred[:, :3] - y_true[:, :3], axis=-1)
                hinge = tf.maximum(1.0 - y_pred[..., 0], 0)
                flat = tf.reshape(y_pred, [tf.shape(y_pred)[0], -1])
                return position + hinge + tf.reduce_max(flat, axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def two_head_loss(y_true, y_pred):
                return tf.square(y_true[..., 0] - y_pred[..., 0]) + tf.square(y_true[:, 1] - y_pred[:, 1])
            """
        ),
        Valid(
            """
            import tensorflow as tf

            # The model computes its own loss terms and outputs `tf.stack([image_term, kspace_term])`;
            # compile gets a pass-through loss that never reads y_true.
            def pass_through(y_true, y_pred):
                return y_pred[0] + y_pred[1]
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def stacked(y_true, y_pred):
                parts = tf.stack([y_true[:, 0], y_pred[:, 0]])
                first = parts[0]  # axis 0 is the stack axis here, not the batch
                batch = tf.shape(y_true)[0]
                return tf.abs(first - parts[1]) / tf.cast(batch, tf.float32)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def ce(y_true, y_pred):
                probs = tf.nn.softmax(y_pred, axis=-1)
                labels = tf.argmax(y_true, axis=-1)
                return tf.keras.losses.sparse_categorical_crossentropy(labels, probs)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def per_step(y_true, y_pred):
                steps = tf.unstack(y_pred, axis=1)
                first = steps[0]  # unstacked along time: a step, not a sample
                n = y_true.shape[0]
                return tf.reduce_mean(tf.square(y_true[:, 0] - first), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def class_balanced(y_true, y_pred):
                # batch statistics of the labels used as weights: deliberate
                counts = tf.reduce_sum(y_true, axis=0)
                weights = 1.0 / tf.maximum(counts, 1.0)
                return -tf.reduce_sum(weights * y_true * tf.math.log(y_pred + 1e-7), axis=-1)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def centre_loss(y_true, y_pred):
                # a batch statistic of the prediction, on purpose
                centres = tf.reduce_mean(y_pred, axis=0, keepdims=True)
                return tf.reduce_sum(tf.square(y_pred - centres), axis=-1)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            def triplet(y_true, y_pred):  # y_true unused: but these are three SAMPLES, not three embeddings
                anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
                closer = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
                farther = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
                return tf.maximum(closer - farther + 0.2, 0.0)
            """,
            message="selects the first SAMPLE of the batch",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            def _dice(y_true, y_pred, axis=(1, 2), smooth=1.0):
                inter = tf.reduce_sum(y_true * y_pred, axis=[1, 2])
                union = tf.reduce_sum(y_true + y_pred, axis=[1, 2])
                return 1.0 - (2.0 * inter + smooth) / (union + smooth)

            def dice_loss(y_true, y_pred):
                return _dice(y_true, y_pred, axis=(2, 3))
            """,
            message="accepts `axis` and never uses it",
            line=4,
        ),
        Invalid(
            """
            import tensorflow as tf

            def two_heads(y_true, y_pred):
                box, score = tf.split(y_pred, 2)
                true_box, true_score = tf.split(y_true, [4, 1], axis=-1)
                return tf.reduce_sum(tf.square(box - true_box), axis=-1) + tf.square(score - true_score)[:, 0]
            """,
            message="cuts `y_pred` along axis 0",
            line=5,
            count=1,
        ),
        Invalid(
            """
            import keras

            def per_head(y_true, y_pred):
                heads = keras.ops.unstack(y_pred)
                return keras.ops.mean(keras.ops.square(heads[0] - y_true), axis=-1)
            """,
            message="the batch axis",
        ),
        Invalid(
            """
            import tensorflow as tf

            def two_head_loss(y_true, y_pred):
                return tf.square(y_true[0] - y_pred[0])
            """,
            message="`y_true[0]` selects the first SAMPLE of the batch, not an output",
            line=5,
            count=2,
            fixed="""
            import tensorflow as tf

            def two_head_loss(y_true, y_pred):
                return tf.square(y_true[..., 0] - y_pred[..., 0])
            """,
        ),
        Invalid(
            """
            import tensorflow as tf

            def multi(y_true, y_pred):
                total = 0.0
                for i in range(3):
                    total += tf.abs(y_true[:, i] - y_pred[i])
                return total
            """,
            message="`y_pred[i]` selects sample `i` of the batch",
            line=7,
        ),
        Invalid(
            """
            import tensorflow as tf

            def ce(y_true, y_pred):
                probs = tf.nn.softmax(y_pred, axis=0)
                return -tf.reduce_sum(y_true * tf.math.log(probs), axis=-1)
            """,
            message="softmax over axis 0 normalises across the samples of the batch",
            line=5,
        ),
        Invalid(
            """
            import tensorflow as tf

            def acc_gap(y_true, y_pred):
                hit = tf.cast(tf.equal(tf.argmax(y_true), tf.argmax(y_pred, axis=-1)), tf.float32)
                return 1.0 - hit
            """,
            message="`tf.argmax` without an axis works along axis 0",
        ),
        Invalid(
            """
            import tensorflow as tf

            def pick(y_true, y_pred):
                chosen = tf.gather(y_pred, [0, 2])
                return tf.reduce_mean(tf.square(y_true - chosen), axis=-1)
            """,
            message="gathers along axis 0",
        ),
        Invalid(
            """
            import tensorflow as tf

            def per_feature(y_true, y_pred):
                ce = tf.keras.losses.categorical_crossentropy(y_true, y_pred)
                feature_err = tf.reduce_mean(tf.square(y_true - y_pred), axis=0)
                return ce + tf.reduce_sum(feature_err)
            """,
            message="reduces the error over axis 0",
        ),
        Invalid(
            """
            from keras import backend as K

            def pose_loss(y_true, y_pred):
                position = K.sqrt(K.sum(K.square(y_pred[:3] - y_true[:3]), axis=-1))
                return position + K.sqrt(K.sum(K.square(y_pred[3:] - y_true[3:]), axis=-1))
            """,
            message="slices the first axis",
            line=5,
            count=4,
        ),
        Invalid(
            """
            import tensorflow as tf

            def contrastive(y_true, y_pred):
                margin = 1.0
                far = tf.square(tf.reduce_max(margin - y_pred, 0))
                return y_true * tf.square(y_pred) + (1 - y_true) * far
            """,
            message="tf.maximum(margin - y_pred, 0)",
        ),
        Invalid(
            """
            from keras import backend as K

            def true_class_loss(y_true, y_pred):
                flat_true = K.flatten(y_true)
                flat_pred = K.flatten(y_pred)
                index = K.argmax(flat_true)
                return -K.log(K.gather(flat_pred, index))
            """,
            message="flattened across the whole batch",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        for fn in ctx.functions:
            if not is_keras_called(fn):
                continue
            facts = function_facts(ctx, fn)
            with unless_used_only_in_loops(ctx, fn):  # a training loop may pass a list of outputs
                self._indexing(ctx, fn, facts)
            for node, message in batch_axis_ops(ctx, fn, facts):
                ctx.report(self, node, message)
            self._sample_mixing(ctx, facts)
            if fn.kind == "loss":
                self._reductions(ctx, fn, facts)
        self._ignored_axis(ctx)

    # -- y_true[0], y_pred[i] ------------------------------------------------------------------
    def _indexing(self, ctx: FileContext, fn: LossFunction, facts: FunctionFacts) -> None:
        pass_through = sums_output_terms(facts)
        for node in facts.nodes:
            if type(node) is not cst.Subscript or type(node.value) is not cst.Name:
                continue
            if not node.slice or not facts.is_param(node.value.value):
                continue
            if pass_through and node.value.value == fn.y_pred:
                continue
            if not axis0_is_batch(ctx, facts, node.value):
                continue
            first = node.slice[0].slice
            if type(first) is not cst.Index or first.star is not None:
                continue
            index = first.value
            is_int = literal_int(index) is not None
            is_loop_int = type(index) is cst.Name and is_range_loop_var(facts, index.value)
            if not (is_int or is_loop_int):
                continue
            if only_for_shape(ctx, facts, node):
                continue
            var = node.value.value
            written = ctx.code_for(node)
            idx = ctx.code_for(index)
            what = "the first SAMPLE of the batch" if literal_int(index) == 0 else (
                f"sample `{idx}` of the batch" if is_loop_int else f"SAMPLE {idx} of the batch"
            )
            rest = "".join(", " + ctx.code_for(el.slice) for el in node.slice[1:])
            suggestion = f"{var}[..., {idx}]" if not rest else f"{var}[:{rest}]... (index the channel axis)"
            message = (
                f"`{written}` selects {what}, not an output or a channel: Keras calls a single loss "
                f"once per output with that output's tensors, batch first. For channel {idx} write "
                f"`{var}[..., {idx}]` (or `{var}[:, {idx}]`); for several outputs pass "
                "`loss={\"name\": fn, ...}` to compile."
            )
            fix = None
            if len(node.slice) == 1:
                fix = ctx.replace_fix(
                    node, suggestion, safe=False, description=f"index the last axis: `{suggestion}`"
                )
            ctx.report(self, node, message, fix=fix)

    def _ignored_axis(self, ctx: FileContext) -> None:
        """`def dice(y_true, y_pred, axis=(1, 2))` whose body never reads `axis`."""
        for code in code_with_helpers(ctx, ctx.functions):
            for param in ignored_parameters(code.node, frozenset({"axis", "axes"})):
                ctx.report(
                    self,
                    param,
                    f"`{code.name}` accepts `{param.name.value}` and never uses it: it reduces over the axes "
                    "written in its body whatever the caller passes, so a caller who sets the axis (for "
                    "channels-first data, or a sequence axis) silently gets the wrong one. Use the "
                    "parameter, or remove it.",
                )

    def _sample_mixing(self, ctx: FileContext, facts: FunctionFacts) -> None:
        for node in facts.nodes:
            if type(node) is cst.Subscript:
                found = list(sample_mixing.batch_slices(ctx, facts, node))
                if found and only_for_shape(ctx, facts, node):
                    continue
            elif type(node) is cst.Call:
                found = [*sample_mixing.hinge_over_batch(ctx, facts, node),
                         *sample_mixing.picks_over_flattened_batch(ctx, facts, node)]
            else:
                continue
            for where, message in found:
                ctx.report(self, where, message)

    # -- reductions of the prediction over axis 0 that feed the loss -----------------------------
    def _reductions(self, ctx: FileContext, fn: LossFunction, facts: FunctionFacts) -> None:
        claimed = {id(v.witness) for _e, v in reduced_returns(ctx, fn)}
        reaching = reaching_values(facts, facts.returns)
        reaching_ids: set[int] = set()
        for expr in reaching:
            reaching_ids.update(id(n) for n in walk(expr))
        for node in function_facts(ctx, fn).nodes:
            if type(node) is not cst.Call or id(node) in claimed or id(node) not in reaching_ids:
                continue
            reduction = as_reduction(ctx, node)
            if reduction is None or reduction.axis is None:
                continue
            axes = literal_ints(reduction.axis)
            if axes is None or 0 not in axes:
                continue
            # batch statistics of the labels (class counts for weighting) or of the prediction
            # (centre/diversity terms) are deliberate; the ERROR between them reduced over the batch
            # and then mixed into a per-example loss is not
            if facts.sources(reduction.operand) != frozenset({PRED, TRUE}):
                continue
            if not axis0_is_batch(ctx, facts, reduction.operand):
                continue
            callee = ctx.code_for(node.func)
            ctx.report(
                self,
                node,
                f"`{callee}(..., axis=0)` reduces the error over axis 0, the batch, and the result feeds "
                f"the loss `{fn.name}`: every example's loss then depends on the other examples in the batch "
                "(and on the batch size). If a feature axis was meant, use `axis=-1`.",
            )
