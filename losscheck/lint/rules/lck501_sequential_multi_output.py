"""LCK501 sequential-multi-output: a ``Sequential`` model fitted or compiled as if it had several outputs.

Measured (TF 2.21, Keras 3.15.1 and tf-keras 2.21.0), on ``Sequential([..., Dense(1)])``:

- ``fit(X, [y1, y2])``: Keras 3 ValueError "y_true and y_pred have different structures";
  legacy tf.keras silently trains on ``y1`` only.
- ``fit(X, {"a": y1, "b": y2})``: ValueError in both.
- ``compile(loss=["mae", "mse"])``: both silently use the first loss only.
- ``compile(loss={"a": ..., "b": ...})``: Keras 3 TypeError, legacy ValueError.
- ``compile(loss="mse", loss_weights=[3.0, 2.0])``: Keras 3 ValueError ("must match the number of
  losses"); legacy silently uses the first weight only.
- ``compile(loss=["mae", "mse"], loss_weights=[3.0, 2.0])``: both silently compute 3.0 * mae.
- ``compile(loss="mse", loss_weights={"a": 3.0, "b": 2.0})``: ValueError in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import simple_string_value
from losscheck.lint.models import (
    FIT_METHODS,
    ModelCall,
    dict_items,
    full_range,
    is_target_like,
    literal_elements,
    mentions_model_calls,
    model_facts,
    short_code,
)
from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext

_FIX_HINT = "build a functional model with one output per target: `keras.Model(inputs, outputs=[...])`"


class SequentialMultiOutput(Rule):
    """Reports a `Sequential` model given several targets, losses or loss weights.

    ## What it does
    Finds `Sequential` models (`keras.Sequential([...])`, `Sequential()` + `model.add(...)`, or a
    function that returns one) and reports `fit`/`evaluate`/`train_on_batch` calls that pass a
    list, tuple or dict of several targets, and `compile` calls that pass a list/dict of several
    losses or several `loss_weights`.

    ## Why is this bad?
    A `Sequential` model has exactly one output, however many `Dense` layers it stacks. Keras 3
    raises `ValueError: y_true and y_pred have different structures` for `fit(X, [y1, y2])`, while
    legacy tf.keras silently trains on `y1` only. A list of losses is worse: both silently use the
    first loss and ignore the others; with a list of loss weights, only the first weight is used
    (or Keras 3 raises a ValueError when there is one loss).

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1), layers.Dense(1)])
    model.compile(optimizer="adam", loss=["mse", "binary_crossentropy"])
    model.fit(X, [y_price, y_sold])
    ```

    ## Use instead
    ```python
    inputs = keras.Input((20,))
    h = layers.Dense(64, activation="relu")(inputs)
    price = layers.Dense(1, name="price")(h)
    sold = layers.Dense(1, activation="sigmoid", name="sold")(h)
    model = keras.Model(inputs, {"price": price, "sold": sold})
    model.compile(optimizer="adam", loss={"price": "mse", "sold": "binary_crossentropy"})
    model.fit(X, {"price": y_price, "sold": y_sold})
    ```
    """

    code = "LCK501"
    name = "sequential-multi-output"
    summary = "A Sequential model (one output) fitted or compiled with several targets, losses or weights."
    severity = "error"

    VALID = [
        # one target, one loss
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
        model.fit(X, y, epochs=3)
        """,
        # a list of numbers is one target array, not several targets
        """
        from tensorflow.keras.models import Sequential
        from tensorflow.keras.layers import Dense
        model = Sequential()
        model.add(Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy")
        model.fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
        """,
        # a functional model with two outputs takes two targets
        """
        import keras
        inputs = keras.Input((8,))
        a = keras.layers.Dense(1)(inputs)
        b = keras.layers.Dense(1)(inputs)
        model = keras.Model(inputs, [a, b])
        model.compile(loss=["mse", "mae"], loss_weights=[1.0, 0.5])
        model.fit(X, [y1, y2])
        """,
        # the name was re-bound to a functional model in a branch: unknown, stay quiet
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        if two_heads:
            model = keras.Model(inp, [out1, out2])
        model.fit(X, [y1, y2])
        """,
        # a list of inputs (x), one target
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        model.fit([x_a, x_b], y)
        """,
        # a Sequential subclass or torch's Sequential is not Keras's
        """
        import keras
        from torch.nn import Sequential
        model = Sequential(torch.nn.Linear(4, 2))
        model.fit(X, [y1, y2])
        """,
        # one-entry dict for the single output
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(1, name="price")])
        model.compile(loss={"price": "mse"})
        """,
    ]
    INVALID = [
        Invalid(
            """
            import keras
            model = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(X, [y1, y2], epochs=5)
            """,
            message="`model` is a Sequential model, which has one output, but `fit` gets 2 targets",
            line=5,
        ),
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import Dense
            net = Sequential()
            net.add(Dense(2))
            net.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"])
            """,
            message="silently uses only the first (`\"mse\"`)",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf
            def build():
                m = tf.keras.Sequential([tf.keras.layers.Dense(1)])
                return m
            model = build()
            model.fit(x_train, {"price": y_price, "sold": y_sold})
            """,
            message="gets targets for 2 named outputs ('price', 'sold')",
        ),
        Invalid(
            """
            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(loss="mse", loss_weights=[1.0, 0.3])
            """,
            message="gets 2 loss weights",
        ),
        Invalid(
            """
            import keras
            with strategy.scope():
                model = keras.Sequential([keras.layers.Dense(1)])
                model.compile(loss={"a": "mse", "b": "mae"})
            targets = (y_a, y_b)
            for epoch in range(3):
                model.train_on_batch(x, targets)
            """,
            count=2,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        if not mentions_model_calls(ctx.source):
            return
        for call in model_facts(ctx).calls:
            if call.model.kind != "sequential":
                continue
            if call.method == "compile":
                self._compile(ctx, call)
            elif call.method in FIT_METHODS:
                self._fit(ctx, call)

    def _lead(self, call: ModelCall) -> str:
        return f"`{call.receiver}` is a Sequential model, which has one output, but `{call.method}` gets"

    def _compile(self, ctx: FileContext, call: ModelCall) -> None:
        loss = call.arg(1, "loss")
        value = call.literal(loss)
        elements = literal_elements(value) if value is not None else None
        items = dict_items(value) if value is not None else None
        if loss is not None and elements is not None and len(elements) >= 2:
            ctx.report(
                self, loss,
                f"{self._lead(call)} {len(elements)} losses: Keras (3 and legacy tf.keras) silently uses only "
                f"the first (`{short_code(ctx, elements[0])}`) and ignores the rest; {_FIX_HINT}.",
                range=full_range(ctx, loss),
            )
        elif loss is not None and items is not None and len(items) >= 2:
            ctx.report(
                self, loss,
                f"{self._lead(call)} losses for {len(items)} named outputs ({_keys(ctx, items)}): Keras 3 raises "
                f"TypeError and legacy tf.keras ValueError at `fit`; {_FIX_HINT}.",
                range=full_range(ctx, loss),
            )
        weights = call.arg(None, "loss_weights")
        weight_value = call.literal(weights)
        if weights is None or weight_value is None or items is not None:
            return  # no weights, or a dict of losses: that finding already says Keras raises
        weight_list = literal_elements(weight_value)
        weight_items = dict_items(weight_value)
        count = len(weight_list or weight_items or [])
        if count < 2:
            return
        if elements is not None and len(elements) >= 2 and weight_list is not None:
            what = (
                f"Keras (3 and legacy tf.keras) silently applies only the first (`{short_code(ctx, weight_list[0])}`), "
                "to the first loss"
            )
        elif weight_list is not None:
            what = (
                "Keras 3 raises ValueError (\"`loss_weights` must match the number of losses\") and legacy "
                "tf.keras silently keeps only the first"
            )
        else:
            what = "Keras 3 and legacy tf.keras raise ValueError"
        ctx.report(
            self, weights,
            f"{self._lead(call)} {count} loss weights: {what}; {_FIX_HINT}.",
            range=full_range(ctx, weights),
        )

    def _fit(self, ctx: FileContext, call: ModelCall) -> None:
        y = call.y()
        value = call.literal(y)
        if y is None or value is None:
            return
        elements = literal_elements(value)
        items = dict_items(value)
        if elements is not None and len(elements) >= 2 and all(is_target_like(e) for e in elements):
            ctx.report(
                self, y,
                f"{self._lead(call)} {len(elements)} targets: Keras 3 raises ValueError (\"y_true and y_pred have "
                f"different structures\") and legacy tf.keras silently trains on the first "
                f"(`{short_code(ctx, elements[0])}`) only; {_FIX_HINT}.",
                range=full_range(ctx, y),
            )
        elif items is not None and len(items) >= 2 and all(is_target_like(v) for _, v in items):
            ctx.report(
                self, y,
                f"{self._lead(call)} targets for {len(items)} named outputs ({_keys(ctx, items)}): Keras 3 and legacy "
                f"tf.keras raise ValueError (\"different structures\"); {_FIX_HINT}.",
                range=full_range(ctx, y),
            )


def _keys(ctx: FileContext, items: list[tuple[cst.BaseExpression, cst.BaseExpression]]) -> str:
    names = []
    for key, _ in items:
        if type(key) is cst.SimpleString and isinstance(value := simple_string_value(key), str):
            names.append(repr(value))
        else:
            names.append(short_code(ctx, key, 20))
    return ", ".join(names)
