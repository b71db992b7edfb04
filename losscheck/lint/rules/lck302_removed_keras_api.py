"""LCK302 removed-keras-api."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import all_nodes
from losscheck.lint.context import FileContext
from losscheck.lint.imports import dotted_name
from losscheck.lint.rule import Invalid, Rule, Valid

# What Keras 3's `keras.backend` still has. Read from the installed Keras 3.15.1 with
# `python -c "import keras; print(dir(keras.backend))"` (public names only); re-read on upgrades.
KERAS3_BACKEND = frozenset(
    {"backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
     "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
     "standardize_dtype"}
)

# Keras 2 backend function -> Keras 3 replacement. Same-named `keras.ops` functions with the same
# parameters (names, order and defaults) are EXACT: rewriting `K.mean(x)` to `keras.ops.mean(x)` is
# a safe fix. The others are a pointer for the message only.
EXACT_OPS = frozenset(
    {"mean", "sum", "max", "min", "prod", "std", "var", "any", "all", "square", "sqrt", "abs", "exp", "log",
     "sign", "round", "sigmoid", "tanh", "softplus", "softsign", "cast", "maximum", "minimum", "equal",
     "not_equal", "greater", "greater_equal", "less", "less_equal", "softmax", "cos", "sin", "logsumexp",
     "cumsum", "cumprod", "tile", "dot", "transpose", "reshape", "stack", "sort", "argsort"}
)
REPLACEMENTS: dict[str, str] = {
    "binary_crossentropy": "keras.losses.binary_crossentropy",
    "categorical_crossentropy": "keras.losses.categorical_crossentropy",
    "sparse_categorical_crossentropy": "keras.losses.sparse_categorical_crossentropy",
    "pow": "keras.ops.power",
    "clip": "keras.ops.clip",
    "argmax": "keras.ops.argmax (note: its default axis is None, not -1)",
    "argmin": "keras.ops.argmin (note: its default axis is None, not -1)",
    "concatenate": "keras.ops.concatenate (note: its default axis is 0, not -1)",
    "expand_dims": "keras.ops.expand_dims (axis is required)",
    "squeeze": "keras.ops.squeeze",
    "flatten": "keras.ops.reshape(x, (-1,))",
    "batch_flatten": "keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))",
    "zeros_like": "keras.ops.zeros_like",
    "ones_like": "keras.ops.ones_like",
    "zeros": "keras.ops.zeros",
    "ones": "keras.ops.ones",
    "shape": "keras.ops.shape",
    "int_shape": "x.shape",
    "ndim": "keras.ops.ndim",
    "dtype": "x.dtype",
    "relu": "keras.ops.relu",
    "elu": "keras.ops.elu",
    "l2_normalize": "keras.ops.normalize",
    "switch": "keras.ops.where",
    "gather": "keras.ops.take",
    "one_hot": "keras.ops.one_hot",
    "stop_gradient": "keras.ops.stop_gradient",
    "constant": "keras.ops.convert_to_tensor",
    "variable": "keras.Variable",
    "get_value": "keras.ops.convert_to_numpy",
    "eval": "keras.ops.convert_to_numpy",
    "set_value": "variable.assign(value)",
    "placeholder": "keras.Input",
    "batch_dot": "keras.ops.einsum / keras.ops.matmul",
    "categorical_hinge": "keras.losses.categorical_hinge",
    "arange": "keras.ops.arange",
    "repeat_elements": "keras.ops.repeat",
    "log1p": "keras.ops.log1p",
    "rnn": "keras.layers.RNN",
    "random_normal": "keras.random.normal",
    "random_uniform": "keras.random.uniform",
    "random_binomial": "keras.random.binomial",
    "dropout": "keras.random.dropout",
    "conv2d": "keras.ops.conv",
    "in_train_phase": "the `training` argument of `call`",
    "learning_phase": "the `training` argument of `call`",
    "set_learning_phase": "the `training` argument of `call`",
    "function": "a `keras.Model` or `keras.ops` code",
    "ctc_batch_cost": "keras.losses.ctc",
    "map_fn": "keras.ops.vectorized_map or keras.ops.map",
    "foldl": "keras.ops.fori_loop",
    "cast_to_floatx": "keras.ops.cast(x, keras.config.floatx())",
}
_EXACT_KEYWORDS = frozenset({"axis", "keepdims", "dtype"})


def replacement_for(name: str) -> str | None:
    if name in EXACT_OPS:
        return f"keras.ops.{name}"
    return REPLACEMENTS.get(name)


class RemovedKerasApi(Rule):
    """
    ## What it does
    Checks for backend functions that Keras 3 removed, called through Keras 3's `keras.backend`
    (`import keras.backend as K`, `from keras import backend as K`, `from keras.backend import mean`):
    `K.mean`, `K.square`, `K.sum`, `K.cast`, `K.binary_crossentropy`... The message names the Keras 3
    replacement. `tf.keras.backend` (`from tensorflow.keras import backend as K`) and `tf_keras`
    still have these functions and are not reported. Applies to the whole file.

    ## Why is this bad?
    Keras 3's `keras.backend` only keeps a handful of functions (`epsilon`, `floatx`,
    `image_data_format`, `clear_session`...). Code written for Keras 2 fails with
    `AttributeError: module 'keras.backend' has no attribute 'mean'` as soon as the loss runs.

    ## Example
    ```python
    import keras.backend as K

    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
    ```

    ## Use instead
    ```python
    import keras

    def rmse(y_true, y_pred):
        return keras.ops.sqrt(keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1))
    ```
    When the file imports `keras`, `--fix` rewrites calls whose replacement is an exact rename in
    `keras.ops` (same parameters and defaults).
    """

    code = "LCK302"
    name = "removed-keras-api"
    summary = "Keras 2 backend functions called through Keras 3's keras.backend, which no longer has them"
    severity = "error"

    VALID = [
        Valid(
            """
            from tensorflow.keras import backend as K

            def rmse(y_true, y_pred):
                return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
            """
        ),
        Valid(
            """
            import keras
            from keras import backend as K

            def safe_log(x):
                return keras.ops.log(x + K.epsilon())

            dtype = K.floatx()
            """
        ),
        Valid(
            """
            import tensorflow as tf

            K = tf.keras.backend

            def bce(y_true, y_pred):
                return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)
            """
        ),
        Valid(
            """
            import tf_keras.backend as K

            def mae(y_true, y_pred):
                return K.mean(K.abs(y_true - y_pred), axis=-1)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras
            import keras.backend as K

            def rmse(y_true, y_pred):
                return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
            """,
            message="`K.sqrt` does not exist in Keras 3's `keras.backend`",
            line=6,
            count=3,
            fixed="""
            import keras
            import keras.backend as K

            def rmse(y_true, y_pred):
                return keras.ops.sqrt(keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1))
            """,
        ),
        Invalid(
            """
            from keras import backend as K

            def bce(y_true, y_pred):
                return K.binary_crossentropy(y_true, y_pred) + 0.1 * K.mean(y_pred, axis=-1)
            """,
            message="use `keras.losses.binary_crossentropy`",
            count=2,
        ),
        Invalid(
            """
            from keras.backend import mean, square

            def mse(y_true, y_pred):
                return mean(square(y_true - y_pred), axis=-1)
            """,
            message="`keras.backend.mean` does not exist in Keras 3",
            line=2,
            count=2,
        ),
        Invalid(
            """
            import keras

            def focal(y_true, y_pred, gamma=2.0):
                eps = keras.backend.epsilon()
                y_pred = keras.backend.clip(y_pred, eps, 1.0 - eps)
                return -keras.ops.sum(y_true * (1 - y_pred) ** gamma * keras.ops.log(y_pred), axis=-1)
            """,
            message="use `keras.ops.clip`",
            line=6,
            count=1,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        imports = ctx.imports
        if not any(t == "keras" or t.startswith("keras.") for t in imports.names.values()):
            return
        keras_bound = imports.resolve_name("keras") == "keras"
        parents: dict[int, cst.CSTNode] = {}
        for node in all_nodes(ctx):
            if isinstance(node, cst.ImportFrom):
                self._import_from(ctx, node)
                continue
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                parents[id(node.func)] = node
            if not isinstance(node, cst.Attribute):
                continue
            qualname = imports.qualname(node)
            if not qualname or not qualname.startswith("keras.backend."):
                continue
            attr = qualname[len("keras.backend.") :]
            if "." in attr or attr in KERAS3_BACKEND or attr.startswith("_"):
                continue
            written = ctx.code_for(node)
            target = replacement_for(attr)
            hint = f"use `{target}`" if target else "it has no direct Keras 3 equivalent; use `keras.ops`"
            message = (
                f"`{written}` does not exist in Keras 3's `keras.backend` (AttributeError when the code runs): "
                f"{hint}. (`tf.keras.backend` still has it, for TensorFlow-only code.)"
            )
            fix = None
            call = parents.get(id(node))
            if keras_bound and attr in EXACT_OPS and call is not None and self._exact_call(call):
                fix = ctx.replace_fix(
                    node, f"keras.ops.{attr}", safe=True, description=f"replace with `keras.ops.{attr}`"
                )
            ctx.report(self, node, message, fix=fix)

    @staticmethod
    def _exact_call(call: cst.Call) -> bool:
        return all(arg.keyword is None or arg.keyword.value in _EXACT_KEYWORDS for arg in call.args)

    def _import_from(self, ctx: FileContext, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or dotted_name(node.module) != "keras.backend":
            return
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            attr = dotted_name(alias.name)
            if not attr or attr in KERAS3_BACKEND or attr.startswith("_"):
                continue
            target = replacement_for(attr)
            hint = f"use `{target}`" if target else "it has no direct Keras 3 equivalent; use `keras.ops`"
            ctx.report(
                self,
                alias.name,
                f"`keras.backend.{attr}` does not exist in Keras 3 (ImportError): {hint}.",
            )
