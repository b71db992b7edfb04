"""What a model or a layer ends in: the part of the probability model (``probabilities.py``)
that knows Keras models.

A model is built with ``Sequential`` (its last layer, or its last ``model.add(...)``),
``Model(inputs, outputs)`` (every output), a ``keras.applications`` classifier, or is a ``Model``
or ``Layer`` subclass whose ``call`` returns one; an instance made in another module of the
project is followed there (``compiled_models.py``), and what it ends in is shown as
``path:line`` of that module. :class:`Probability` is the value every query answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.api.logits import (
    ACTIVATION_LAYERS,
    ACTIVATION_NAMES,
    ACTIVATIONS,
    APPLICATION_DEFAULT_ACTIVATION,
    APPLICATIONS_MODULE,
    Activation,
)
from losscheck.lint.astutil import get_arg, string_value
from losscheck.lint.scope_index import is_self_attribute
from losscheck.lint.scopes import Scope, reaching_definitions

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext

_MODEL_BASES = frozenset({"keras.Model", "keras.models.Model", "keras.layers.Layer"})


@dataclass(frozen=True)
class Probability:
    """A value that is a probability: the activation that made it and where."""

    activation: Activation
    origin: cst.CSTNode  # the softmax/sigmoid call, or the layer call, that made it (in this file)
    # where the activation really is, as ``path:line`` relative to the project root, when it is
    # in another module (``origin`` is then the call of the model passed in, in this file)
    elsewhere: str | None = None
    # a parameter whose name says it holds probabilities (``probs``): no activation is seen, so
    # ``activation`` is only a placeholder and the caller names the one the sink applies
    named: str | None = None

    def where(self, ctx: FileContext) -> str:
        """``line N`` in ``ctx``'s file, or ``path:line`` in another module."""
        return self.elsewhere or f"line {ctx.position(self.origin).start.line}"



class ModelEndings:
    """The model queries of :class:`probabilities.ProbabilityModel`, which it is mixed into (they
    use its ``of``, ``index``, ``qualname`` and the name lookups)."""

    def _instance_method(self, func: cst.Attribute, call: cst.Call, depth: int) -> Probability | None:
        """``d.run(x)`` where ``d = Discriminator(...)`` (or ``self.d = ...``) makes an instance
        of a class of this module or of another module of the project: what that method returns."""
        receiver = func.value
        if type(receiver) is cst.Name:
            made = self.model_definition(receiver)
        elif is_self_attribute(receiver):
            values = self.self_attribute(receiver.attr.value, call)  # type: ignore[attr-defined]
            made = values[0] if len(values) == 1 and type(values[0]) is cst.Call else None
        else:
            return None
        if made is None or type(made.func) not in (cst.Name, cst.Attribute):
            return None
        home, cls = self.ctx, None
        if type(made.func) is cst.Name and self.qualname(made.func) is None:
            cls = self._bound(made.func.value, made, "classes")
        if cls is None:
            from losscheck.lint.project_modules import imported_definition

            found = imported_definition(self.ctx, made.func)
            if found is None:
                return None
            home, cls = found
        if type(cls) is not cst.ClassDef or type(cls.body) is not cst.IndentedBlock:
            return None
        methods = [s for s in cls.body.body if type(s) is cst.FunctionDef and s.name.value == func.attr.value]
        if len(methods) != 1:
            return None
        if home is self.ctx:
            return self._returns(methods[0], depth + 1)
        from losscheck.lint.probabilities import probability_model

        output = probability_model(home)._returns(methods[0], depth + 1)
        return self._shown_in(home, output, call) if output is not None else None

    def _instance_output(self, made: cst.Call, at: cst.CSTNode) -> Probability | None:
        """What an instance made by ``made`` returns when called: a ``Model`` or ``Layer``
        subclass of this module or of another module of the project, or a model a builder returns."""
        from losscheck.lint.compiled_models import returned_model

        key = (id(made), -2)
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            found = returned_model(self.ctx, made, 1)
        finally:
            self._busy.discard(key)
        if found is None:
            return None
        output, home = found
        return output if home is self.ctx else self._shown_in(home, output, at)

    def _shown_in(self, home: FileContext, output: Probability, at: cst.CSTNode) -> Probability:
        """``output``, found in another module ``home``, as seen from ``at`` in this file."""
        from losscheck.lint.project_modules import place

        where = output.elsewhere or place(self.ctx, home, output.origin)
        return Probability(output.activation, at, elsewhere=where, named=output.named)

    def _passed_model(self, model: cst.Name) -> Probability | None:
        """``model(x)`` where ``model`` is a parameter (the model every caller passes) or holds
        what a call returned (``build_discriminator()``, a ``Model`` subclass), in this module or
        in another one of the project (``compiled_models.model_output``)."""
        from losscheck.lint.compiled_models import model_output

        key = (id(model), -1)
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            found = model_output(self.ctx, model)
        finally:
            self._busy.discard(key)
        if found is None:
            return None
        output, home = found
        if home is self.ctx:
            return output
        return self._shown_in(home, output, model)

    def layer_activation(self, layer: cst.Call) -> Activation | None:
        """The activation a Keras layer construction applies last, if softmax or sigmoid; for a
        layer class of another library or of the project (``WeightNormDense(10,
        activation=tf.nn.softmax)``), the one its ``activation=`` keyword names, the Keras way."""
        qualname = self.qualname(layer.func)
        if qualname is None or not qualname.startswith("keras.layers."):
            written = qualname or (self.ctx.code_for(layer.func) if type(layer.func) in (cst.Name, cst.Attribute) else "")
            if not written.rsplit(".", 1)[-1][:1].isupper():
                return None  # not a class
            value = get_arg(layer, "activation")
            if value is None:
                return None
            name = string_value(value)
            named = None if name is not None else self.qualname(value)
            return ACTIVATION_NAMES.get(name) if name is not None else ACTIVATIONS.get(named) if named else None
        if qualname in ACTIVATION_LAYERS:
            return ACTIVATION_LAYERS[qualname]
        if qualname == "keras.layers.Activation":
            name = string_value(get_arg(layer, "activation", 0))
        else:
            name = string_value(get_arg(layer, "activation"))
            if name is None:
                value = get_arg(layer, "activation")
                named = self.qualname(value) if value is not None else None
                return ACTIVATIONS.get(named) if named else None
        return ACTIVATION_NAMES.get(name) if name else None

    def model_class(self, name: str, at: cst.CSTNode) -> cst.ClassDef | None:
        """The one class ``name`` names from ``at``'s scope, when it subclasses a Keras ``Model``."""
        found = self._bound(name, at, "classes")
        return found if isinstance(found, cst.ClassDef) and self._is_model_class(found) else None

    def _is_model_class(self, cls: cst.ClassDef) -> bool:
        """A Keras ``Model`` or ``Layer`` subclass: what its ``call`` returns is its output."""
        for base in cls.bases:
            qualname = self.qualname(base.value)
            if qualname in _MODEL_BASES:
                return True
            if qualname is None and type(base.value) in (cst.Name, cst.Attribute) \
                    and self.ctx.code_for(base.value).rsplit(".", 1)[-1] in ("Model", "Layer"):
                return True  # `class Net(Model)` where the import is not seen
        return False

    def class_output(self, cls: cst.ClassDef, depth: int = 0) -> Probability | None:
        """The softmax/sigmoid that every ``return`` of a ``Model`` subclass's ``call`` ends in."""
        if not self._has_activation or type(cls.body) is not cst.IndentedBlock or not self._is_model_class(cls):
            return None
        calls = [stmt for stmt in cls.body.body if type(stmt) is cst.FunctionDef and stmt.name.value == "call"]
        return self._returns(calls[0], depth + 1) if len(calls) == 1 else None

    def model_output(self, model: cst.Name) -> Probability | None:
        """The softmax/sigmoid the model bound to ``model`` ends in, where this file builds it
        (on every branch that builds it: ``if deep: model = Model(x, [a, b]) else: model = ...``)."""
        where = self.index.where.get(model)
        found = reaching_definitions(model.value, *where) if where is not None else None
        if found is None or found[1] or not found[0]:
            return None
        scope, order = where[0], where[1]  # type: ignore[index]
        outputs = [self.built_output(d.value, model.value, scope, (d.order, order)) if type(d.value) is cst.Call
                   else None for d in found[0]]
        return outputs[0] if all(outputs) else None

    def built_output(self, built: cst.Call, name: str | None = None, scope: Scope | None = None,
                     between: tuple[int, int] = (0, 0)) -> Probability | None:
        """The softmax/sigmoid of the model that ``built`` constructs (``Sequential([...])``,
        ``Model(inputs, outputs)``); for a ``Sequential`` bound to ``name``, its ``name.add(...)``
        calls in ``scope`` between the two orders count."""
        qualname = self.qualname(built.func)
        if qualname in {"keras.Sequential", "keras.models.Sequential"}:
            # the last layer: the last `model.add(...)` before compile(), else the list's last
            added = [c for c in self.index.calls
                     if name is not None and type(c.func) is cst.Attribute and c.func.attr.value == "add"
                     and type(c.func.value) is cst.Name and c.func.value.value == name
                     and self.index.where[c][0] is scope and between[0] < self.index.where[c][1] < between[1]]
            if added:
                layer = get_arg(added[-1], "layer", 0)
            else:
                layers = get_arg(built, "layers", 0)
                elements = layers.elements if type(layers) in (cst.List, cst.Tuple) else ()
                layer = elements[-1].value if elements and type(elements[-1]) is cst.Element else None
            if type(layer) is cst.Call:
                activation = self.layer_activation(layer)
                return Probability(activation, layer) if activation else None
            return None
        if qualname is not None and qualname.startswith(APPLICATIONS_MODULE + ".") \
                and qualname.rsplit(".", 1)[-1][:1].isupper():
            return self._application_output(built)
        if qualname in {"keras.Model", "keras.models.Model"}:
            outputs = get_arg(built, "outputs", 1)
            if type(outputs) in (cst.List, cst.Tuple):  # several outputs: each one ends in one
                heads = [e.value for e in outputs.elements if type(e) is cst.Element]  # type: ignore[union-attr]
                found_all = [self.of(head) for head in heads] if len(heads) == len(outputs.elements) else []  # type: ignore[union-attr]
                found = found_all[0] if found_all and all(found_all) else None
            else:
                found = self.of(outputs) if outputs is not None else None
            return found if found is not None and found.named is None else None  # a model shows its activation
        if qualname is None and type(built.func) is cst.Name:  # `Net()`, a `Model` subclass of this file
            cls = self.model_class(built.func.value, built)
            return self.class_output(cls) if cls is not None else None
        return None

    def _application_output(self, built: cst.Call) -> Probability | None:
        """A ``keras.applications`` model with its classifier ends in ``classifier_activation``."""
        include_top = get_arg(built, "include_top")
        if include_top is not None and not (type(include_top) is cst.Name and include_top.value == "True"):
            return None  # no classifier, or one we cannot tell
        given = get_arg(built, "classifier_activation")
        if given is None:
            return Probability(APPLICATION_DEFAULT_ACTIVATION, built)
        name = string_value(given)
        activation = ACTIVATION_NAMES.get(name) if name is not None else None
        return Probability(activation, built) if activation else None
