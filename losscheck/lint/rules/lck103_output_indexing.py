"""LCK103 output-indexing."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import string_value
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts, function_facts
from losscheck.lint.loss_roles import is_keras_called
from losscheck.lint.project_uses import unless_used_only_in_loops
from losscheck.lint.rule import Invalid, Rule, Valid

_ONCE_PER_OUTPUT = (
    "Keras calls a single `loss=` function once per output, with that output's `y_true`/`y_pred` tensors"
)
_USE_DICT = 'Pass one loss per output instead: `compile(loss={"output_name": fn, ...})`.'


class OutputIndexing(Rule):
    """
    ## What it does
    Checks for loss functions that treat `y_true`/`y_pred` as a collection of model outputs:
    string subscripts (`y_true["mask"]`), iteration (`for t in y_true`, `zip(y_true, y_pred)`,
    `enumerate(y_pred)`), dict methods (`y_true.items()`), or `len(y_pred)` as an output count.
    A loss that other modules of the project use only in custom training loops (inside functions
    that run a `GradientTape`, never passed to `compile`) is not checked: a loop may pass a list.

    ## Why is this bad?
    With `model.compile(loss=fn)` on a multi-output model, Keras calls `fn` once per output and
    passes that output's tensors. `y_true` is one tensor with the batch first, never a dict or list
    of outputs: a string subscript raises, and iterating walks over the samples of the batch
    (and `len` gives the batch size), silently.

    ## Example
    ```python
    def total_loss(y_true, y_pred):
        return mse(y_true["depth"], y_pred["depth"]) + bce(y_true["mask"], y_pred["mask"])
    ```

    ## Use instead
    ```python
    model.compile(loss={"depth": "mse", "mask": "binary_crossentropy"})
    ```
    """

    code = "LCK103"
    name = "output-indexing"
    summary = "A loss indexes or iterates y_true/y_pred as if they held several outputs"
    severity = "error"

    VALID = [
        Valid(
            """
            import tensorflow as tf

            def depth_loss(y_true, y_pred):
                return tf.reduce_mean(tf.abs(y_true - y_pred), axis=[1, 2])

            model.compile(loss={"depth": depth_loss, "mask": "binary_crossentropy"})
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def train_step_loss(targets, outputs):
                # a custom-training-loop helper: lists of outputs are real here
                return sum(tf.reduce_mean(tf.square(t - o)) for t, o in zip(targets, outputs))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def seq_loss(y_true, y_pred):
                steps = tf.unstack(y_pred, axis=1)
                total = 0.0
                for step in steps:  # iterating time steps, not outputs
                    total += tf.reduce_sum(tf.square(y_true[:, 0] - step[:, 0]), axis=-1)
                return total
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def config_loss(y_true, y_pred, config={"alpha": 0.5}):
                return config["alpha"] * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            def total_loss(y_true, y_pred):
                total = 0.0
                for head in ("boxes", "scores"):
                    total += tf.reduce_mean(tf.square(y_true[head] - y_pred[head]), axis=-1)
                return total
            """,
            message="by output name",
            count=2,
        ),
        Invalid(
            """
            import tensorflow as tf

            def total_loss(y_true, y_pred):
                depth = tf.reduce_mean(tf.abs(y_true["depth"] - y_pred["depth"]), axis=[1, 2])
                return depth
            """,
            message='`y_true["depth"]` indexes `y_true` by output name',
            line=5,
            count=2,
        ),
        Invalid(
            """
            import tensorflow as tf

            def multi_loss(y_true, y_pred):
                total = 0.0
                for t, p in zip(y_true, y_pred):
                    total += tf.reduce_mean(tf.square(t - p), axis=-1)
                return total
            """,
            message="`zip(y_true, y_pred)` iterates over the samples of the batch",
            line=6,
        ),
        Invalid(
            """
            import keras

            def averaged(y_true, y_pred):
                n_outputs = len(y_pred)
                return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) / n_outputs
            """,
            message="`len(y_pred)` is the batch size",
        ),
        Invalid(
            """
            import tensorflow as tf

            class MultiLoss(tf.keras.losses.Loss):
                def call(self, y_true, y_pred):
                    losses = [tf.reduce_mean(tf.square(t - p), axis=-1) for t, p in zip(y_true, y_pred)]
                    return tf.add_n(losses)
            """,
            message="iterates over the samples of the batch",
        ),
        Invalid(
            """
            def weighted(y_true, y_pred):
                total = 0.0
                for name, target in y_true.items():
                    total += (target - y_pred[name]) ** 2
                return total
            """,
            message="`y_true.items()`",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        for fn in ctx.functions:
            if not is_keras_called(fn):
                continue
            facts = function_facts(ctx, fn)
            # only Keras promises one output's tensors; a training loop may pass a list
            with unless_used_only_in_loops(ctx, fn):
                for node in function_facts(ctx, fn).nodes:
                    self._check_node(ctx, fn, facts, node)

    def _param(self, facts: FunctionFacts, expr: cst.BaseExpression) -> str | None:
        """The y_true/y_pred parameter ``expr`` is, if it still holds the incoming tensor."""
        if type(expr) is cst.Name and facts.is_param(expr.value) and not facts.is_bound_locally(expr.value):
            return expr.value
        return None

    @staticmethod
    def _string_name(facts: FunctionFacts, name: cst.Name) -> str | None:
        """A name that only ever holds strings (``key = "seg"``; ``for key in ["seg", "cls"]``)."""
        value = facts.single_value(name.value)
        if value is not None:
            return string_value(value)
        iterables = facts.loop_vars.get(name.value, [])
        if not iterables or name.value in facts.assigns or name.value in facts.aug_assigns:
            return None
        for iterable in iterables:
            if type(iterable) is cst.Name:
                iterable = facts.single_value(iterable.value) or iterable
            if type(iterable) not in (cst.List, cst.Tuple) or not iterable.elements:
                return None
            if any(string_value(e.value) is None for e in iterable.elements):
                return None
        return name.value

    def _check_node(self, ctx: FileContext, fn: LossFunction, facts: FunctionFacts, node: cst.CSTNode) -> None:
        if type(node) is cst.Subscript:
            var = self._param(facts, node.value)
            if var and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                index = node.slice[0].slice.value
                key = string_value(index) if type(index) is not cst.Name else self._string_name(facts, index)
                if key is not None:
                    ctx.report(
                        self,
                        node,
                        f"`{ctx.code_for(node)}` indexes `{var}` by output name, but `{var}` is one tensor: "
                        f"{_ONCE_PER_OUTPUT}. {_USE_DICT}",
                    )
        elif type(node) in (cst.For, cst.CompFor):
            var = self._param(facts, node.iter)
            if var:
                ctx.report(
                    self,
                    node.iter,
                    f"`for ... in {var}` iterates over the samples of the batch, not over outputs: "
                    f"{_ONCE_PER_OUTPUT}. {_USE_DICT}",
                )
        elif type(node) is cst.Call and type(node.func) is cst.Name:
            func = node.func.value
            args = [a.value for a in node.args]
            if func in {"zip", "enumerate", "iter", "list", "tuple"} and any(self._param(facts, a) for a in args):
                ctx.report(
                    self,
                    node,
                    f"`{ctx.code_for(node)}` iterates over the samples of the batch, not over outputs: "
                    f"{_ONCE_PER_OUTPUT}. {_USE_DICT}",
                )
            elif func == "len" and len(args) == 1 and self._param(facts, args[0]):
                var = self._param(facts, args[0])
                ctx.report(
                    self,
                    node,
                    f"`len({var})` is the batch size (and fails in graph mode when it is unknown), not the "
                    f"number of outputs: {_ONCE_PER_OUTPUT}. {_USE_DICT}",
                )
        elif type(node) is cst.Call and type(node.func) is cst.Attribute:
            var = self._param(facts, node.func.value)
            if var and node.func.attr.value in {"items", "keys", "values"} and not node.args:
                ctx.report(
                    self,
                    node,
                    f"`{ctx.code_for(node)}` treats `{var}` as a dict of outputs, but it is one tensor: "
                    f"{_ONCE_PER_OUTPUT}. {_USE_DICT}",
                )
