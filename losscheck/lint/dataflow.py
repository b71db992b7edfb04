"""Which local names of a loss function derive from ``y_true`` / ``y_pred``, and what it returns.

Flow-insensitive on purpose: every assignment in the function counts, whatever branch or loop
it sits in, and taint is propagated to a fixed point. That over-approximates "derived from"
(good for "is this a tensor from the batch?") and never depends on statement order, so loops
and ``if``/``else`` need no special casing. Rules that need a *single* definition ask
:meth:`FunctionFacts.single_value`.

Which syntax binds which names from which value is the scope index's to say (``Scope.flows``,
recorded in its one walk of the file): this module reads those flows for the function's frame
and only adds the taint. Facts are computed once per function and cached on the file context.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import libcst as cst

from losscheck.lint.astutil import children, own_nodes, read_names
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.facts import fact
from losscheck.lint.scopes import Flow

TRUE = "true"
PRED = "pred"


@dataclass
class FunctionFacts:
    """What flows where in one loss function: assignments, updates and returns by name."""

    fn: LossFunction
    # name -> every value expression assigned to it (tuple unpacking: the whole right-hand side)
    assigns: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    # name -> value expressions of `name op= value`
    aug_assigns: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    # names bound by `for` targets -> the iterables
    loop_vars: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    # names bound by unpacking (`a, b = ...`), `with ... as`, walrus, except, import: not simple values
    complex_bound: set[str] = field(default_factory=set)
    taint: dict[str, frozenset[str]] = field(default_factory=dict)
    returns: list[cst.BaseExpression] = field(default_factory=list)
    parents: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    _sources: dict[cst.CSTNode, frozenset[str]] = field(default_factory=dict, repr=False)
    # every node of the function's own body (not of nested defs/lambdas/classes), pre-order
    nodes: list[cst.CSTNode] = field(default_factory=list, repr=False)

    # -- queries -------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.fn.y_true:
            out[self.fn.y_true] = TRUE
        if self.fn.y_pred:
            out[self.fn.y_pred] = PRED
        return out

    def sources(self, expr: cst.CSTNode) -> frozenset[str]:
        """{"true", "pred"}: which of y_true / y_pred the expression derives from."""
        cached = self._sources.get(expr)
        if cached is None:
            found: set[str] = set()
            for name in read_names(expr):
                found |= self.taint.get(name.value, frozenset())
            cached = self._sources[expr] = frozenset(found)
        return cached

    def derives(self, expr: cst.CSTNode) -> bool:
        return bool(self.sources(expr))

    def is_bound_locally(self, name: str) -> bool:
        return name in self.assigns or name in self.aug_assigns or name in self.loop_vars or name in self.complex_bound

    def single_value(self, name: str) -> cst.BaseExpression | None:
        """The value of ``name`` when it is assigned exactly once, by a plain ``name = value``."""
        if name in self.params or name in self.aug_assigns or name in self.loop_vars or name in self.complex_bound:
            return None
        values = self.assigns.get(name, [])
        return values[0] if len(values) == 1 else None

    def is_param(self, name: str) -> bool:
        return name in self.params

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)


def _taint(params: dict[str, str], flows: list[Flow]) -> dict[str, frozenset[str]]:
    """Which of y_true / y_pred each name derives from: the parameters' own, carried along every
    flow (names <- value) to a fixed point."""
    taint: dict[str, frozenset[str]] = {name: frozenset({src}) for name, src in params.items()}
    changed = True
    while changed:
        changed = False
        for names, value, _how, _target in flows:
            srcs: set[str] = set()
            for name in read_names(value):
                srcs |= taint.get(name.value, frozenset())
            if not srcs:
                continue
            for name in names:
                old = taint.get(name, frozenset())
                new = old | srcs
                if new != old:
                    taint[name] = frozenset(new)
                    changed = True
    return taint


@fact()
def _function_facts(ctx: FileContext) -> dict[tuple[int, str | None, str | None], FunctionFacts]:
    return {}  # memo: (function, its y_true, y_pred) -> its facts


def function_facts(ctx: FileContext, fn: LossFunction) -> FunctionFacts:
    cache = _function_facts(ctx)
    # the parameters are part of the key: a helper (summaries.py) is analysed once per way it is called
    key = (id(fn.node), fn.y_true, fn.y_pred)
    if key not in cache:
        cache[key] = _remembered(ctx, fn, key)
    return cache[key]


def _remembered(ctx: FileContext, fn: LossFunction, key: tuple[int, str | None, str | None]) -> FunctionFacts:
    """A function's facts are its own syntax's and its two parameters', nothing else of the
    module: in the language server, an unchanged function's scan is reused
    (``statement_parts.of_node``), told which function it now describes."""
    from losscheck.lint.statement_parts import of_node

    facts = of_node("data_flow", fn.node, key[1:], lambda: _from_flows(ctx, fn))
    return facts if facts.fn is fn else replace(facts, fn=fn)


def _from_flows(ctx: FileContext, fn: LossFunction) -> FunctionFacts:
    """The facts of ``fn``, from the value flows that the scope index's walk recorded for its
    frame (``Scope.flows``: which syntax binds which names from which value is decided there,
    once), and its own nodes."""
    from losscheck.lint.scope_index import scope_index

    facts = FunctionFacts(fn)
    frame = scope_index(ctx).scope_of(fn.node)
    for node in own_nodes(fn.node):
        facts.nodes.append(node)
        for child in children(node):
            facts.parents[child] = node
    if type(fn.node) is cst.Lambda:
        facts.returns.append(fn.node.body)
    if frame is not None:
        facts.returns += frame.returns
        for names, value, how, _target in frame.flows:
            if how == "assign":
                facts.assigns.setdefault(names[0], []).append(value)
            elif how == "augment":
                for name in names:
                    facts.aug_assigns.setdefault(name, []).append(value)
            elif how == "loop":
                for name in names:
                    facts.loop_vars.setdefault(name, []).append(value)
            else:
                facts.complex_bound.update(names)
    facts.taint = _taint(facts.params, frame.flows if frame is not None else [])
    return facts



def reaching_values(facts: FunctionFacts, roots: Iterable[cst.BaseExpression]) -> list[cst.BaseExpression]:
    """The expressions whose value can reach ``roots`` through local names (roots included)."""
    seen: list[cst.BaseExpression] = []
    ids: set[int] = set()
    queue = list(roots)
    while queue:
        expr = queue.pop()
        if id(expr) in ids:
            continue
        ids.add(id(expr))
        seen.append(expr)
        for name in read_names(expr):
            queue.extend(facts.assigns.get(name.value, []))
            queue.extend(facts.aug_assigns.get(name.value, []))
    return seen


def contains(outer: cst.CSTNode, inner: cst.CSTNode, facts: FunctionFacts) -> bool:
    """Is ``inner`` a descendant of (or equal to) ``outer``? (parents map of the function)."""
    node: cst.CSTNode | None = inner
    while node is not None:
        if node is outer:
            return True
        node = facts.parents.get(node)
    return False
