"""Which model a loss is compiled with, and whether that model already ends in a softmax or
sigmoid, across the modules of a project.

A loss module rarely shows its model: ``train.py`` builds it with ``build_classifier()`` from
``models/resnet.py`` and compiles it with ``loss=focal_loss`` from ``loss.py``. If
``focal_loss`` treats its prediction as logits (applies a sigmoid to it, or hands it to a
``*_with_logits`` function or a ``from_logits=True`` crossentropy) while the model's last layer
is ``Activation("sigmoid")``, the sigmoid is applied twice. This module answers, for a loss of
this file: where other modules compile it (``project_uses.py``), and what the model compiled
there ends in (the probability model of that module, ``probabilities.py``), following the
model's construction into builder functions of the same module or of other modules of the
project (``project_modules.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import get_arg
from losscheck.lint.logit_sinks import logits_sinks
from losscheck.lint.probabilities import Probability, probability_model

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction

_MAX_DEPTH = 3  # builders of builders


@dataclass(frozen=True)
class CompiledOn:
    """A compile site of a loss whose model ends in an activation."""

    where: str  # the compile call, as ``path:line`` relative to the project root
    output: Probability  # the model's last activation
    output_where: str  # where that activation is, as ``path:line``


def compiled_on_probabilities(ctx: FileContext, name: str) -> list[CompiledOn]:
    """Every ``model.compile(loss=name...)`` elsewhere in the project whose model ends in a
    softmax or sigmoid (the loss ``name`` being a module-level function of this file)."""
    from losscheck.lint import project
    from losscheck.lint.project_modules import module_context
    from losscheck.lint.project_uses import uses_of

    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is None:
        return []
    uses = uses_of(os.path.abspath(ctx.path), root).get(name)
    if uses is None:
        return []
    found: list[CompiledOn] = []
    for path, line in uses.compile_calls:
        other = module_context(path, ctx)
        if other is None:
            continue
        for call in _compile_calls_at(other, line):
            model = call.func.value  # type: ignore[attr-defined]
            result = model_output(other, model)
            if result is not None:
                output, home = result
                found.append(CompiledOn(
                    where=f"{os.path.relpath(path, root)}:{line}",
                    output=output,
                    output_where=output.elsewhere or f"{os.path.relpath(home.path, root)}:{home.position(output.origin).start.line}",
                ))
    return found


def _compile_calls_at(ctx: FileContext, line: int) -> list[cst.Call]:
    calls = []
    for call in probability_model(ctx).index.calls:
        func = call.func
        if type(func) is cst.Attribute and func.attr.value == "compile" and type(func.value) is cst.Name \
                and ctx.position(call).start.line <= line <= ctx.position(call).end.line:
            calls.append(call)
    return calls


def model_output(ctx: FileContext, model: cst.Name, depth: int = 0) -> tuple[Probability, FileContext] | None:
    """The softmax/sigmoid the model that ``model`` holds ends in, and the module that shows it:
    built in this module, or returned by a builder function here or in another module."""
    probabilities = probability_model(ctx)
    output = probabilities.model_output(model)
    if output is not None:
        return output, ctx
    if depth >= _MAX_DEPTH:
        return None
    built = probabilities.model_definition(model)
    if built is not None:
        return _built_by(ctx, built, depth + 1)
    return _passed_in(ctx, model, depth + 1)


def _passed_in(ctx: FileContext, model: cst.Name, depth: int) -> tuple[Probability, FileContext] | None:
    """The model that every caller passes for the parameter ``model`` (``def train(params,
    model, dataset)`` called as ``train(params, Unet(), ds)`` here or in another module), when
    each one ends in the same kind of activation; None when any caller passes something unknown."""
    from losscheck.lint import project
    from losscheck.lint.project_modules import module_context
    from losscheck.lint.project_uses import uses_of

    found = probability_model(ctx).parameter_of(model)
    if found is None:
        return None
    function, position = found
    name = function.name.value
    calls = [(ctx, c) for c in probability_model(ctx).index.calls_by_name.get(name, [])
             if probability_model(ctx).function(name, c) is function]
    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is not None and function in ctx.module.body:
        uses = uses_of(os.path.abspath(ctx.path), root).get(name)
        for relative, line, _use in uses.module_places() if uses is not None else ():
            other = module_context(os.path.join(root, relative), ctx)
            if other is not None:
                calls += [(other, c) for c in _calls_of(other, name, line)]
    results = []
    for home, call in calls:
        argument = get_arg(call, model.value, position)
        results.append(returned_model(home, argument, depth) if argument is not None else None)
    if not results or not all(results):
        return None
    return results[0]


def _built_by(ctx: FileContext, call: cst.Call, depth: int) -> tuple[Probability, FileContext] | None:
    """What a builder call returns: a function of this module, or of another module of the project."""
    from losscheck.lint.project_modules import imported_definition

    probabilities = probability_model(ctx)
    home, builder = ctx, None
    if type(call.func) is cst.Name:
        builder = probabilities.function(call.func.value, call)
    if builder is None:
        found = imported_definition(ctx, call.func)
        if found is None:
            return None
        home, definition = found
        if type(definition) is cst.ClassDef:  # `Unet()`, a `Model` subclass of another module
            output = probability_model(home).class_output(definition)
            return (output, home) if output is not None else None
        builder = definition
    scope = probability_model(home).index.scopes.get(builder)
    if scope is None or not scope.returns:
        return None
    results = [returned_model(home, value, depth) for value in scope.returns]
    if not results or not all(results):
        return None
    return results[0]


def returned_model(ctx: FileContext, value: cst.BaseExpression, depth: int) -> tuple[Probability, FileContext] | None:
    if type(value) is cst.Name:
        return model_output(ctx, value, depth)
    if type(value) is cst.Call:
        output = probability_model(ctx).built_output(value)
        if output is not None:
            return output, ctx
        return _built_by(ctx, value, depth + 1) if depth < _MAX_DEPTH else None
    return None


def prediction_as_logits(ctx: FileContext, fn: LossFunction) -> list[tuple[cst.CSTNode, str]]:
    """Where the loss ``fn`` treats its prediction parameter itself as logits: (the node, what it
    does), for a softmax/sigmoid applied to it or a logits argument given it."""
    from losscheck.lint.api.logits import ACTIVATIONS, canonical, preserves

    probabilities = probability_model(ctx)
    scope = probabilities.index.scopes.get(fn.node)  # type: ignore[arg-type]
    param = fn.y_pred
    if scope is None or param is None or param not in scope.params or scope.defs.get(param):
        return []  # no prediction parameter, or one rebound in the body

    def is_prediction(expr: cst.BaseExpression | None, depth: int = 0) -> bool:
        if type(expr) is cst.Name:
            if expr.value == param:
                return True
            defs = scope.defs.get(expr.value, [])  # `flat = tf.reshape(y_pred, ...)`, assigned once
            return depth < 3 and len(defs) == 1 and not defs[0].conditional and defs[0].value is not None \
                and is_prediction(defs[0].value, depth + 1)
        if type(expr) is cst.Call and depth < 3 and preserves(canonical(ctx.imports.qualname(expr.func))):
            return is_prediction(get_arg(expr, None, 0), depth + 1)
        return False

    def inside(node: cst.CSTNode) -> bool:
        where = probabilities.index.where.get(node)
        return where is not None and where[0] is scope

    sites: list[tuple[cst.CSTNode, str]] = []
    for sink in logits_sinks(probabilities):
        if inside(sink.call) and is_prediction(sink.argument):
            sites.append((sink.argument, f"passes it as logits to `{sink.callee}`"))
    for call in probabilities.index.calls:
        if not inside(call):
            continue
        qualname = canonical(ctx.imports.qualname(call.func))
        if qualname in ACTIVATIONS and is_prediction(get_arg(call, None, 0)):
            sites.append((call, f"applies `{ctx.code_for(call.func)}` to it"))
    return sites


@dataclass(frozen=True)
class LoopCall:
    """A training step in another module that calls a loss with a model's softmax/sigmoid output."""

    where: str  # the call, as ``path:line`` relative to the project root
    argument: str  # what it passes as the prediction, as written
    output: Probability
    output_where: str


def looped_on_probabilities(ctx: FileContext, fn: LossFunction, name: str) -> list[LoopCall]:
    """The calls of the loss ``name`` in other modules' training steps (``project_uses``'s loop
    uses) whose prediction argument is the output of a model ending in a softmax or sigmoid
    (``out = discriminator(x)``, the model built in that module or by a builder of the project),
    or a softmax/sigmoid there."""
    from losscheck.lint import project
    from losscheck.lint.project_modules import module_context
    from losscheck.lint.project_uses import uses_of

    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is None or type(fn.node) is not cst.FunctionDef or fn.y_pred is None:
        return []
    params = [p.name.value for p in (*fn.node.params.posonly_params, *fn.node.params.params)]
    if fn.y_pred not in params:
        return []
    position = params.index(fn.y_pred)
    uses = uses_of(os.path.abspath(ctx.path), root).get(name)
    found: list[LoopCall] = []
    for relative, line, use in uses.module_places(uses.loop) if uses is not None else ():
        other = module_context(os.path.join(root, relative), ctx)
        if other is None:
            continue
        for call in _calls_of(other, name, line):
            argument = get_arg(call, fn.y_pred, position)
            result = _probability_of(other, argument) if argument is not None else None
            if result is not None:
                output, home = result
                found.append(LoopCall(
                    where=use, argument=other.code_for(argument), output=output,  # type: ignore[arg-type]
                    output_where=output.elsewhere or f"{os.path.relpath(home.path, root)}:{home.position(output.origin).start.line}",
                ))
    return found


def method_calls(ctx: FileContext, cls: cst.ClassDef, method: str) -> Iterator[tuple[FileContext, cst.Call]]:
    """Every ``x.method(...)`` where ``x`` holds an instance of ``cls`` (a class of ``ctx``'s
    module) made by ``cls(...)``: in this module, and in the modules of the project that import it."""
    from losscheck.lint import project
    from losscheck.lint.project_modules import imported_definition, module_context
    from losscheck.lint.project_uses import uses_of

    homes = [ctx]
    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is not None and cls in ctx.module.body:
        uses = uses_of(os.path.abspath(ctx.path), root).get(cls.name.value)
        paths = {relative for relative, _line, _use in uses.module_places()} if uses else set()
        homes += [other for path in sorted(paths) if (other := module_context(os.path.join(root, path), ctx))]
    for home in homes:
        probabilities = probability_model(home)
        for call in probabilities.index.calls:
            func = call.func
            if type(func) is not cst.Attribute or func.attr.value != method or type(func.value) is not cst.Name:
                continue
            made = probabilities.model_definition(func.value)
            if made is None:
                continue
            if home is ctx:
                named = type(made.func) is cst.Name and probabilities.class_named(made.func.value, made) is cls
            else:
                found = imported_definition(home, made.func)
                named = found is not None and found[1].name.value == cls.name.value \
                    and os.path.abspath(found[0].path) == os.path.abspath(ctx.path)
            if named:
                yield home, call


def _calls_of(ctx: FileContext, name: str, line: int) -> list[cst.Call]:
    """The calls on ``line`` of the function ``name`` (imported, possibly under an alias)."""
    calls = []
    for call in probability_model(ctx).index.calls:
        func = call.func
        if type(func) is cst.Name:
            target = ctx.imports.names.get(func.value, "")
            named = func.value == name or target == name or target.endswith("." + name)
        else:
            named = type(func) is cst.Attribute and func.attr.value == name
        if named and ctx.position(call).start.line == line:
            calls.append(call)
    return calls


def _probability_of(ctx: FileContext, value: cst.BaseExpression) -> tuple[Probability, FileContext] | None:
    """``value`` as a softmax/sigmoid output: one in this module, or the output of a model
    (``discriminator(x)``, directly or through a name) that ends in one."""
    probabilities = probability_model(ctx)
    found = probabilities.of(value)
    if found is not None and found.named is None:  # a name is a promise, not an activation to point at
        return found, ctx
    if type(value) is cst.Name:
        value = probabilities.model_definition(value) or value
    if type(value) is cst.Call and type(value.func) is cst.Name:
        return model_output(ctx, value.func)
    return None
