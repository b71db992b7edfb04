"""A minimal losscheck plugin: one rule, ``LXM101 print-in-loss``.

It uses the core's facts (``ctx.functions``: the loss and metric functions losscheck found
in the file, however they were written) and reports through ``ctx.report``.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from losscheck.lint.rule import Invalid, Rule

PLUGIN_API = 1  # the losscheck plugin API this plugin was written for


class PrintInLoss(Rule):
    """`print()` inside a loss function.

    ## What it does
    Finds `print(...)` calls in code that Keras runs as a loss or metric.

    ## Why is this bad?
    Keras traces the loss into a graph: `print` runs once, at tracing time, and shows symbolic
    tensors, not values. It looks like logging and logs nothing useful.

    ## Example
    ```python
    def my_loss(y_true, y_pred):
        print(y_pred)
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
    ```

    ## Use instead
    ```python
    def my_loss(y_true, y_pred):
        keras.ops.print(y_pred)  # or tf.print: runs at every step
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LXM101"  # up to 3 capitals + 3 digits, so flake8 accepts it too
    name = "print-in-loss"
    summary = "print() inside a loss runs once, at tracing time"
    severity = "warning"
    # The core's pre-filter runs this rule only on files that hold the text "print" and, as the
    # rule reads ``ctx.functions``, loss code (the default ``trigger_checks``): a file the
    # built-in rules skip is never parsed for it.
    triggers: ClassVar[tuple[str, ...]] = ("print",)

    VALID = [
        """
        def my_loss(y_true, y_pred):
            return (y_true - y_pred) ** 2
        """,
        """
        def report(epoch, logs):  # not loss code: print is fine here
            print(epoch, logs)
        """,
    ]
    INVALID = [
        Invalid(
            """
            def my_loss(y_true, y_pred):
                print(y_pred)
                return (y_true - y_pred) ** 2
            """,
            message="runs once, when Keras traces `my_loss`",
            line=3,
        ),
    ]

    def check(self, ctx):  # type: ignore[no-untyped-def]
        for fn in ctx.functions:
            for call in _print_calls(fn.node):
                ctx.report(
                    self,
                    call,
                    f"`print` runs once, when Keras traces `{fn.name}`, and shows no values: "
                    "use `keras.ops.print` (or `tf.print`)",
                )


def _print_calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Visitor(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Name) and call.func.value == "print":
                found.append(call)

    node.visit(Visitor())
    return found


RULES = [PrintInLoss]
