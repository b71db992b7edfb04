"""LCK301 undefined-name: loss code reads a name that no scope defines.

Keras calls a loss only at fit/evaluate time, so a missing global such as ``num_classes``
passes ``compile`` and fails later with NameError (measured: all Keras versions). The rule uses
the scope index's name resolution (``lint/scopes.py``, Python's LEGB rules) and stays quiet
whenever the file can create names in ways a static reader cannot follow.
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import walk
from losscheck.lint.dynamic_names import creates_names_dynamically
from losscheck.lint.models import OuterRead, in_source_order, reads_in
from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.scopes import Scope
    from losscheck.lint.context import FileContext, LossFunction

# Names that exist at run time without an assignment libcst can see.
_IMPLICIT = frozenset(dir(builtins)) | {
    "__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__",
    "__path__", "__annotations__", "__class__", "__debug__", "__cached__",
    "get_ipython", "display",  # notebooks exported to .py
}



class UndefinedName(Rule):
    """Reports a name read in loss code that no scope defines.

    ## What it does
    Reports a free name in a loss or metric function (or a lambda passed to `compile`) that is not
    a parameter, a local, a name of an enclosing function, a module-level name (before or after
    the function), an import or a builtin. A name defined in a class body and read bare inside a
    method is reported too: methods do not see class-body names.

    ## Why is this bad?
    Keras does not call the loss at `compile`, only when `fit` or `evaluate` traces it, so the
    `NameError` surfaces late, often after data loading and model building, and in a notebook it
    can hide behind a name that happens to exist in the session but not in the script.

    ## Example
    ```python
    def weighted_ce(y_true, y_pred):
        y_true = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), num_classes)
        return keras.losses.categorical_crossentropy(y_true, y_pred)
    ```

    ## Use instead
    ```python
    def make_weighted_ce(num_classes):
        def weighted_ce(y_true, y_pred):
            y_true = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), num_classes)
            return keras.losses.categorical_crossentropy(y_true, y_pred)
        return weighted_ce
    ```
    """

    code = "LCK301"
    name = "undefined-name"
    summary = "A name used in loss code that no scope defines (NameError at fit time, not at compile)."
    severity = "error"
    reads_every_name = True  # "did you mean" weighs every name of the module

    VALID = [
        # defined at module level after the function: it exists when Keras calls the loss
        """
        import keras
        def loss(y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred) * WEIGHT, axis=-1)
        WEIGHT = 0.5
        """,
        # closure over a factory parameter, builtins, comprehension and walrus names
        """
        import tensorflow as tf
        def make_loss(num_classes, eps=1e-7):
            def loss(y_true, y_pred):
                parts = [y_pred[..., i] for i in range(num_classes)]
                if (total := len(parts)) > 0:
                    pass
                return tf.reduce_mean(-y_true * tf.math.log(y_pred + eps), axis=-1) / total
            return loss
        """,
        # a star import may define anything
        """
        from config import *
        def loss(y_true, y_pred):
            return (y_true - y_pred) ** 2 * num_classes
        """,
        # a global set by another function
        """
        def configure(n):
            global num_classes
            num_classes = n
        def loss(y_true, y_pred):
            return y_pred[..., :num_classes] - y_true
        """,
        # names created through globals(): not followable, stay quiet
        """
        for name, value in CONFIG.items():
            globals()[name] = value
        def loss(y_true, y_pred):
            return (y_true - y_pred) * alpha
        """,
        # class attributes through self, and a Loss subclass
        """
        import keras
        class FocalLoss(keras.losses.Loss):
            gamma = 2.0
            def call(self, y_true, y_pred):
                return keras.ops.mean((1 - y_pred) ** self.gamma * y_true, axis=-1)
        """,
        # a loop-carried local: read before its assignment in source order, bound by an earlier
        # iteration (Python makes a name assigned anywhere in a function local to all of it)
        """
        import keras
        def loss(y_true, y_pred):
            total = 0.0
            for step in range(3):
                if step:
                    total = total + previous
                previous = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
            return total
        """,
        # pattern-matching captures
        """
        def loss(y_true, y_pred):
            match y_pred.shape:
                case (batch, width):
                    return (y_true - y_pred) / width
            return y_true
        """,
    ]
    INVALID = [
        Invalid(
            """
            import keras
            def loss(y_true, y_pred):
                y_true = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), num_classes)
                return keras.losses.categorical_crossentropy(y_true, y_pred)
            """,
            message="`num_classes` is not defined in any scope that `loss` can see",
            line=4,
        ),
        Invalid(
            """
            import tensorflow as tf
            model.compile(loss=lambda y_true, y_pred: tf.reduce_mean(tf.abs(y_true - y_pred) * scale, axis=-1))
            """,
            message="`scale` is not defined",
        ),
        Invalid(
            """
            import keras
            class DiceLoss(keras.losses.Loss):
                smooth = 1.0
                def call(self, y_true, y_pred):
                    inter = keras.ops.sum(y_true * y_pred, axis=-1)
                    return 1 - (2 * inter + smooth) / (keras.ops.sum(y_true + y_pred, axis=-1) + smooth)
            """,
            message="`smooth` is defined in the body of class `DiceLoss`",
            count=1,
        ),
        Invalid(
            """
            import tensorflow as tf
            def dice_coef(y_true, y_pred):
                intersection = tf.reduce_sum(y_true * y_pred, axis=[1, 2])
                return (2.0 * intersection + SMOOTH) / (tf.reduce_sum(y_true + y_pred, axis=[1, 2]) + SMOOTH)
            def dice_loss(y_true, y_pred):
                return 1.0 - dice_coef(y_true, y_pred) * wieght
            """,
            count=2,
        ),
        Invalid(
            """
            import keras
            class_weights = keras.ops.convert_to_tensor([1.0, 5.0])
            def weighted_bce(y_true, y_pred):
                w = keras.ops.take(class_wieghts, keras.ops.cast(y_true, "int32"))
                return keras.ops.mean(w * keras.losses.binary_crossentropy(y_true, y_pred), axis=-1)
            """,
            message="`class_wieghts` is not defined in any scope that `weighted_bce` can see (did you mean",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        functions = ctx.functions
        if not functions:
            return  # no loss code: do not pay for scope analysis
        if ctx.imports.star_modules or creates_names_dynamically(ctx.source):
            return
        candidates: list[tuple[LossFunction, OuterRead]] = []
        for fn in functions:
            for read in reads_in(ctx, fn.node):
                if not read.referents and read.node.value not in _IMPLICIT:
                    candidates.append((fn, read))
        if not candidates:
            return
        # Whole-module walks only for files that have a candidate (most have none).
        declared_global = _declared_global(ctx.module)
        tries = [node for node in walk(ctx.module, into_nested=True) if type(node) is cst.Try]
        reported: set[cst.Name] = set()
        seen: set[tuple[int, str]] = set()
        order = {id(read): i for i, read in enumerate(in_source_order(ctx, [r for _, r in candidates]))}
        for fn, read in sorted(candidates, key=lambda pair: order[id(pair[1])]):
            name = read.node.value
            if name in declared_global or (id(fn), name) in seen or read.node in reported:
                continue
            if _guarded_by_name_error(ctx, tries, read.node):
                continue
            seen.add((id(fn), name))
            reported.add(read.node)
            ctx.report(self, read.node, _message(name, fn.name, read.scope))


def _message(name: str, function: str, scope: Scope) -> str:
    owner = _class_defining(scope, name)
    if owner is not None:
        return (
            f"`{name}` is defined in the body of class `{owner}`, which its methods cannot see as a bare "
            f"name: this raises NameError when Keras calls the loss. Use `self.{name}` (or `{owner}.{name}`)."
        )
    import difflib  # only for a finding's suggestion

    close = difflib.get_close_matches(name, sorted(scope.visible_names()), n=1, cutoff=0.8)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return (
        f"`{name}` is not defined in any scope that `{function}` can see{hint}: Keras calls the loss only at "
        f"fit/evaluate time, where this raises NameError (compile does not catch it). Define it at module "
        f"level, or pass it in through a factory (`def make_loss({name}): ...` returning the loss)."
    )


def _class_defining(scope: Scope, name: str) -> str | None:
    current = scope.enclosing
    while current is not None:
        if current.kind == "class" and name in current.assignments:
            node = current.node
            return node.name.value if type(node) is cst.ClassDef else "?"
        current = current.enclosing
    return None


def _declared_global(module: cst.Module) -> set[str]:
    """Names in any ``global`` statement: another function (or module) may set them."""
    names: set[str] = set()
    for node in walk(module, into_nested=True):
        if type(node) is cst.Global:
            names.update(item.name.value for item in node.names)
    return names


def _guarded_by_name_error(ctx: FileContext, tries: list[cst.Try], name_node: cst.Name) -> bool:
    """``try: x ... except NameError:`` (or a bare ``except``) expects the name may be missing."""
    where = ctx.position(name_node)
    for node in tries:
        body = ctx.position(node.body)
        if not (body.start.line <= where.start.line <= body.end.line):
            continue
        for handler in node.handlers:
            if handler.type is None:
                return True
            text = ctx.code_for(handler.type)
            if "NameError" in text or re.search(r"\bException\b", text):
                return True
    return False
