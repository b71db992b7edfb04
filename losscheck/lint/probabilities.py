"""Which values are already probabilities.

A fact of the whole file, not only of its loss functions: the mistake it serves (a sigmoid or
softmax output passed where logits are expected) is made as often in training steps and
``compute_cost(...)`` helpers as in losses. Where logits are expected is ``logit_sinks.py``.

- A value is a *probability* when every definition of it that can reach the use is the result of
  a softmax or sigmoid (``api/logits.py``: ``tf.sigmoid``, ``keras.ops.softmax``, a layer called
  with ``activation="softmax"``), of a call that keeps that (``tf.reshape``, ``K.clip``, a
  subscript), of a local function whose every ``return`` is one, or a parameter that every call
  of its function in the file passes one, or the output of a model that ends in one
  (``model_endings.py``: ``Sequential``, ``Model(inputs, outputs)``, a ``Model`` or ``Layer``
  subclass whose ``call`` returns one, directly or through a layer it made in ``__init__``:
  ``self.head = Dense(3, activation="softmax")``). Anything unknown is not a probability: the
  rule built on this never guesses.
- Two things count without an activation in sight. A conditional expression with a probability
  on either branch (``p.op.inputs[0] if p.op.type == "Softmax" else p``): on that branch it is
  one. A parameter whose name promises probabilities (``probs``, ``y_prob``, not ``log_probs``)
  whatever its callers pass: it states the function's own contract.
- Reaching definitions are found by source order within one scope: the last unconditional
  assignment before the use, with the conditional ones after it (``if``/``for``/``while``/``try``
  bodies) and, inside a loop, the assignments later in the same loop.
"""

from __future__ import annotations

from functools import cached_property

import libcst as cst

from losscheck.lint.api.logits import (
    ACTIVATIONS,
    APPLICATIONS_MODULE,
    LOGIT_FUNCTIONS,
    LOGIT_LOSS_CLASSES,
    LogitsSink,
    canonical,
    preserves,
)
from losscheck.lint.astutil import all_nodes, get_arg
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.logit_sinks import from_logits, loss_parameter_pairs
from losscheck.lint.model_endings import ModelEndings, Probability
from losscheck.lint.scope_index import ScopeIndex, is_self_attribute, scope_index
from losscheck.lint.scopes import Definition, Scope, reaching_definitions
from losscheck.lint.syntax_index import preorder_nodes

_MAX_DEPTH = 4  # calls followed into helpers and out to callers, in all
_WRAPPER = LogitsSink("logits", None)  # keyword only: a wrapper's positions are its own


# Name parts that say "probabilities" (``probs``, ``y_prob``, ``pred_probas``), and parts that
# say the values are something else after all (``log_probs`` are valid logits).
_PROBABILITY_WORDS = frozenset({"prob", "probs", "proba", "probas", "probability", "probabilities"})
_NOT_PROBABILITY_WORDS = frozenset({"log", "logprob", "logprobs", "logit", "logits", "unnormalized", "raw"})


def probability_name(name: str) -> bool:
    """``name`` says its values are probabilities (``probs``, ``y_prob``), not log-probabilities."""
    words = set(name.lower().strip("_").split("_"))
    return bool(words & _PROBABILITY_WORDS) and not words & _NOT_PROBABILITY_WORDS


class ProbabilityModel(ModelEndings):
    """Answers "is this expression already a probability?" for any expression of the file."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._busy: set[tuple[int, int]] = set()
        # helper -> its (loss, prediction) parameter pairs: a helper is called many times
        self._pairs: dict[cst.FunctionDef, list[tuple[int, int, str, str]]] = {}
        # Cheap first: the calls of the file (the finder's walk already listed every node), and the
        # Loss objects built with from_logits=True. The scope index is built only for a file that
        # has a call expecting logits.
        calls: list[cst.Call] = []
        # a parameter named as probabilities: one may reach a logits argument with no activation
        # in sight (``def attack_loss(y, probs)``)
        self._has_named = False
        for node in all_nodes(ctx):
            if type(node) is cst.Call:
                calls.append(node)
            elif type(node) is cst.Param and not self._has_named and probability_name(node.name.value):
                self._has_named = True
        self.logit_calls: list[tuple[cst.Call, LogitsSink]] = []
        # a Loss object a method keeps (`self.loss_fn = loss_fn`) -> (module, the call passing it)
        self.passed_losses: dict[int, tuple[FileContext, cst.Call]] = {}
        self.has_logit_objects = False
        self._has_activation = False  # no softmax/sigmoid anywhere: nothing can be a probability
        for call in calls:
            if type(call.func) is cst.Call and self.layer_activation(call.func):
                self._has_activation = True
            qualname = self.qualname(call.func)
            if qualname is None:
                continue
            if qualname in ACTIVATIONS or (qualname.startswith("keras.layers.") or _has_keyword(call, "activation")) \
                    and self.layer_activation(call) or qualname.startswith(APPLICATIONS_MODULE + "."):
                # a softmax, a layer built with one (`self.head = Dense(...)`), a pretrained classifier
                self._has_activation = True
            sink = LOGIT_FUNCTIONS.get(qualname)
            if sink is None and qualname.endswith("_with_logits") and _has_keyword(call, "logits"):
                sink = _WRAPPER  # a wrapper that keeps TensorFlow's name and keywords (`compat.`)
            if sink is not None and (not sink.needs_from_logits or from_logits(call)) \
                    and (sink.unless is None or not _has_keyword(call, sink.unless)):
                self.logit_calls.append((call, sink))
            elif qualname in LOGIT_LOSS_CLASSES and from_logits(call):
                self.has_logit_objects = True

    @cached_property
    def reads_project(self) -> bool:
        """Other modules of the project may be read: a model passed in as a parameter may end in
        an activation that this file never writes."""
        from losscheck.lint import project

        return project.root_for(self.ctx.path, self.ctx.options.get("keras_target")) is not None

    @property
    def index(self) -> ScopeIndex:
        return scope_index(self.ctx)

    # -- values ----------------------------------------------------------------------
    def of(self, expr: cst.BaseExpression, depth: int = 0) -> Probability | None:
        if depth > _MAX_DEPTH or not (self._has_activation or self._has_named or self.reads_project):
            return None
        if type(expr) is cst.Call:
            return self._call(expr, depth)
        if type(expr) is cst.Subscript:
            return self.of(expr.value, depth)
        if type(expr) is cst.IfExp:  # `p.op.inputs[0] if p.op.type == "Softmax" else p`: one branch is enough
            return self.of(expr.body, depth) or self.of(expr.orelse, depth)
        if type(expr) is cst.Name:
            return self._name(expr, depth)
        if is_self_attribute(expr):  # `self.prob`, every `self.prob = ...` of the class a probability
            values = self.self_attribute(expr.attr.value, expr.value)  # type: ignore[attr-defined]
            found = [self.of(value, depth + 1) if value is not None else None for value in values]
            return found[0] if found and all(found) else None
        return None

    def qualname(self, expr: cst.BaseExpression) -> str | None:
        return canonical(self.ctx.imports.qualname(expr))

    def _call(self, call: cst.Call, depth: int) -> Probability | None:
        qualname = self.qualname(call.func)
        if qualname in ACTIVATIONS:
            return Probability(ACTIVATIONS[qualname], call)
        if preserves(qualname):
            first = get_arg(call, None, 0)
            return self.of(first, depth) if first is not None else None
        if type(call.func) is cst.Call:  # `Dense(3, activation="softmax")(x)`
            activation = self.layer_activation(call.func)
            return Probability(activation, call) if activation else None
        if type(call.func) is cst.Name and qualname is None:
            helper = self._function(call.func.value, call)
            if helper is not None:
                return self._returns(helper, depth + 1)
            if self.parameter_of(call.func) is not None or self.model_definition(call.func) is not None:
                return self._passed_model(call.func)  # a model passed in, or built by a builder
        if is_self_attribute(call.func):  # `self.head(x)` with `self.head = Dense(3, activation="softmax")`
            layers = self.self_attribute(call.func.attr.value, call)  # type: ignore[attr-defined]
            if len(layers) == 1 and type(layers[0]) is cst.Call:
                activation = self.layer_activation(layers[0])
                if activation:
                    return Probability(activation, layers[0])
                return self._instance_output(layers[0], call)  # `self.disc = Discriminator()`
            method = self._method(call.func.attr.value, call) if not layers else None  # type: ignore[attr-defined]
            if method is not None:  # `self.generator(x)`, a method of the same class
                return self._returns(method, depth + 1)
        elif type(call.func) is cst.Attribute and qualname is None:
            return self._instance_method(call.func, call, depth)
        return None

    def _returns(self, helper: cst.FunctionDef, depth: int) -> Probability | None:
        scope = self.index.scopes.get(helper)
        if scope is None or not scope.returns:
            return None
        found = [self.of(value, depth) for value in scope.returns]
        return found[0] if all(found) else None

    def function(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        """The one plain function (not a method) that ``name`` calls from ``at``'s scope."""
        return self._function(name, at)

    def _function(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        """The one plain function (not a method) that ``name`` calls from ``at``'s scope."""
        found = self._bound(name, at, "functions")
        return found if isinstance(found, cst.FunctionDef) and found not in self.index.classes else None

    def class_named(self, name: str, at: cst.CSTNode) -> cst.ClassDef | None:
        """The one class ``name`` names from ``at``'s scope."""
        found = self._bound(name, at, "classes")
        return found if isinstance(found, cst.ClassDef) else None

    def _bound(self, name: str, at: cst.CSTNode, kind: str) -> cst.FunctionDef | cst.ClassDef | None:
        """The one ``def`` or ``class`` (``kind``: "functions" or "classes") that ``name`` is
        bound to in the nearest scope around ``at`` that binds it, when nothing else binds it."""
        where = self.index.where.get(at)
        scope = where[0] if where else None
        while scope is not None:
            if name in scope.defs:
                made = getattr(scope, kind).get(name, [])
                return made[0] if len(made) == 1 and len(scope.defs[name]) == 1 else None
            scope = scope.parent
        return None

    def _name(self, name: cst.Name, depth: int) -> Probability | None:
        where = self.index.where.get(name)
        if where is None:
            return None
        scope, order, loops = where
        key = (id(name), depth)
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            return self._reaching(name.value, scope, order, loops, depth)
        finally:
            self._busy.discard(key)

    def _reaching(self, name: str, scope: Scope, order: int, loops: tuple[cst.CSTNode, ...],
                  depth: int) -> Probability | None:
        found = reaching_definitions(name, scope, order, loops)
        if found is None:
            return None
        reaching, from_param = found
        results: list[Probability | None] = [
            self.of(d.value, depth) if d.value is not None else None for d in reaching
        ]
        if from_param:
            results.append(self._param(scope, name, depth + 1))
        if not results or not all(results):
            return None
        return results[0]


    def _param(self, scope: Scope, name: str, depth: int) -> Probability | None:
        """A parameter that every call of its function in the file passes a probability."""
        function = scope.node
        if type(function) is not cst.FunctionDef:
            return None
        if function in self.index.classes:  # a method: its callers are not followed
            return self._named(function, name)
        calls = [c for c in self.index.calls_by_name.get(function.name.value, [])
                 if self._function(function.name.value, c) is function]
        if not calls:
            return self._named(function, name)
        position = scope.params.index(name)
        found: list[Probability | None] = []
        for call in calls:
            arg = get_arg(call, name, position)
            found.append(self.of(arg, depth) if arg is not None else None)
        if found and all(found):
            return found[0]
        return self._named(function, name)

    def _named(self, function: cst.FunctionDef, name: str) -> Probability | None:
        """The parameter ``name`` of ``function`` when its name promises probabilities."""
        if not probability_name(name):
            return None
        params = function.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.name.value == name:
                return Probability("softmax", param.name, named=name)
        return None

    def loss_pairs(self, helper: cst.FunctionDef) -> list[tuple[int, int, str, str]]:
        """``logit_sinks.loss_parameter_pairs`` of ``helper``, computed once: a helper is called
        many times."""
        if helper not in self._pairs:
            self._pairs[helper] = loss_parameter_pairs(helper)
        return self._pairs[helper]

    def parameter_of(self, name: cst.Name) -> tuple[cst.FunctionDef, int] | None:
        """(the function, the position) when ``name`` reads a positional parameter that its
        function never rebinds, from that function's body or a closure inside it."""
        where = self.index.where.get(name)
        scope = where[0] if where else None
        while scope is not None and name.value not in scope.defs and name.value not in scope.params:
            scope = scope.parent
        if scope is None or scope.defs.get(name.value) or type(scope.node) is not cst.FunctionDef:
            return None
        return scope.node, scope.params.index(name.value)

    def model_definition(self, model: cst.Name) -> cst.Call | None:
        """The one call whose result ``model`` holds where it is used (``build_model(...)``)."""
        found = self._model_definition(model)
        return found[0].value if found is not None else None  # type: ignore[return-value]

    def _model_definition(self, model: cst.Name) -> tuple[Definition, Scope, int] | None:
        where = self.index.where.get(model)
        if where is None:
            return None
        scope, order, loops = where
        found = reaching_definitions(model.value, scope, order, loops)
        if found is None or found[1] or len(found[0]) != 1 or not isinstance(found[0][0].value, cst.Call):
            return None
        return found[0][0], scope, order

    def self_attribute(self, attribute: str, at: cst.CSTNode) -> list[cst.BaseExpression | None]:
        """The values of every ``self.attribute = value`` in the class of the method around ``at``
        (a Name or a Call)."""
        cls = self._class_around(at)
        return list(self.index.self_assigns.get((cls, attribute), [])) if cls is not None else []

    def _method(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        """The one method ``name`` of the class of the method around ``at``."""
        cls = self._class_around(at)
        if cls is None or type(cls.body) is not cst.IndentedBlock:
            return None
        methods = [s for s in cls.body.body if type(s) is cst.FunctionDef and s.name.value == name]
        return methods[0] if len(methods) == 1 else None

    def _class_around(self, at: cst.CSTNode) -> cst.ClassDef | None:
        where = self.index.where.get(at)
        scope = where[0] if where else None
        while scope is not None and not (type(scope.node) is cst.FunctionDef and scope.node in self.index.classes):
            scope = scope.parent
        return self.index.classes[scope.node] if scope is not None else None  # type: ignore[index]


def _has_keyword(call: cst.Call, name: str) -> bool:
    return any(arg.keyword is not None and arg.keyword.value == name for arg in call.args)


@fact(preorder_nodes, on_demand=(scope_index,))  # the index only for a file with a call expecting logits
def probability_model(ctx: FileContext) -> ProbabilityModel:
    return ProbabilityModel(ctx)
