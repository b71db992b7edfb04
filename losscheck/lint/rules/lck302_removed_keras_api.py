"""LCK302 removed-keras-api: Keras 2 backend calls in code written for Keras 3.

The replacements come from the table in ``losscheck/lint/api/keras_backend.py``; which Keras a
file is written for comes from ``losscheck/lint/keras_target.py``.
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint import keras_fix, keras_target
from losscheck.lint.api.keras_backend import (
    KERAS3_BACKEND,
    KERAS3_TF_KERAS_LACKS,
    OUTSIDE_LOSS_CODE,
    REMOVED,
)
from losscheck.lint.astutil import all_nodes
from losscheck.lint.context import FileContext
from losscheck.lint.imports import dotted_name
from losscheck.lint.rule import Invalid, Rule, Valid

__all__ = ["KERAS3_BACKEND", "RemovedKerasApi", "hint_for"]

_MIGRATE_PREFIXES = ("keras.backend.", "tensorflow.keras.backend.")
ASSUMED_KERAS3 = (
    "Keras 3 is assumed, as nothing names the Keras version (`losscheck config --show-targets`): "
    'if this code runs on Keras 2, set `target-keras = "2"`.'
)


def hint_for(name: str) -> str:
    """What the message says to use instead of ``keras.backend.<name>``."""
    entry = REMOVED.get(name)
    if entry is not None:
        if entry.safe:
            return f"use `{entry.replacement}`"
        return f"use `{entry.replacement}` (not the same values everywhere: {entry.why})"
    pointer = OUTSIDE_LOSS_CODE.get(name)
    if pointer:
        return f"use {pointer}"
    if pointer is not None:
        return "it has no Keras 3 counterpart (graph and session code)"
    return "it has no direct Keras 3 equivalent; use `keras.ops`"


class RemovedKerasApi(Rule):
    """
    ## What it does
    Checks for backend functions that Keras 3 removed, called through Keras 3's `keras.backend`
    (`import keras.backend as K`, `from keras import backend as K`, `from keras.backend import mean`):
    `K.mean`, `K.square`, `K.sum`, `K.cast`, `K.binary_crossentropy`... The message names the Keras 3
    replacement that gives the same values (`keras.ops.*` for the math), from a table checked against
    real Keras 2 and Keras 3 (docs/keras3-migration.md). `K.epsilon()` and `K.floatx()` still exist and
    are not reported; nor are `tf.keras.backend` (`from tensorflow.keras import backend as K`) and
    `tf_keras`, which still have these functions. Applies to the whole file.

    Only files written for Keras 3 are checked. The target Keras is decided per file:
    `target-keras = "2" | "3"` in the config (or `--target-keras`), else the project's dependency
    pins (`keras<3`, `tensorflow<2.16`, `tf-keras`... in pyproject.toml, requirements*.txt, setup.cfg,
    setup.py, environment.yml, Pipfile), else the file's imports (`keras.engine`,
    `keras.utils.np_utils`, `tf_keras`, `TF_USE_LEGACY_KERAS`... mean Keras 2), else Keras 3.
    `losscheck config --show-targets PATH` prints each file's target and why.

    ## Why is this bad?
    Keras 3's `keras.backend` only keeps a handful of functions (`epsilon`, `floatx`,
    `image_data_format`, `clear_session`...). Code written for Keras 2 fails with
    `AttributeError: module 'keras.backend' has no attribute 'mean'` as soon as the loss runs.
    Replacements that look alike are not always the same: `keras.losses.binary_crossentropy` averages
    the last axis where `K.binary_crossentropy` was element-wise (`keras.ops.binary_crossentropy` is),
    and `keras.ops.argmax` reduces every axis unless `axis` is given.

    ## Example
    ```python
    import keras
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
    `--fix` rewrites the call in the file's own names: through `import keras` (`keras.ops.mean`), an
    existing alias (`from keras import ops as O`: `O.mean`), else it adds `from keras import ops`
    (`ops.mean`); `from keras.backend import mean` (also `as kmean`) is followed to the calls. A backend
    import the fixes leave unused is removed (one still used, as by `K.epsilon()`, stays). It is a safe fix where the replacement gives
    the same values, dtype and shape (Keras 2's defaults that keras.ops does not share are written
    out, e.g. `axis=-1` for `K.argmax`; `K.sqrt(x)` becomes `keras.ops.sqrt(keras.ops.maximum(x, 0.0))`
    since Keras 2 clipped negative inputs), an unsafe one (`--unsafe-fixes`) where they differ
    somewhere (`K.binary_crossentropy`: Keras 2 added epsilon inside the logs).
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
        # Keras 3 keeps Keras 2's functions in tf.keras.backend, for the TensorFlow backend: these
        # run (`losscheck migrate` still moves them to keras.ops).
        Valid(
            """
            import tensorflow.keras.backend as K

            def mse(y_true, y_pred):
                return K.mean(K.square(y_pred - y_true), axis=-1)
            """
        ),
        Valid(
            """
            import tf_keras.backend as K

            def mae(y_true, y_pred):
                return K.mean(K.abs(y_true - y_pred), axis=-1)
            """
        ),
        # Written for Keras 2: `keras.engine` exists only there.
        Valid(
            """
            import keras.backend as K
            from keras.engine.topology import Layer

            def rmse(y_true, y_pred):
                return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
            """
        ),
        Valid(
            """
            from keras import backend as K
            from keras.utils import np_utils

            def bce(y_true, y_pred):
                return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)
            """
        ),
        Valid(
            """
            import os

            os.environ["TF_USE_LEGACY_KERAS"] = "1"

            import keras.backend as K

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

            def rmse(y_true, y_pred):
                return keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1), 0.0))
            """,
        ),
        Invalid(
            """
            from keras import backend as K

            def bce(y_true, y_pred):
                return K.binary_crossentropy(y_true, y_pred) + 0.1 * K.mean(y_pred, axis=-1)
            """,
            message="use `keras.ops.binary_crossentropy` (not the same values everywhere",
            count=2,
            # no `import keras`: the fix adds `from keras import ops`; the backend import, unused, goes
            fixed="""
            from keras import ops

            def bce(y_true, y_pred):
                return ops.binary_crossentropy(y_true, y_pred) + 0.1 * ops.mean(y_pred, axis=-1)
            """,
        ),
        # Names imported from the backend: reported at the import (ImportError) and where called.
        Invalid(
            """
            from keras.backend import mean, square

            def mse(y_true, y_pred):
                return mean(square(y_true - y_pred), axis=-1)
            """,
            message="`keras.backend.mean` does not exist in Keras 3",
            line=2,
            count=4,
            fixed="""
            from keras import ops

            def mse(y_true, y_pred):
                return ops.mean(ops.square(y_true - y_pred), axis=-1)
            """,
        ),
        # `K.epsilon()` still exists in Keras 3: the backend import stays, and so does the comment.
        Invalid(
            """
            import keras.backend as K

            def log_loss(y_true, y_pred):
                p = K.clip(y_pred, K.epsilon(), 1.0 - K.epsilon())  # keep p inside (0, 1)
                return -K.mean(y_true * K.log(p), axis=-1)
            """,
            message="`K.clip` does not exist in Keras 3's `keras.backend`",
            line=5,
            count=3,
            fixed="""
            import keras.backend as K
            from keras import ops

            def log_loss(y_true, y_pred):
                p = ops.clip(y_pred, K.epsilon(), 1.0 - K.epsilon())  # keep p inside (0, 1)
                return -ops.mean(y_true * ops.log(p), axis=-1)
            """,
        ),
        Invalid(
            """
            from keras import backend

            def mae(y_true, y_pred):
                return backend.mean(backend.abs(y_true - y_pred), axis=-1)
            """,
            message="`backend.mean` does not exist in Keras 3's `keras.backend`",
            count=2,
            fixed="""
            from keras import ops

            def mae(y_true, y_pred):
                return ops.mean(ops.abs(y_true - y_pred), axis=-1)
            """,
        ),
        # An existing alias of keras.ops is used; a renamed import (`mean as kmean`) is followed.
        Invalid(
            """
            from keras import ops as O
            from keras.backend import mean as kmean

            def mae(y_true, y_pred):
                return kmean(O.abs(y_true - y_pred), axis=-1)
            """,
            message="`keras.backend.mean` does not exist in Keras 3",
            count=2,
            fixed="""
            from keras import ops as O

            def mae(y_true, y_pred):
                return O.mean(O.abs(y_true - y_pred), axis=-1)
            """,
        ),
        # A replacement outside keras.ops (keras.config) also needs `import keras`.
        Invalid(
            """
            from keras import backend as K

            def soft_count(y_true, y_pred):
                return K.sum(K.cast_to_floatx(y_true > 0.5) * y_pred, axis=-1)
            """,
            message="use `keras.ops.sum`",
            count=2,
            fixed="""
            import keras
            from keras import ops

            def soft_count(y_true, y_pred):
                return ops.sum(ops.cast(y_true > 0.5, keras.config.floatx()) * y_pred, axis=-1)
            """,
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
            fixed="""
            import keras

            def focal(y_true, y_pred, gamma=2.0):
                eps = keras.backend.epsilon()
                y_pred = keras.ops.clip(y_pred, eps, 1.0 - eps)
                return -keras.ops.sum(y_true * (1 - y_pred) ** gamma * keras.ops.log(y_pred), axis=-1)
            """,
        ),
        # Keras 2's default axis (-1) is written out: keras.ops.argmax's default reduces every axis.
        Invalid(
            """
            import keras
            from keras import backend as K

            WEIGHTS = K.constant([1.0, 2.0, 0.5])

            def weighted_ce(y_true, y_pred):
                w = K.gather(WEIGHTS, K.argmax(y_true))
                return w * K.categorical_crossentropy(y_true, y_pred)
            """,
            message="use `keras.ops.convert_to_tensor(value, dtype=keras.config.floatx())`",
            line=5,
            count=4,
            fixed="""
            import keras

            WEIGHTS = keras.ops.convert_to_tensor([1.0, 2.0, 0.5], dtype=keras.config.floatx())

            def weighted_ce(y_true, y_pred):
                w = keras.ops.take(WEIGHTS, keras.ops.argmax(y_true, axis=-1), axis=0)
                return w * keras.ops.categorical_crossentropy(y_true, y_pred)
            """,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        imports = ctx.imports
        # `losscheck migrate` also moves tf.keras.backend calls (which only Keras 3's TensorFlow
        # backend still has) to keras.ops; `lint` leaves them alone: they run.
        prefixes = _MIGRATE_PREFIXES if ctx.options.get("keras_migrate") else ("keras.backend.",)
        heads = tuple(p.split(".")[0] for p in prefixes)
        if not any(t in heads or t.startswith(tuple(h + "." for h in heads)) for t in imports.names.values()):
            return
        target = keras_target.for_file(ctx)
        if target.keras == "2":
            return  # code written for Keras 2 is right to call these
        # Keras 3 only because nothing says otherwise: the finding names the switch, since a
        # project of the Keras 2 years with no pins is common and is right to call these
        assumed = f" {ASSUMED_KERAS3}" if target.source == "default" and not ctx.options.get("keras_migrate") else ""
        parents: dict[int, cst.Call] = {}
        for node in all_nodes(ctx):
            if type(node) is cst.ImportFrom:
                self._import_from(ctx, node, assumed)
                continue
            if type(node) is cst.Call and type(node.func) in (cst.Attribute, cst.Name):
                parents[id(node.func)] = node
            if type(node) is cst.Name:
                if id(node) not in parents:
                    continue  # a bare name from `from keras.backend import mean` counts where it is called
            elif type(node) is not cst.Attribute:
                continue
            qualname = imports.qualname(node, strict=True)  # an unimported `K` is undefined-name's
            prefix = next((p for p in prefixes if qualname and qualname.startswith(p)), None)
            if qualname is None or prefix is None:
                continue
            attr = qualname[len(prefix) :]
            if "." in attr or attr in KERAS3_BACKEND or attr.startswith("_"):
                continue
            entry = REMOVED.get(attr)
            if prefix != "keras.backend." and entry is None and attr not in KERAS3_TF_KERAS_LACKS:
                continue  # tf.keras.backend keeps it (TensorFlow backend): nothing to migrate to
            if type(node) is cst.Name:
                message = (
                    f"`{node.value}` is `keras.backend.{attr}`, which Keras 3 removed (the import fails): "
                    f"{hint_for(attr)}."
                )
            else:
                message = (
                    f"`{ctx.code_for(node)}` does not exist in Keras 3's `keras.backend` (AttributeError when the "
                    f"code runs): {hint_for(attr)}. (`tf.keras.backend` still has it, for TensorFlow-only code.)"
                )
            fix = None
            call = parents.get(id(node))
            if entry is not None and call is not None:
                fix = keras_fix.build(ctx, entry, node, call)
            if fix is None and entry is not None and entry.note:
                message += f" {entry.note}"  # rewritten by hand: the caveat matters
            ctx.report(self, node, message + assumed, fix=fix)

    def _import_from(self, ctx: FileContext, node: cst.ImportFrom, assumed: str) -> None:
        if node.relative or node.module is None or dotted_name(node.module) != "keras.backend":
            return
        if type(node.names) is cst.ImportStar:
            return
        for alias in node.names:
            attr = dotted_name(alias.name)
            if not attr or attr in KERAS3_BACKEND or attr.startswith("_"):
                continue
            ctx.report(
                self,
                alias.name,
                f"`keras.backend.{attr}` does not exist in Keras 3 (ImportError): {hint_for(attr)}.{assumed}",
            )
