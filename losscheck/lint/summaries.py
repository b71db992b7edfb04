"""Helper functions that loss code calls, seen from the call site.

A loss often delegates: ``return _reduce(err)``, ``dc = dice_coef(y_true, y_pred)``, with a helper
whose parameters have any names (``(x)``, ``(truth, prediction)``) and that is not loss code
itself. This module answers, for a call ``name(...)`` inside a loss:

- which ``def`` the name reaches (:func:`lookup_helper`): a function nested in the caller or in
  one of its enclosing functions, a module-level function, a method of the caller's class
  (``self.name(...)``) or a static method (``Metrics.dice(...)``); never a name the caller
  rebinds or that more than one ``def`` in the same scope defines;
- which of the helper's parameters receive the loss's ``y_true`` / ``y_pred`` (:func:`helper_call`):
  the helper is returned as a :class:`LossFunction` whose ``y_true``/``y_pred`` are those
  parameters, so the per-function facts (``dataflow.py``) and the return classifier
  (``return_verdicts.py``) read it exactly as they read a loss;
- which helpers a loss reaches, directly or through other helpers (:func:`reached_helpers`), for
  rules that look inside them (a gate built from the prediction in ``dice_coef``);
- what a helper imported from another module of the project returns (``from .loss import
  focal_loss``): ``project_modules.py`` gives its ``def`` and its module's own context, and
  :func:`helper_call_verdict` reads it there. Only its summary crosses the file boundary: rules
  that report inside helpers stay in the file.

Everything is computed once per file (the index), once per call (the binding).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.facts import fact
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import PRED, TRUE, FunctionFacts, function_facts
from losscheck.lint.scope_index import scope_index
from losscheck.lint.syntax_index import syntax_index

if TYPE_CHECKING:
    from losscheck.lint.return_verdicts import ReturnClassifier, Verdict

_MAX_DEPTH = 3  # helpers of helpers of helpers: deeper chains are rare and not worth the time


@dataclass
class _Index:
    """Every ``def`` of the file with the function it is nested in (None: module level)."""

    parent: dict[cst.FunctionDef, cst.FunctionDef | None] = field(default_factory=dict)
    # (enclosing function or None, name) -> the plain functions (not methods) defined there
    by_scope: dict[tuple[cst.FunctionDef | None, str], list[cst.FunctionDef]] = field(default_factory=dict)


@fact(syntax_index)
def _index(ctx: FileContext) -> _Index:
    """The file's plain functions by enclosing scope and name (the helpers a loss may call), read
    off the syntax index's functions (each with its class and enclosing function)."""
    index = _Index()
    for node, cls, parent in syntax_index(ctx).functions:
        index.parent[node] = parent
        if cls is None:  # a method is not a helper a bare name can reach
            index.by_scope.setdefault((parent, node.name.value), []).append(node)
    return index


@fact()
def _helper_calls(ctx: FileContext) -> dict[tuple, "HelperCall | None"]:
    return {}  # memo: (call, caller's y_true, y_pred) -> its binding


@fact()
def _helper_summaries(ctx: FileContext) -> dict[tuple, "Verdict"]:
    return {}  # memo: (helper, its y_true, y_pred) -> what it returns


def lookup_helper(ctx: FileContext, caller: cst.FunctionDef | cst.Lambda, name: str) -> cst.FunctionDef | None:
    """The one plain ``def`` that ``name`` reaches from inside ``caller``, else None."""
    index = _index(ctx)
    scope: cst.FunctionDef | None = caller if type(caller) is cst.FunctionDef else None
    seen = 0
    while True:
        defs = index.by_scope.get((scope, name))
        if defs:
            return defs[0] if len(defs) == 1 else None
        if scope is None or seen > 20:
            return None
        scope = index.parent.get(scope)
        seen += 1


def _bind(call: cst.Call, helper: cst.FunctionDef, method: bool = False) -> dict[str, cst.BaseExpression] | None:
    """Parameter name -> argument, or None when the call cannot be matched to the signature
    (``method``: the first parameter is ``self``, bound by the attribute access)."""
    params = helper.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)][1 if method else 0 :]
    every = set(positional) | {p.name.value for p in params.kwonly_params}
    bound: dict[str, cst.BaseExpression] = {}
    index = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= len(positional):
                return None
            bound[positional[index]] = arg.value
            index += 1
        elif arg.keyword.value in every:
            bound[arg.keyword.value] = arg.value
        else:
            return None
    return bound


def _roles(facts: FunctionFacts, bound: dict[str, cst.BaseExpression]) -> tuple[str | None, str | None]:
    """The helper's parameters that receive y_true / y_pred (each at most one).

    An argument derived from both (``y_true - y_pred``) takes the y_true place: rules that look
    for values computed from the prediction alone must not take it for one.
    """
    true_params = [p for p, a in bound.items() if facts.sources(a) == frozenset({TRUE})]
    pred_params = [p for p, a in bound.items() if facts.sources(a) == frozenset({PRED})]
    mixed = [p for p, a in bound.items() if len(facts.sources(a)) == 2]
    if len(pred_params) > 1 or len(true_params) + len(mixed) > 1:
        return None, None
    y_true = (true_params or mixed or [None])[0]
    y_pred = (pred_params or [None])[0]
    return y_true, y_pred


@dataclass(frozen=True)
class HelperCall:
    """A call of a helper that the loss's tensors reach, with the arguments bound to them."""

    fn: LossFunction  # the helper, its y_true/y_pred being the parameters the loss's tensors reach
    args: tuple[cst.BaseExpression, ...]  # the caller's arguments bound to those parameters
    ctx: FileContext | None = None  # the helper's module, when it is another one (project_modules.py)


def helper_call(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> HelperCall | None:
    """``call`` as a call of a plain helper with the caller's tensors, else None (memoised per call)."""
    cache = _helper_calls(ctx)
    key = (id(call), facts.fn.y_true, facts.fn.y_pred)  # the binding depends on the caller's tensors
    if key in cache:
        return cache[key]
    cache[key] = result = _helper_call(ctx, facts, call)
    return result


def _method_of(cls: cst.ClassDef | None, name: str) -> cst.FunctionDef | None:
    """The one ``def name`` in the body of ``cls``, else None."""
    if cls is None or type(cls.body) is not cst.IndentedBlock:
        return None
    defs = [s for s in cls.body.body if type(s) is cst.FunctionDef and s.name.value == name]
    return defs[0] if len(defs) == 1 else None


def _own_method(facts: FunctionFacts, call: cst.Call) -> cst.FunctionDef | None:
    """``self.name(...)`` inside a method: the one plain method ``name`` of the same class."""
    func = call.func
    if type(func) is not cst.Attribute or type(func.value) is not cst.Name or func.value.value != "self":
        return None
    method = _method_of(facts.fn.class_node, func.attr.value)
    if method is None or method.decorators:  # static/class methods and properties bind differently
        return None
    return method


def _static_method(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> cst.FunctionDef | None:
    """``Metrics.dice(...)`` (a class of this module) or ``self.dice(...)``: the one ``@staticmethod``
    ``dice`` of that class, which takes its arguments as a plain function does."""
    func = call.func
    if type(func) is not cst.Attribute or type(func.value) is not cst.Name:
        return None
    owner = func.value.value
    if owner == "self":
        cls = facts.fn.class_node
    elif facts.is_bound_locally(owner) or facts.is_param(owner):
        return None
    else:
        classes = scope_index(ctx).module.classes.get(owner, ())
        cls = classes[0] if len(classes) == 1 else None
    method = _method_of(cls, func.attr.value)
    if method is None or not any(type(d.decorator) is cst.Name and d.decorator.value == "staticmethod"
                                 for d in method.decorators):
        return None
    return method


def _helper_call(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> HelperCall | None:
    method = _own_method(facts, call)
    home: FileContext | None = None  # the helper's module when it is not this one
    static = _static_method(ctx, facts, call) if method is None else None
    if method is not None:
        helper: cst.FunctionDef | None = method
    elif static is not None:
        helper = static
    elif type(call.func) is cst.Name:
        name = call.func.value
        if facts.is_bound_locally(name) or facts.is_param(name) or name in facts.fn.extra_params:
            return None
        helper = lookup_helper(ctx, facts.fn.node, name)
        if helper is None and name in ctx.imports.names:
            helper, home = _imported(ctx, call.func)
    elif type(call.func) is cst.Attribute and type(call.func.value) is cst.Name \
            and call.func.value.value in ctx.imports.names and not facts.is_bound_locally(call.func.value.value):
        helper, home = _imported(ctx, call.func)  # `losses.dice(y_true, y_pred)` with `from . import losses`
    else:
        return None
    if helper is None or helper is facts.fn.node:
        return None
    bound = _bind(call, helper, method is not None)
    if bound is None:
        return None
    y_true, y_pred = _roles(facts, bound)
    if y_true is None and y_pred is None:
        return None
    params = [p.name.value for p in (*helper.params.posonly_params, *helper.params.params, *helper.params.kwonly_params)]
    fn = LossFunction(
        node=helper,
        name=helper.name.value,
        kind="loss",
        y_true=y_true,
        y_pred=y_pred,
        origin="helper",
        class_node=facts.fn.class_node if method is not None else None,
        extra_params=tuple(p for p in params if p not in (y_true, y_pred)),
    )
    args = tuple(bound[p] for p in (y_true, y_pred) if p is not None)
    return HelperCall(fn, args, home)


def _imported(ctx: FileContext, func: cst.BaseExpression) -> tuple[cst.FunctionDef | None, FileContext | None]:
    """A helper imported from another module of the project, with that module's context."""
    from losscheck.lint.project_modules import imported_function

    found = imported_function(ctx, func)
    return (found[1], found[0]) if found is not None else (None, None)


def reached_helpers(ctx: FileContext, fn: LossFunction, *, batch_first: bool = False) -> list[LossFunction]:
    """The helpers ``fn`` calls with its tensors, and the helpers those call (up to 3 deep),
    each once per way its parameters are bound; never ``fn`` itself. ``batch_first``: only
    through calls whose tensors keep the batch as their first axis (``dice(y_true, y_pred)``,
    not ``f1_from(confusion)``), for rules that read a helper's first axis as the batch."""
    from losscheck.lint.reductions import axis0_is_batch  # reductions reads helpers through this module

    out: list[LossFunction] = []
    seen: set[tuple[int, str | None, str | None]] = {(id(fn.node), fn.y_true, fn.y_pred)}
    queue: list[tuple[LossFunction, int]] = [(fn, 0)]
    while queue:
        current, depth = queue.pop(0)
        if depth >= _MAX_DEPTH:
            continue
        facts = function_facts(ctx, current)
        for node in facts.nodes:
            if type(node) is not cst.Call or not facts.derives(node):
                continue
            bound = helper_call(ctx, facts, node)
            if bound is None or bound.ctx is not None:
                continue  # another module's helper is read only for its summary
            if batch_first and not all(axis0_is_batch(ctx, facts, arg) for arg in bound.args):
                continue
            key = (id(bound.fn.node), bound.fn.y_true, bound.fn.y_pred)
            if key in seen:
                continue
            seen.add(key)
            out.append(bound.fn)
            queue.append((bound.fn, depth + 1))
    return out


def code_with_helpers(ctx: FileContext, functions: Iterable[LossFunction]) -> Iterator[LossFunction]:
    """Each of ``functions``, then the helpers it hands its tensors to; every function of the
    file once, however many losses reach it."""
    seen: set[int] = set()
    for fn in functions:
        for code in (fn, *reached_helpers(ctx, fn)):
            if id(code.node) not in seen:
                seen.add(id(code.node))
                yield code


def helper_summary(ctx: FileContext, helper: LossFunction, depth: int = 1) -> "Verdict":
    """What a plain helper returns with its ``y_true``/``y_pred`` parameters bound to batch tensors:
    reduced over the batch, a per-example tensor, or unknown (once per helper and binding).

    Read without shape inference: its facts are keyed by function, and a helper may be bound in
    several ways in one file."""
    from losscheck.lint.return_verdicts import Kind, ReturnClassifier, Verdict

    cache = _helper_summaries(ctx)
    key = (id(helper.node), helper.y_true, helper.y_pred)
    if key not in cache:
        cache[key] = Verdict(Kind.UNKNOWN)  # recursion guard
        cache[key] = ReturnClassifier(ctx, helper, depth, hooks=False).returns()
    return cache[key]


def helper_call_verdict(classifier: "ReturnClassifier", call: cst.Call) -> "Verdict | None":
    """The verdict on ``call`` (inside the function ``classifier`` reads) when it calls a plain
    helper with the function's tensors (``return _reduce(err)``); None when it does not or
    nothing can be said."""
    from losscheck.lint.reductions import axis0_is_batch
    from losscheck.lint.return_verdicts import Kind, Verdict

    ctx, facts = classifier.ctx, classifier.facts
    bound = helper_call(ctx, facts, call)
    if bound is None:
        return None
    if {classifier.classify(a).kind for a in bound.args} != {Kind.TENSOR}:
        return None  # an argument already reduced (or unknown): the helper's summary does not apply
    inner = helper_summary(bound.ctx or ctx, bound.fn, classifier.depth + 1)
    if inner.kind is Kind.TENSOR:
        return Verdict(Kind.TENSOR)
    if inner.kind is not Kind.REDUCED:
        return None
    if inner.reason == "axis-0" and not all(axis0_is_batch(ctx, facts, a) for a in bound.args):
        return None  # axis 0 in the helper is the batch only if it is axis 0 of what the loss passes
    return Verdict(Kind.REDUCED, call, "helper", bound.fn.name)
