"""LCK201 numpy-in-loss."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.facts import fact
from losscheck.lint.astutil import all_nodes, get_arg
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import function_facts
from losscheck.lint.differentiated import differentiated
from losscheck.lint.loss_roles import is_keras_called
from losscheck.lint.project_uses import unless_compiled_only_eagerly
from losscheck.lint.imports import is_numpy

# Libraries that turn what they are given into NumPy arrays (sklearn.metrics.f1_score, scipy...).
_ARRAY_LIBRARIES = frozenset({"sklearn", "scipy", "pandas"})
from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.summaries import code_with_helpers

# functions whose callable argument runs eagerly on NumPy values: NumPy is fine inside them
_EAGER_WRAPPERS = frozenset(
    {"tensorflow.py_function", "tensorflow.numpy_function", "tensorflow.compat.v1.py_func",
     "tensorflow.py_func", "tensorflow.compat.v1.numpy_function", "tensorflow.compat.v2.py_function",
     "tensorflow.compat.v2.numpy_function"}
)


@fact()
def _eager_callables(ctx: FileContext) -> tuple[set[str], set[int]]:
    """Names of functions and ids of lambdas passed to tf.py_function / tf.numpy_function."""
    names: set[str] = set()
    lambdas: set[int] = set()
    for node in all_nodes(ctx):
        if type(node) is cst.Call and ctx.imports.qualname(node.func) in _EAGER_WRAPPERS:
            func = get_arg(node, "func", 0)
            if type(func) is cst.Name:
                names.add(func.value)
            elif type(func) is cst.Lambda:
                lambdas.add(id(func))
    return names, lambdas


def _calls(expr: cst.BaseExpression) -> list[cst.Call]:
    """The calls inside ``expr``, not inside a lambda (a value computed later, or elsewhere)."""
    out: list[cst.Call] = []
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if type(node) is cst.Lambda:
            continue
        if type(node) is cst.Call:
            out.append(node)
        stack.extend(node.children)
    return out


def _has_tensor_op(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    """``expr`` calls a TensorFlow or Keras op (``tf.sqrt(x) - tf.sqrt(y)``): its value is a tensor."""
    for call in _calls(expr):
        qualname = ctx.imports.qualname(call.func)
        if qualname and qualname.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            return True
    return False


class NumpyInLoss(Rule):
    """
    ## What it does
    Checks for NumPy calls on tensors inside loss and metric code (`np.mean(y_pred)`,
    `np.abs(y_true - y_pred)`, NumPy arrays built from tensors) and for `.numpy()` calls there.
    NumPy constants built outside the loss (and converted), dtypes such as `np.float32`, constants
    such as `np.pi`, and functions run through `tf.py_function` / `tf.numpy_function` are fine.
    In a training step (`optimizer.minimize(loss)`, `tape.gradient(loss, variables)`), it checks
    the value differentiated and what it is computed from in that function: NumPy applied to the
    result of a TensorFlow or Keras op there (`np.abs(tf.sqrt(a) - tf.sqrt(b))`), within 60 lines
    of the call that differentiates it.

    ## Why is this bad?
    Keras traces losses into a graph, where tensors are symbolic: NumPy raises
    `NotImplementedError: Cannot convert a symbolic tensor to a numpy array` and `.numpy()` does not
    exist. With `run_eagerly=True` it runs, but the NumPy part gets no gradient ("No gradients
    provided for any variable", or silently a loss term that trains nothing). On JAX it raises
    `TracerArrayConversionError`.

    A metric that every `compile` in the project runs with `run_eagerly=True` gets eager
    tensors and needs no gradient, so NumPy works there: it is not checked.

    A function written in NumPy alone, not named for a loss and not used as a loss or metric in
    the file, is taken for what it almost always is, an evaluation metric run on
    `model.predict` arrays, and is not checked.

    ## Example
    ```python
    def mae(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    model.compile(optimizer="adam", loss=mae)
    ```

    ## Use instead
    ```python
    def mae(y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)
    ```
    """

    code = "LCK201"
    name = "numpy-in-loss"
    summary = "NumPy calls or .numpy() on tensors inside loss or metric code"
    severity = "error"

    VALID = [
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            CLASS_WEIGHTS = np.array([1.0, 2.0, 5.0], dtype=np.float32)

            def weighted_ce(y_true, y_pred):
                w = tf.constant(CLASS_WEIGHTS)
                return -tf.reduce_sum(w * y_true * tf.math.log(y_pred + 1e-7), axis=-1)
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def angle_loss(y_true, y_pred):
                diff = tf.math.floormod(y_true - y_pred + np.pi, 2 * np.pi) - np.pi
                return tf.reduce_mean(tf.square(diff), axis=-1)
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def _np_hausdorff(a, b):
                return np.float32(np.max(np.abs(a - b)))

            def hausdorff_loss(y_true, y_pred):
                return tf.numpy_function(_np_hausdorff, [y_true, y_pred], tf.float32)
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def scaled(y_true, y_pred):
                eps = np.float32(1e-7)
                kernel = np.ones((3, 3), dtype=np.float32) / 9.0
                return tf.reduce_mean(tf.abs(y_true - y_pred) + eps, axis=-1) * kernel.sum()
            """
        ),
        Valid(
            """
            import jax.numpy as jnp

            def jax_mse(y_true, y_pred):
                return jnp.mean((y_true - y_pred) ** 2, axis=-1)
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def rmse(y_true, y_pred):
                # NumPy alone, used by nothing here: an evaluation metric on `model.predict` arrays
                return np.sqrt(np.mean(np.square(y_pred - y_true)))

            print(rmse(y_test, model.predict(x_test)))
            """
        ),
        Valid(
            """
            import keras

            def make_accuracy():
                metric = keras.metrics.Accuracy()

                def check(y_true, y_pred):
                    metric.update_state(y_true, y_pred)
                    return metric.result().numpy()  # run eagerly on arrays, not given to compile()

                return check
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def train(sess, solver, loss, feed):
                step = solver.minimize(loss * np.float32(0.5))  # a NumPy constant scales the tensor
                for _ in range(10):
                    _, value = sess.run([step, loss], feed_dict=feed)
                    print(np.round(np.sqrt(value), 4))  # NumPy on what sess.run returned
            """
        ),
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            def fit(model, optimizer, x, y, weights):
                w = tf.constant(np.asarray(weights, dtype="float32"))  # NumPy on Python data
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(w * tf.square(model(x) - y))
                return tape.gradient(loss, model.trainable_variables)
            """
        ),
        # a Metric subclass that stays in tensors
        Valid(
            """
            import keras
            from keras import ops

            class MeanGap(keras.metrics.Metric):
                def __init__(self, name="mean_gap"):
                    super().__init__(name=name)
                    self.total = self.add_variable(shape=(), initializer="zeros")

                def update_state(self, y_true, y_pred, sample_weight=None):
                    self.total.assign_add(ops.mean(ops.abs(y_true - y_pred)))

                def result(self):
                    return self.total
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from sklearn.metrics import f1_score

            def f1(y_true, y_pred):
                return f1_score(y_true, y_pred > 0.5)

            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[f1])
            """,
            message="sklearn converts its arguments to NumPy arrays",
            line=5,
        ),
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            def _spread(t, p):
                return np.std(p - t, axis=-1)

            def spread_loss(y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + _spread(y_true, y_pred)
            """,
            message="`np.std(...)` is NumPy on a tensor",
            line=6,
        ),
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            def mae(y_true, y_pred):
                return np.mean(np.abs(y_true - y_pred), axis=-1)

            model.compile(optimizer="adam", loss=mae)
            """,
            message="`np.mean(...)` is NumPy on a tensor",
            line=6,
            count=2,
        ),
        Invalid(
            """
            import tensorflow as tf

            def debug_loss(y_true, y_pred):
                values = y_pred.numpy()
                return tf.reduce_mean(tf.square(y_true - values), axis=-1)
            """,
            message="`.numpy()`",
            line=5,
        ),
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            def weighted(y_true, y_pred):
                w = np.where(y_true > 0, 2.0, 1.0)
                return tf.reduce_mean(w * tf.square(y_true - y_pred), axis=-1)
            """,
            message="`np.where(...)` is NumPy on a tensor",
        ),
        Invalid(
            """
            import keras
            import numpy

            class L1(keras.losses.Loss):
                def call(self, y_true, y_pred):
                    diff = y_true - y_pred
                    return numpy.sum(numpy.abs(diff), axis=-1)
            """,
            message="NumPy on a tensor",
            count=2,
        ),
        Invalid(
            """
            import numpy as np

            def iou_metric(y_true, y_pred):
                inter = np.logical_and(y_true > 0.5, y_pred > 0.5).sum()
                return inter

            model.compile(loss="bce", metrics=[iou_metric])
            """,
            message="`np.logical_and(...)`",
        ),
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            def build(x, x_hat, solver, g_loss_u):
                moment = tf.reduce_mean(np.abs(tf.nn.moments(x_hat, [0])[0] - tf.nn.moments(x, [0])[0]))
                g_loss = g_loss_u + 100 * moment
                return solver.minimize(g_loss)
            """,
            message="the value that `minimize()` differentiates",
            line=6,
        ),
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            def train_step(model, optimizer, x, y):
                with tf.GradientTape() as tape:
                    err = tf.square(model(x) - y)
                    loss = np.mean(tf.reduce_sum(err, axis=-1))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
            """,
            message="`np.mean(...)` is NumPy on TensorFlow tensors in `loss`",
            line=8,
        ),
        # Keras traces a Metric's update_state as it traces a loss: a wrapper around a NumPy
        # metric works only with run_eagerly=True
        Invalid(
            """
            import tensorflow as tf

            class NumpyF1(tf.keras.metrics.Metric):
                def __init__(self, scorer, name="f1"):
                    super().__init__(name=name)
                    self.scorer = scorer

                def update_state(self, y_true, y_pred, sample_weight=None):
                    self.scorer.update(y_true.numpy(), y_pred.numpy())

                def result(self):
                    return tf.constant(self.scorer.value())
            """,
            message="in the metric `NumpyF1.update_state`",
            line=10,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        eager_names, eager_lambdas = _eager_callables(ctx)
        # `(target, output)` helpers may be NumPy code on purpose (e.g. a NumPy backend): only what
        # Keras surely calls, and the helpers it hands its tensors to (`_np_mae(y_true, y_pred)`)
        checked: set[int] = set()
        for fn in ctx.functions:
            if not is_keras_called(fn):
                continue
            # a metric that every compile of the project runs eagerly gets eager tensors, and a
            # metric needs no gradient: NumPy works there
            group = [code for code in code_with_helpers(ctx, (fn,)) if id(code.node) not in checked]
            with unless_compiled_only_eagerly(ctx, fn) as outcome:
                for code in group:
                    if type(code.node) is cst.FunctionDef and code.node.name.value in eager_names:
                        continue
                    if type(code.node) is cst.Lambda and id(code.node) in eager_lambdas:
                        continue
                    self._check_function(ctx, code)
            if not outcome.withdrawn:  # else a helper may be checked again for another loss
                checked.update(id(code.node) for code in group)
        self._training_steps(ctx, eager_names)

    def _training_steps(self, ctx: FileContext, eager_names: set[str]) -> None:
        """NumPy on TensorFlow/Keras results in the value a training step differentiates."""
        from losscheck.lint.prefilter_checks import STEP_LINES

        reported: set[int] = set()
        for item in differentiated(ctx):
            step_line = ctx.position(item.call).start.line
            for value in item.values:
                for node in _calls(value):
                    qualname = ctx.imports.qualname(node.func)
                    if id(node) in reported or not is_numpy(qualname):
                        continue
                    if abs(ctx.position(node).start.line - step_line) > STEP_LINES:
                        continue  # far from the step: the pre-filter does not look there either
                    if not any(_has_tensor_op(ctx, arg.value) for arg in node.args):
                        continue
                    reported.add(id(node))
                    written = ctx.code_for(node.func)
                    replacement = "tf." + qualname.split(".", 1)[1] if qualname and "." in qualname else "tf"
                    ctx.report(
                        self,
                        node,
                        f"`{written}(...)` is NumPy on TensorFlow tensors in `{item.target}`, the value that "
                        f"`{item.method}()` differentiates: NumPy has no gradient (a graph tensor fails to "
                        f"convert; an eager one gives a constant that trains nothing). Use the tensor op "
                        f"(e.g. `{replacement}`).",
                    )

    def _check_function(self, ctx: FileContext, fn: LossFunction) -> None:
        facts = function_facts(ctx, fn)
        for node in function_facts(ctx, fn).nodes:
            if type(node) is not cst.Call:
                continue
            func = node.func
            if type(func) is cst.Attribute and func.attr.value == "numpy" and not node.args:
                if fn.origin == "signature" and not facts.derives(func.value):
                    # `metric.result().numpy()` in a function that only looks like a loss: eager
                    # evaluation code as often as not; in one that compile() is given, reported
                    continue
                if ctx.imports.qualname(func) is None:  # `np.numpy` is not a thing; `x.numpy()` is
                    ctx.report(
                        self,
                        node,
                        f"`{ctx.code_for(node)}` in the {fn.kind} `{fn.name}`: `.numpy()` does not exist on the "
                        "symbolic tensors Keras traces losses with, and under `run_eagerly=True` the value has "
                        "no gradient. Keep the computation in `tf`/`keras.ops`.",
                    )
                continue
            qualname = ctx.imports.qualname(func)
            if qualname and qualname.split(".")[0] in _ARRAY_LIBRARIES:
                tensor_args = [a.value for a in node.args if facts.derives(a.value)]
                if tensor_args:
                    ctx.report(
                        self,
                        node,
                        f"`{ctx.code_for(func)}(...)` gets tensors in the {fn.kind} `{fn.name}`, and "
                        f"{qualname.split('.')[0]} converts its arguments to NumPy arrays: under `fit` the tensors "
                        "are symbolic (the conversion fails), and with `run_eagerly=True` the result has no "
                        "gradient. Compute it with `tf`/`keras.ops` (or as a metric on `model.predict` arrays).",
                    )
                continue
            if not is_numpy(qualname):
                continue
            tensor_args = [a.value for a in node.args if facts.derives(a.value)]
            if not tensor_args:
                continue
            written = ctx.code_for(func)
            replacement = "keras.ops." + qualname.split(".", 1)[1] if qualname and "." in qualname else "keras.ops"
            ctx.report(
                self,
                node,
                f"`{written}(...)` is NumPy on a tensor in the {fn.kind} `{fn.name}`: under `fit` the tensor is "
                "symbolic (NotImplementedError), and with `run_eagerly=True` this term gets no gradient. "
                f"Use the tensor op instead (e.g. `{replacement}` or the `tf` equivalent).",
            )
