"""LCK502 list-for-dict-outputs: a list of losses, loss weights or targets for a model with dict outputs.

Keras 3 flattens a dict of outputs in sorted-key order and pairs a list with that flat order, so
``Model(inputs, outputs={"seg": s, "cls": c})`` compiled with ``loss=[seg_loss, cls_loss]`` trains
``cls`` with ``seg_loss`` and the other way round, silently. (Legacy tf.keras raises a TypeError
for a list of targets.) When the dict is written in sorted order the pairing happens to be the one
written, so the rule stays quiet: precision first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.finding import Edit, Fix
from losscheck.lint.models import (
    FIT_METHODS,
    ModelCall,
    full_range,
    is_target_like,
    literal_elements,
    mentions_model_calls,
    model_facts,
)
from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext

_WHAT = {"loss": "losses", "loss_weights": "loss weights", "y": "targets"}
_MAX_SHOWN = 6  # pairings spelled out in the message; the rest are summarised


class ListForDictOutputs(Rule):
    """Reports a list of losses/loss weights/targets for a model whose outputs are a dict.

    ## What it does
    Finds functional models built with dict outputs (`keras.Model(inputs, outputs={"b": ..., "a": ...})`)
    and reports `compile(loss=[...])`, `compile(loss_weights=[...])` (next to a dict or list of
    losses) and `fit(x, [...])` on them when the list has one entry per output and the names are
    not written in sorted order. The message spells out the pairing Keras will make. An unsafe
    fix rewrites an inline list as a dict keyed by the output names in the order written.

    ## Why is this bad?
    Keras 3 flattens dict outputs in sorted-name order and pairs a list with that order, not with
    the order you wrote the dict in. The losses (or weights, or targets) silently go to the wrong
    heads: training runs, the numbers look plausible, and the model learns the wrong tasks.

    ## Example
    ```python
    model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
    model.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"])
    ```

    ## Use instead
    ```python
    model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
    model.compile(
        optimizer="adam",
        loss={"seg": "binary_crossentropy", "cls": "categorical_crossentropy"},
    )
    ```
    """

    code = "LCK502"
    name = "list-for-dict-outputs"
    summary = "A list of losses/weights/targets for a model with dict outputs (Keras pairs them in sorted-name order)."
    severity = "error"

    VALID = [
        # a dict keyed by output name
        """
        import keras
        inputs = keras.Input((16,))
        seg = keras.layers.Dense(4, name="seg")(inputs)
        cls = keras.layers.Dense(3, name="cls")(inputs)
        model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
        model.compile(loss={"seg": "binary_crossentropy", "cls": "categorical_crossentropy"})
        model.fit(X, {"seg": y_seg, "cls": y_cls})
        """,
        # dict written in sorted order: the list pairs as written
        """
        import keras
        model = keras.Model(inputs, outputs={"age": age, "gender": gender})
        model.compile(loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.2])
        """,
        # list outputs take lists
        """
        import keras
        model = keras.Model(inputs=inputs, outputs=[seg, cls])
        model.compile(loss=["binary_crossentropy", "categorical_crossentropy"])
        model.fit(X, [y_seg, y_cls])
        """,
        # outputs re-bound in a branch: unknown
        """
        import keras
        outputs = {"seg": seg, "cls": cls}
        if flat:
            outputs = [seg, cls]
        model = keras.Model(inputs, outputs)
        model.compile(loss=["binary_crossentropy", "categorical_crossentropy"])
        """,
        # one loss with a list of weights: a loud Keras ValueError, not this silent mispairing
        """
        import keras
        model = keras.Model(inputs, {"seg": seg, "cls": cls})
        model.compile(loss="mse", loss_weights=[1.0, 0.5])
        """,
        # a list whose length does not match is a loud Keras error, not this silent one
        """
        import keras
        model = keras.Model(inputs, {"seg": seg, "cls": cls})
        model.compile(loss=["mse"])
        """,
        # a list of numbers is one target, not one per output
        """
        import keras
        model = keras.Model(inputs, {"b": b, "a": a})
        model.fit(X, [0.5, 1.5])
        """,
    ]
    INVALID = [
        Invalid(
            """
            import keras
            inputs = keras.Input((16,))
            model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
            model.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"])
            """,
            message="loss[0] goes to output 'cls', loss[1] to 'seg'",
            line=5,
            fixed="""
            import keras
            inputs = keras.Input((16,))
            model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
            model.compile(optimizer="adam", loss={"seg": "binary_crossentropy", "cls": "categorical_crossentropy"})
            """,
        ),
        Invalid(
            """
            import tensorflow as tf
            outs = {"price": price, "count": count, "active": active}
            model = tf.keras.Model(inputs=inp, outputs=outs)
            model.compile(loss={"price": "mse", "count": "poisson", "active": "bce"}, loss_weights=[1.0, 0.5, 0.1])
            """,
            message="loss_weights[0] goes to output 'active', loss_weights[1] to 'count', loss_weights[2] to 'price'",
        ),
        Invalid(
            """
            from keras import Model
            model = Model(inp, dict(mask=mask_out, box=box_out))
            model.fit(images, [masks, boxes], epochs=10)
            """,
            message="y[0] goes to output 'box', y[1] to 'mask'",
        ),
        Invalid(
            """
            import keras
            def build():
                inputs = keras.Input((8,))
                return keras.Model(inputs, {"z": z_head, "a": a_head})
            model = build()
            losses = [z_loss, a_loss]
            model.compile(optimizer="adam", loss=losses)
            """,
            message="Pass a dict keyed by output name: `loss={\"z\": z_loss, \"a\": a_loss}`",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        if not mentions_model_calls(ctx.source):
            return
        for call in model_facts(ctx).calls:
            model = call.model
            names = model.output_names
            if model.outputs_form != "dict" or names is None or len(names) < 2:
                continue
            if list(names) == sorted(names):
                continue  # sorted pairing == written pairing
            if call.method == "compile":
                loss = call.arg(1, "loss")
                self._check_arg(ctx, call, names, loss, "loss", targets=False)
                # A list of weights with ONE loss is a loud ValueError in Keras 3 ("must match the
                # number of losses"); it is silently mispaired only next to a dict or list of losses.
                if isinstance(call.literal(loss), (cst.Dict, cst.List, cst.Tuple)):
                    self._check_arg(ctx, call, names, call.arg(None, "loss_weights"), "loss_weights", targets=False)
            elif call.method in FIT_METHODS:
                self._check_arg(ctx, call, names, call.y(), "y", targets=True)

    def _check_arg(
        self,
        ctx: FileContext,
        call: ModelCall,
        names: tuple[str, ...],
        arg: cst.BaseExpression | None,
        what: str,
        *,
        targets: bool,
    ) -> None:
        value = call.literal(arg)
        elements = literal_elements(value) if value is not None else None
        if arg is None or elements is None or len(elements) != len(names):
            return
        if targets and not all(is_target_like(e) for e in elements):
            return
        order = sorted(names)
        pairs = [f"{what}[0] goes to output {order[0]!r}"] + [
            f"{what}[{i}] to {name!r}" for i, name in enumerate(order) if i > 0
        ]
        shown = ", ".join(pairs[:_MAX_SHOWN]) + (", ..." if len(pairs) > _MAX_SHOWN else "")
        written = ", ".join(repr(n) for n in names)
        keyword = "y" if targets else what
        as_dict = "{" + ", ".join(f"{json.dumps(n)}: {ctx.code_for(e).strip()}" for n, e in zip(names, elements)) + "}"
        suggestion = as_dict if len(as_dict) <= 100 else "{" + ", ".join(f"{json.dumps(n)}: ..." for n in names) + "}"
        legacy = " (legacy tf.keras raises TypeError for a list of targets)" if targets else ""
        message = (
            f"`{call.receiver}`'s outputs are a dict, and Keras 3 pairs a list of {_WHAT[what]} with them in "
            f"sorted-name order, not in the order written ({written}): {shown}{legacy}. "
            f"Pass a dict keyed by output name: `{keyword}={suggestion}`."
        )
        where = full_range(ctx, arg)
        fix = None
        if value is arg:  # an inline list: rewrite it as the dict the code means (changes training: unsafe)
            edit = Edit(where.start.line, where.start.column, where.end.line, where.end.column, as_dict)
            fix = Fix(edits=(edit,), safe=False, description=f"Key the {_WHAT[what]} by output name")
        ctx.report(self, arg, message, fix=fix, range=where)
