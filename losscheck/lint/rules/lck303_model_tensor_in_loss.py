"""LCK303 model-tensor-in-loss: a loss captures a layer output (a symbolic KerasTensor).

While a functional model is built, ``keras.Input(...)`` and ``Dense(...)(x)`` are symbolic
placeholders, not values. A loss that closes over one (the classic VAE ``kl = ... z_mean ...``
closure) fails at fit time; Keras 3's message does not say why ("Failed to convert elements of
(None,) to Tensor"). Measured in Keras 3 and legacy tf.keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import FunctionScope

from losscheck.lint.models import (
    in_source_order,
    loss_scope,
    model_facts,
    reads_in,
    short_code,
    walk,
    within,
)
from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext
    from losscheck.lint.models import ModuleModels

_OUTPUT_ATTRS = frozenset({"output", "outputs", "input", "inputs"})
_ADVICE = (
    "Keras calls the loss with real tensors at fit time, and the symbolic tensor fails there "
    "(Keras 3: \"Failed to convert elements of (None,) to Tensor\"). Compute the term inside a layer "
    "with `self.add_loss(...)`, or make it a model output with a loss of its own."
)


class ModelTensorInLoss(Rule):
    """Reports a loss that reads a layer output (KerasTensor) from an enclosing scope.

    ## What it does
    Finds names bound to layer outputs while the model is built (`keras.Input(...)`,
    `layers.Dense(...)(x)`, `layer(x)`, `keras.ops` on such tensors, `model.output`,
    `model.layers[i].output`) and reports a loss or metric that reads one as a free variable:
    from the module, from the enclosing function, or through a factory's parameter
    (`make_loss(z_mean)`). It also reports `model.output` / `model.layers[i].output` read inside a loss.

    ## Why is this bad?
    A layer output is a symbolic placeholder that only exists while the model graph is built.
    The loss runs later, on real batches, and the captured placeholder cannot be evaluated there:
    `fit` fails, and Keras 3's error message ("Failed to convert elements of (None,) to Tensor")
    does not point at the loss.

    ## Example
    ```python
    z_mean = layers.Dense(2)(h)
    z_log_var = layers.Dense(2)(h)

    def vae_loss(y_true, y_pred):
        kl = -0.5 * keras.ops.sum(1 + z_log_var - z_mean**2 - keras.ops.exp(z_log_var), axis=-1)
        return keras.losses.binary_crossentropy(y_true, y_pred) + kl
    ```

    ## Use instead
    ```python
    class KLDivergence(layers.Layer):
        def call(self, z_mean, z_log_var):
            kl = -0.5 * keras.ops.sum(1 + z_log_var - z_mean**2 - keras.ops.exp(z_log_var), axis=-1)
            self.add_loss(keras.ops.mean(kl))
            return z_mean

    z_mean = KLDivergence()(layers.Dense(2)(h), layers.Dense(2)(h))
    ```
    """

    code = "LCK303"
    name = "model-tensor-in-loss"
    summary = "A loss captures a layer output (symbolic KerasTensor); it fails at fit time."
    severity = "error"

    VALID = [
        # tensors the loss gets as arguments, constants from the module
        """
        import keras
        WEIGHT = 0.3
        inputs = keras.Input((8,))
        outputs = keras.layers.Dense(1)(inputs)
        model = keras.Model(inputs, outputs)
        def loss(y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * WEIGHT
        model.compile(loss=loss)
        """,
        # a local variable that shadows a module-level layer output
        """
        import keras
        h = keras.layers.Dense(4)(keras.Input((3,)))
        def loss(y_true, y_pred):
            h = y_true - y_pred
            return keras.ops.mean(h * h, axis=-1)
        """,
        # a name re-bound to a plain value after model building: not only a KerasTensor
        """
        import keras
        scale = keras.Input((1,))
        scale = 2.0
        def loss(y_true, y_pred):
            return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1) * scale
        """,
        # a factory given a number, not a layer output
        """
        import keras
        z = keras.layers.Dense(2)(keras.Input((4,)))
        def make_loss(beta):
            def loss(y_true, y_pred):
                return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * beta
            return loss
        model.compile(loss=make_loss(0.5))
        """,
        # the add_loss pattern: the KerasTensor is used where the graph is built, not in a loss
        """
        import keras
        inputs = keras.Input((4,))
        z = keras.layers.Dense(2)(inputs)
        model = keras.Model(inputs, z)
        print(model.output.shape)
        """,
    ]
    INVALID = [
        Invalid(
            """
            import keras
            from keras import layers
            inputs = keras.Input((784,))
            h = layers.Dense(64, activation="relu")(inputs)
            z_mean = layers.Dense(2)(h)
            z_log_var = layers.Dense(2)(h)
            def vae_loss(y_true, y_pred):
                kl = -0.5 * keras.ops.sum(1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=-1)
                return keras.losses.binary_crossentropy(y_true, y_pred) + kl
            """,
            message=(
                "`z_log_var` is a layer output (a symbolic KerasTensor: `layers.Dense(2)(h)`, line 7) "
                "captured by `vae_loss`"
            ),
            line=9,
            count=2,
        ),
        Invalid(
            """
            import tensorflow as tf
            def build():
                inp = tf.keras.Input((32,))
                enc = tf.keras.layers.Dense(8)(inp)
                out = tf.keras.layers.Dense(32)(enc)
                model = tf.keras.Model(inp, out)
                def loss(y_true, y_pred):
                    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + 1e-3 * tf.reduce_mean(tf.abs(enc))
                model.compile(optimizer="adam", loss=loss)
                return model
            """,
            message="`enc` is a layer output",
        ),
        Invalid(
            """
            import keras
            def make_vae_loss(mu, log_var):
                def vae_loss(y_true, y_pred):
                    kl = -0.5 * keras.ops.sum(1 + log_var - mu**2 - keras.ops.exp(log_var), axis=-1)
                    return keras.losses.mse(y_true, y_pred) + kl
                return vae_loss
            inputs = keras.Input((10,))
            z_mu = keras.layers.Dense(2)(inputs)
            z_lv = keras.layers.Dense(2)(inputs)
            model.compile(loss=make_vae_loss(z_mu, z_lv))
            """,
            message="`log_var` is a layer output (the KerasTensor `z_lv` passed to `make_vae_loss` at line 11)",
            count=2,
        ),
        Invalid(
            """
            import keras
            inputs = keras.Input((16,))
            model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
            def feature_loss(y_true, y_pred):
                feats = model.layers[1].output
                return keras.ops.mean(keras.ops.square(y_pred - feats), axis=-1)
            """,
            message="`model.layers[1].output` is a layer output",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        functions = ctx.functions
        if not functions:
            return
        facts = model_facts(ctx)
        if not (facts.keras_tensor_targets or facts.model_targets or facts.keras_tensor_args):
            return  # nothing symbolic in the file: do not pay for scope analysis
        for fn in functions:
            own = loss_scope(ctx, fn.node)
            if own is None:
                continue
            model_reads = _model_attribute_reads(fn.node)
            seen: set[str] = set()
            outer = [
                read for read in reads_in(ctx, fn.node)
                if read.referents and not any(within(r.scope, own) for r in read.referents)
            ]
            for read in in_source_order(ctx, outer):
                refs = read.referents
                name = read.node.value
                if name in seen:
                    continue
                message = self._message(ctx, facts, fn.name, name, refs, model_reads.get(read.node))
                if message is None:
                    continue
                seen.add(name)
                target = model_reads.get(read.node) or read.node
                ctx.report(self, target, message)

    def _message(
        self,
        ctx: FileContext,
        facts: ModuleModels,
        function: str,
        name: str,
        refs: tuple,
        model_read: cst.Attribute | None,
    ) -> str | None:
        nodes = [getattr(r, "node", None) for r in refs]
        if all(n in facts.keras_tensor_targets for n in nodes):
            last = max(nodes, key=lambda n: (ctx.position(n).start.line, ctx.position(n).start.column))
            producer = short_code(ctx, facts.keras_tensor_targets[last], 50)
            line = ctx.position(last).start.line
            return (
                f"`{name}` is a layer output (a symbolic KerasTensor: `{producer}`, line {line}) "
                f"captured by `{function}`: {_ADVICE}"
            )
        if model_read is not None and all(n in facts.model_targets for n in nodes):
            return (
                f"`{short_code(ctx, model_read, 50)}` is a layer output (a symbolic KerasTensor of model `{name}`) "
                f"read by `{function}`: {_ADVICE}"
            )
        if len(refs) == 1 and isinstance(nodes[0], cst.Param):
            passed = _factory_argument(facts, refs[0].scope, nodes[0])
            if passed is not None:
                call, argument, factory = passed
                return (
                    f"`{name}` is a layer output (the KerasTensor `{argument}` passed to `{factory}` at line "
                    f"{ctx.position(call).start.line}) captured by `{function}`: {_ADVICE}"
                )
        return None


def _factory_argument(facts: ModuleModels, scope: object, param: cst.Param) -> tuple[cst.Call, str, str] | None:
    """(call, argument name, factory name) when a call of the enclosing factory passes a KerasTensor there."""
    factory = getattr(scope, "node", None)
    if not isinstance(scope, FunctionScope) or not isinstance(factory, cst.FunctionDef):
        return None
    positional = [*factory.params.posonly_params, *factory.params.params]
    index = next((i for i, p in enumerate(positional) if p is param), None)
    for call, slot, argument in facts.keras_tensor_args.get(factory.name.value, []):
        if slot == param.name.value or (index is not None and slot == index):
            return call, argument, factory.name.value
    return None


def _model_attribute_reads(fn_node: cst.CSTNode) -> dict[cst.Name, cst.Attribute]:
    """``model.output``, ``model.layers[i].output``, ``model.get_layer(n).output``: model Name -> attribute."""
    found: dict[cst.Name, cst.Attribute] = {}
    for node in walk(fn_node):
        if not isinstance(node, cst.Attribute) or node.attr.value not in _OUTPUT_ATTRS:
            continue
        base = node.value
        if isinstance(base, cst.Subscript) and _attr_named(base.value, "layers"):
            base = base.value.value  # type: ignore[attr-defined]
        elif isinstance(base, cst.Call) and _attr_named(base.func, "get_layer"):
            base = base.func.value  # type: ignore[attr-defined]
        if isinstance(base, cst.Name):
            found[base] = node
    return found


def _attr_named(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == name
