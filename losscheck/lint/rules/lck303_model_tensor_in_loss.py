"""LCK303 model-tensor-in-loss: a loss captures a layer output (a symbolic KerasTensor).

While a functional model is built, ``keras.Input(...)`` and ``Dense(...)(x)`` are symbolic
placeholders, not values. A loss that closes over one (the classic VAE ``kl = ... z_mean ...``
closure) fails at fit time; Keras 3's message does not say why ("Failed to convert elements of
(None,) to Tensor"). Measured in Keras 3 and legacy tf.keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import walk
from losscheck.lint.models import (
    in_source_order,
    loss_scope,
    model_facts,
    reads_in,
    short_code,
    within,
)
from losscheck.lint.rule import Invalid, Rule
from losscheck.lint.statement_parts import of_node

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
            self.add_loss(keras.ops.mean(kl))  # added to the model's loss, per batch
            return z_mean, z_log_var

    z_mean, z_log_var = KLDivergence()(layers.Dense(2)(h), layers.Dense(2)(h))
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
        # a Loss subclass given numbers, and one that re-binds its attribute
        """
        import keras
        class Weighted(keras.losses.Loss):
            def __init__(self, weight, scale=1.0):
                super().__init__()
                self.weight = weight
                self.scale = scale
            def set_scale(self, s):
                self.scale = s
            def call(self, y_true, y_pred):
                return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * self.weight * self.scale
        z = keras.layers.Dense(2)(keras.Input((4,)))
        model.compile(loss=Weighted(0.5, scale=z))
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
                    return keras.losses.mean_squared_error(y_true, y_pred) + kl
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
            class VAELoss(keras.losses.Loss):
                def __init__(self, z_mean, z_log_var, name="vae_loss"):
                    super().__init__(name=name)
                    self.z_mean = z_mean
                    self.z_log_var = z_log_var
                def call(self, y_true, y_pred):
                    kl = -0.5 * keras.ops.sum(1 + self.z_log_var - self.z_mean**2, axis=-1)
                    return keras.losses.mean_squared_error(y_true, y_pred) + kl
            inputs = keras.Input((10,))
            z_mean = keras.layers.Dense(2)(inputs)
            z_log_var = keras.layers.Dense(2)(inputs)
            model.compile(loss=VAELoss(z_mean, z_log_var))
            """,
            message="`self.z_log_var` holds a layer output (the KerasTensor `z_log_var` passed to `VAELoss` at line 14",
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
            # Messages first (most reads have none), then source order for the few that do:
            # positions cost a PositionProvider pass over the whole file.
            messages = {}
            for read in outer:
                message = self._message(ctx, facts, fn.name, read.node.value, read.referents,
                                        model_reads.get(read.node))
                if message is not None:
                    messages[id(read)] = message
            for read in in_source_order(ctx, [r for r in outer if id(r) in messages]):
                name = read.node.value
                if name in seen:
                    continue  # the first read of a name in source order is the one reported
                message = messages[id(read)]
                seen.add(name)
                target = model_reads.get(read.node) or read.node
                ctx.report(self, target, message)
            if fn.class_node is not None and type(fn.node) is cst.FunctionDef:
                self._constructor_captures(ctx, facts, fn.name, fn.node, fn.class_node)

    def _constructor_captures(
        self, ctx: FileContext, facts: ModuleModels, function: str, call: cst.FunctionDef, cls: cst.ClassDef
    ) -> None:
        """``VAELoss(z_mean)`` with ``self.z_mean = z_mean`` in ``__init__`` and ``self.z_mean`` in ``call``."""
        passed = facts.keras_tensor_args.get(cls.name.value)
        params = [*call.params.posonly_params, *call.params.params]
        if not passed or not params:
            return
        self_name = params[0].name.value
        stored = _init_stores(cls)
        reported: set[str] = set()
        for node in walk(call.body, into_nested=True):
            if not (type(node) is cst.Attribute and type(node.value) is cst.Name):
                continue
            attr = node.attr.value
            if node.value.value != self_name or attr not in stored or attr in reported:
                continue
            index, param = stored[attr]
            for call_node, slot, argument in passed:
                if slot == param or slot == index:
                    reported.add(attr)
                    ctx.report(
                        self, node,
                        f"`{self_name}.{attr}` holds a layer output (the KerasTensor `{argument}` passed to "
                        f"`{cls.name.value}` at line {ctx.position(call_node).start.line}) read by `{function}`: "
                        f"{_ADVICE}",
                    )
                    break

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
        if len(refs) == 1 and type(nodes[0]) is cst.Param:
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
    if getattr(scope, "kind", None) != "function" or type(factory) is not cst.FunctionDef:
        return None
    positional = [*factory.params.posonly_params, *factory.params.params]
    index = next((i for i, p in enumerate(positional) if p is param), None)
    for call, slot, argument in facts.keras_tensor_args.get(factory.name.value, []):
        if slot == param.name.value or (index is not None and slot == index):
            return call, argument, factory.name.value
    return None


def _model_attribute_reads(fn_node: cst.CSTNode) -> dict[cst.Name, cst.Attribute]:
    """``model.output``, ``model.layers[i].output``, ``model.get_layer(n).output``: model Name -> attribute."""
    return of_node("model_attribute_reads", fn_node, None, lambda: _attribute_reads(fn_node))


def _attribute_reads(fn_node: cst.CSTNode) -> dict[cst.Name, cst.Attribute]:
    found: dict[cst.Name, cst.Attribute] = {}
    for node in walk(fn_node, into_nested=True):
        if type(node) is not cst.Attribute or node.attr.value not in _OUTPUT_ATTRS:
            continue
        base = node.value
        if type(base) is cst.Subscript and _attr_named(base.value, "layers"):
            base = base.value.value  # type: ignore[attr-defined]
        elif type(base) is cst.Call and _attr_named(base.func, "get_layer"):
            base = base.func.value  # type: ignore[attr-defined]
        if type(base) is cst.Name:
            found[base] = node
    return found


def _attr_named(node: cst.BaseExpression, name: str) -> bool:
    return type(node) is cst.Attribute and node.attr.value == name


def _init_stores(cls: cst.ClassDef) -> dict[str, tuple[int | None, str]]:
    """``self.attr = param`` in ``__init__``: attr -> (the param's position in a call of the class, its name).

    Only attributes assigned exactly once in the class, from an ``__init__`` parameter that is
    never re-bound there, so the attribute surely holds what the caller passed.
    """
    init = next(
        (s for s in _statements(cls.body) if type(s) is cst.FunctionDef and s.name.value == "__init__"), None
    )
    if init is None:
        return {}
    positional = [p.name.value for p in (*init.params.posonly_params, *init.params.params)][1:]  # minus self
    all_params = set(positional) | {p.name.value for p in init.params.kwonly_params}
    self_name = ([*init.params.posonly_params, *init.params.params] or [None])[0]
    if self_name is None:
        return {}
    assigned_attrs: dict[str, int] = {}
    rebound: set[str] = set()
    stores: dict[str, str] = {}
    for node in walk(cls, into_nested=True):
        if type(node) in (cst.AssignTarget, cst.AugAssign, cst.AnnAssign):
            target = node.target
            if type(target) is cst.Attribute and type(target.value) is cst.Name:
                assigned_attrs[target.attr.value] = assigned_attrs.get(target.attr.value, 0) + 1
            elif type(target) is cst.Name:
                rebound.add(target.value)
    for node in walk(init.body, into_nested=True):
        if type(node) is cst.Assign and len(node.targets) == 1:
            target = node.targets[0].target
            if (
                type(target) is cst.Attribute
                and type(target.value) is cst.Name
                and target.value.value == self_name.name.value
                and type(node.value) is cst.Name
                and node.value.value in all_params
            ):
                stores[target.attr.value] = node.value.value
    result: dict[str, tuple[int | None, str]] = {}
    for attr, param in stores.items():
        if assigned_attrs.get(attr) == 1 and param not in rebound:
            result[attr] = (positional.index(param) if param in positional else None, param)
    return result


def _statements(body: cst.BaseSuite) -> list[cst.CSTNode]:
    return list(body.body) if type(body) is cst.IndentedBlock else []
