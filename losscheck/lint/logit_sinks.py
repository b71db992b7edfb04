"""Where a file expects logits: the other half of ``probabilities-as-logits`` (LCK106).

``probabilities.py`` answers "is this value already a probability?"; this module lists the places
where a value must be logits, and the pairings that join a model to a loss expecting logits:

- a *logits sink* is an argument of a call that must be logits: ``logits=`` of TensorFlow's
  ``*_with_logits`` functions (and of wrappers that keep the name: ``compat.
  softmax_cross_entropy_with_logits(labels=y, logits=z)``), ``y_pred`` of a Keras crossentropy
  called with ``from_logits=True`` or of a Loss object built with it, and the prediction argument
  of a helper that calls such a Loss object, handed in, on one of its parameters
  (``discriminator_loss(bce, real_output)``);
- ``model.compile(loss=...)`` gives a ``from_logits=True`` loss to a model that this file builds;
- a function returns a model and a ``from_logits=True`` Loss object together (``return model,
  loss``): a factory or a test fixture hands its caller a pair meant to be used on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.api.logits import LOGIT_LOSS_CLASSES
from losscheck.lint.astutil import assign_targets, get_arg, own_nodes

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext
    from losscheck.lint.probabilities import Probability, ProbabilityModel


@dataclass(frozen=True)
class Sink:
    """A call argument that must be logits."""

    call: cst.Call
    argument: cst.BaseExpression  # the argument that must be logits
    callee: str  # how the call is written, for messages
    switch: bool = True  # it takes logits because of `from_logits=True` (not by its nature)
    via: str | None = None  # what ``callee`` holds, when it is a loss kept from elsewhere


@dataclass(frozen=True)
class Pairing:
    """A ``from_logits=True`` loss given to (or returned with) a model that ends in an activation."""

    loss: cst.BaseExpression  # where the loss is named: the ``loss=`` argument, the returned name
    construction: cst.Call  # its ``XCrossentropy(from_logits=True)``
    output: Probability
    how: str  # how they meet, with ``{loss}`` and ``{construction}`` to fill in


def logits_sinks(model: ProbabilityModel) -> Iterator[Sink]:
    """Every argument of the file that must be logits."""
    ctx = model.ctx
    from losscheck.lint.project_modules import place

    for call, sink in model.logit_calls:
        arg = get_arg(call, sink.param, sink.position)
        if arg is not None:
            yield Sink(call, arg, ctx.code_for(call.func), switch=sink.needs_from_logits)
    if not model.has_logit_objects and not _keeps_a_parameter(model):
        return
    for call in model.index.calls:
        if len(call.args) < 2:
            continue
        if type(call.func) is cst.Name and model.qualname(call.func) is not None:
            yield from _through_helper(model, call)  # an imported function: of the project?
            continue
        loss = loss_object(model, call.func, call)
        if loss is not None:
            arg = get_arg(call, "y_pred", 1)
            given = model.passed_losses.get(id(loss))
            if arg is not None and given is not None:  # kept by a method: say where it comes from
                home, passing = given
                yield Sink(call, arg, ctx.code_for(call.func), via=(
                    f"`{home.code_for(loss.func)}(from_logits=True)`, given by `{home.code_for(passing.func)}(...)` "
                    f"at {place(ctx, home, passing)}"))
            elif arg is not None:
                yield Sink(call, arg, ctx.code_for(loss.func) + "(from_logits=True)")
        elif type(call.func) in (cst.Name, cst.Attribute):
            yield from _through_helper(model, call)


def pairings(model: ProbabilityModel) -> Iterator[Pairing]:
    """``model.compile(loss=...)`` and ``return model, loss`` where the model ends in a
    softmax/sigmoid and the loss is built with ``from_logits=True``."""
    if not model.has_logit_objects:
        return
    for call in model.index.calls:
        func = call.func
        if not (type(func) is cst.Attribute and func.attr.value == "compile" and type(func.value) is cst.Name):
            continue
        loss = get_arg(call, "loss", 1)
        construction = loss_object(model, loss, call) if loss is not None else None
        if construction is None:
            continue
        output = model.model_output(func.value)
        if output is not None:
            yield Pairing(loss, construction, output, "compile() gives it `{construction}`")  # type: ignore[arg-type]
    yield from _returned_together(model)


def _returned_together(model: ProbabilityModel) -> Iterator[Pairing]:
    """``return tf_model, tf_loss, ...``: the one model of the tuple that ends in an activation,
    and each ``from_logits=True`` Loss object returned beside it."""
    from losscheck.lint.compiled_models import model_output

    for scope in model.index.scopes.values():
        for value in scope.returns:
            if type(value) not in (cst.Tuple, cst.List):
                continue
            names = [e.value for e in value.elements if type(e) is cst.Element and type(e.value) is cst.Name]
            losses = [(n, loss_object(model, n, n)) for n in names]
            losses = [(n, c) for n, c in losses if c is not None]
            if not losses:
                continue
            outputs = [found for n in names if (found := model_output(model.ctx, n)) is not None]
            if len(outputs) != 1 or outputs[0][1] is not model.ctx:
                continue  # no model, several (which goes with which?), or one shown elsewhere
            output = outputs[0][0]
            for name, construction in losses:
                yield Pairing(name, construction, output, "`{loss}`, returned together with it, is `{construction}`")


def loss_object(model: ProbabilityModel, func: cst.BaseExpression, at: cst.CSTNode) -> cst.Call | None:
    """The ``XCrossentropy(from_logits=True)`` construction that ``func`` is, if any."""
    if type(func) is cst.Call:
        qualname = model.qualname(func.func)
        return func if qualname in LOGIT_LOSS_CLASSES and from_logits(func) else None
    values: list[cst.BaseExpression | None] = []
    if type(func) is cst.Name:
        where = model.index.where.get(at)
        scope = where[0] if where else None
        while scope is not None and func.value not in scope.defs:
            scope = scope.parent
        if scope is None:
            return None
        values = [d.value for d in scope.defs[func.value]]
    elif type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        values = model.self_attribute(func.attr.value, at)
        if len(values) == 1 and type(values[0]) is cst.Name:  # `self.loss_fn = loss_fn`
            return _passed_to_method(model, values[0])
    if len(values) != 1 or type(values[0]) is not cst.Call:
        return None
    return loss_object(model, values[0], at)


def _keeps_a_parameter(model: ProbabilityModel) -> bool:
    """A method keeps one of its parameters (``self.loss_fn = loss_fn``): a Loss object made in
    another module may come in that way."""
    return any(type(value) is cst.Name for values in model.index.self_assigns.values() for value in values)


def _passed_to_method(model: ProbabilityModel, name: cst.Name) -> cst.Call | None:
    """The ``XCrossentropy(from_logits=True)`` that every call of a method passes for its
    parameter ``name`` (a custom ``compile(self, ..., loss_fn)`` that keeps the loss for
    ``train_step``), in this module or in another module of the project."""
    from losscheck.lint.compiled_models import method_calls
    from losscheck.lint.probabilities import probability_model

    where = model.index.where.get(name)
    scope = where[0] if where else None
    method = scope.node if scope is not None else None
    if type(method) is not cst.FunctionDef or method not in model.index.classes \
            or name.value not in scope.params or scope.defs.get(name.value):  # type: ignore[union-attr]
        return None
    position = scope.params.index(name.value) - 1  # type: ignore[union-attr]  # after `self`
    found: list[tuple[FileContext, cst.Call, cst.Call]] = []
    for home, call in method_calls(model.ctx, model.index.classes[method], method.name.value):
        argument = get_arg(call, name.value, position)
        construction = loss_object(probability_model(home), argument, call) if argument is not None else None
        if construction is None:
            return None  # one call passes something else
        found.append((home, call, construction))
    if not found:
        return None
    home, call, construction = found[0]
    model.passed_losses[id(construction)] = (home, call)
    return construction


def from_logits(call: cst.Call) -> bool:
    value = get_arg(call, "from_logits")
    return type(value) is cst.Name and value.value == "True"


def _through_helper(model: ProbabilityModel, call: cst.Call) -> Iterator[Sink]:
    """``discriminator_loss(bce, real_output)`` where ``bce`` is built with
    ``from_logits=True`` here and the helper (of this module or another) calls its first
    parameter on its second as the prediction: ``real_output`` must be logits."""
    found = _helper(model, call)
    if found is None:
        return
    helper, pairs = found
    for loss_at, pred_at, loss_name, pred_name in pairs:
        given = get_arg(call, loss_name, loss_at)
        loss = loss_object(model, given, call) if given is not None else None
        arg = get_arg(call, pred_name, pred_at)
        if loss is not None and arg is not None:
            yield Sink(call, arg, f"{model.ctx.code_for(loss.func)}(from_logits=True) in {helper}()")


def _helper(model: ProbabilityModel, call: cst.Call) -> tuple[str, list[tuple[int, int, str, str]]] | None:
    """The function ``call`` calls (here, or imported from the project) and its loss pairs."""
    from losscheck.lint.project_modules import imported_function

    if type(call.func) is cst.Name:
        local = model.function(call.func.value, call)
        if local is not None:
            return local.name.value, model.loss_pairs(local)
    if not model.reads_project:
        return None
    imported = imported_function(model.ctx, call.func)
    if imported is None:
        return None
    return imported[1].name.value, model.loss_pairs(imported[1])


def loss_parameter_pairs(function: cst.FunctionDef) -> list[tuple[int, int, str, str]]:
    """(position, position, name, name) of each parameter pair that ``function`` uses as ``loss``
    and ``prediction`` in ``loss(target, prediction)``: a parameter called with another one
    second (or as ``y_pred=``), neither rebound in the body."""
    names = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
    nodes = list(own_nodes(function))
    rebound = {name for node in nodes if type(node) is cst.AssignTarget for name in assign_targets(node.target)}
    rebound |= {node.target.value for node in nodes if type(node) is cst.AugAssign and type(node.target) is cst.Name}
    pairs: list[tuple[int, int, str, str]] = []
    for node in nodes:
        if type(node) is not cst.Call or type(node.func) is not cst.Name or node.func.value not in names:
            continue
        pred = get_arg(node, "y_pred", 1)
        if type(pred) is cst.Name and pred.value in names and not {node.func.value, pred.value} & rebound:
            pair = (names.index(node.func.value), names.index(pred.value), node.func.value, pred.value)
            if pair not in pairs:
                pairs.append(pair)
    return pairs
