"""Scopes of a file, as the scope index (``scope_index.py``) records them, and the two queries
every rule asks of them.

One tree answers two questions:

- **which bindings can a name read here refer to** (:meth:`Scope.lookup`), by Python's rules
  (LEGB): a name bound anywhere in a function is local to all of it; methods and comprehensions
  do not see class-body names; ``global``/``nonlocal``; the walrus binds in the nearest enclosing
  non-comprehension scope. ``undefined-name`` and ``model-tensor-in-loss`` read this
  (``loss_reads.py``); a differential test holds it to libcst's ``ScopeProvider``
  (tests/lint/test_scopes_vs_libcst.py).
- **which definitions of a name reach a use** (:func:`reaching_definitions`), by source order,
  branches and loops: what the value-flow facts (``probabilities.py``, ``differentiated.py``)
  follow. These definitions are kept per *frame*, the module or a function or lambda, which is
  where the values a closure sees live: assignments in a class body are recorded with the frame
  around the class.

So a scope has two links up: ``enclosing``, the nearest scope of any kind (Python's chain, class
and comprehension scopes included), and ``parent``, the frame the value-flow facts fall back to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

ScopeNode = (cst.Module | cst.FunctionDef | cst.Lambda | cst.ClassDef | cst.ListComp | cst.SetComp
             | cst.GeneratorExp | cst.DictComp)


@dataclass(frozen=True)
class Definition:
    """A definition of a name in a frame, for reaching definitions."""

    order: int  # its place in the walk of the top-level statement (the module's: of the file)
    value: cst.BaseExpression | None  # None: bound some other way (unpacking, for, augmented)
    conditional: bool  # inside a branch or a loop of its frame
    # the branches, loops and blocks around it in its frame, outermost first (``ScopeIndex.where``
    # holds the same for each use): a definition whose context starts a use's context surely ran
    # before that use, when it comes first
    context: tuple[cst.CSTNode, ...]
    # `name op= operand`: the operator's libcst class name ("MultiplyAssign"), else None
    operator: str | None = None
    operand: cst.BaseExpression | None = None
    # the target ``Name`` it binds (None for a ``def``, a ``class`` or an import): the flow that
    # gave it its value (``Scope.flows``) is found from it, for an unpacked name too
    target: cst.Name | None = None


Flow = tuple[tuple[str, ...], cst.BaseExpression, str, cst.BaseExpression | None]


@dataclass(eq=False)
class Binding:
    """One place that binds ``name`` in ``scope``: a target ``Name``, a ``Param``, a ``def``/``class``
    statement, an ``import`` statement, or a match capture."""

    name: str
    node: cst.CSTNode
    scope: Scope


@dataclass(eq=False)
class Scope:
    """A scope of the file (module, function, lambda, class, comprehension): its bindings and reads."""

    node: cst.CSTNode
    parent: Scope | None  # the frame around this scope (see the module docs)
    params: list[str] = field(default_factory=list)
    kind: str = "function"  # "module", "function" (defs and lambdas), "class", "comprehension"
    enclosing: Scope | None = None  # the nearest scope around this one, of any kind
    # reaching definitions (frames only)
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    returns: list[cst.BaseExpression] = field(default_factory=list)
    # every value that flows into names in the frame's own code (not in classes nested in it), in
    # walk order: (the names, the expression they take their value from, how, the target) with how one of
    # "assign" (`name = v`, `name: T = v`), "unpack" (`a, b = v`, `x.attr = v` binds nothing),
    # "augment" (`name += v`), "loop" (`for name in v`, comprehensions too), "bind" (`with v as
    # name`, `name := v`, `match v: case ... name`); the target is the expression assigned to
    # (a name, a tuple, `x[k]`, `x.attr`), the loop's or the ``as`` target, None for ``match``
    flows: list[Flow] = field(default_factory=list)
    functions: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)  # defs made in this scope
    classes: dict[str, list[cst.ClassDef]] = field(default_factory=dict)  # classes made in this scope
    # name binding (every kind)
    assignments: dict[str, list[Binding]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    reads: list[cst.Name] = field(default_factory=list)
    children: list[Scope] = field(default_factory=list)

    def bind(self, name: str, node: cst.CSTNode) -> None:
        self.assignments.setdefault(name, []).append(Binding(name, node, self))

    def lookup(self, name: str) -> tuple[Binding, ...]:
        """The bindings a read of ``name`` in this scope may refer to; () for builtins and undefined."""
        current: Scope | None = self
        first = True
        while current is not None:
            if name in current.declared_global:
                return tuple(_module_of(current).assignments.get(name, ()))
            if name in current.declared_nonlocal:
                first = False
                current = current.enclosing
                continue
            if (first or current.kind != "class") and name in current.assignments:
                return tuple(current.assignments[name])
            first = False
            current = current.enclosing
        return ()

    def visible_names(self) -> set[str]:
        """Names this scope and the enclosing ones it can see define (not builtins, not class bodies
        other than its own)."""
        names: set[str] = set()
        current: Scope | None = self
        while current is not None:
            if current is self or current.kind != "class":
                names.update(current.assignments)
            current = current.enclosing
        return names

    def walk(self) -> Iterator[Scope]:
        """This scope and every scope nested in it."""
        stack = [self]
        while stack:
            scope = stack.pop()
            yield scope
            stack.extend(reversed(scope.children))


def _module_of(scope: Scope) -> Scope:
    while scope.enclosing is not None:
        scope = scope.enclosing
    return scope


def within(scope: Scope | None, ancestor: Scope) -> bool:
    """``scope`` is ``ancestor`` or nested in it."""
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.enclosing
    return False


def surely_ran(definition: Definition, context: tuple[cst.CSTNode, ...]) -> bool:
    """``definition``, coming before a use with ``context`` around it, ran whenever the use runs:
    it is in no branch, or every branch and block around it is around the use too (the same
    ``if`` body, the same iteration of a loop)."""
    around = definition.context
    return not definition.conditional or context[: len(around)] == around


def reaching_definitions(name: str, scope: Scope, order: int, context: tuple[cst.CSTNode, ...]
                         ) -> tuple[list[Definition], bool] | None:
    """The definitions of ``name`` that may reach a use at ``order`` in the frame ``scope`` (with
    ``context`` around it), and whether the value the parameter ``name`` came in with may; None
    when the name is not bound anywhere we see. By source order: the last plain assignment
    before the use that surely ran (:func:`surely_ran`), the others and the augmented ones after
    it (``loss = a`` then ``loss *= mask``: both), and inside a loop the assignments later in the
    same loop (unless that plain assignment is in the loop too); a name the frame never binds is
    looked up in the frame around it."""
    defs = scope.defs.get(name, [])
    before = [d for d in defs if d.order < order and not _other_branch(d.context, context)]
    reaching: list[Definition] = []
    from_param = False
    kills = [d for d in before if d.operator is None and surely_ran(d, context)]
    if kills:
        last = kills[-1]
        reaching = [last] + [d for d in before if d.order > last.order]
    else:
        reaching = before
        if name in scope.params:
            from_param = True
        elif not defs and scope.parent is not None:  # a closure or a module-level name
            outer = scope.parent.defs.get(name, [])
            if not outer:
                return None
            reaching = outer
    loops = {node for node in context if type(node) in _LOOPS}
    if loops:
        # the assignments later in a loop around the use come back with its next turn, unless
        # the one that surely ran before the use sits in that loop too (it runs again first)
        inside = set(kills[-1].context) if kills else set()
        for d in defs:
            shared = loops.intersection(d.context) if d.order > order else None
            if shared and not shared <= inside:
                reaching.append(d)
    return reaching, from_param


_LOOPS = (cst.For, cst.While)
_CHOICES = (cst.If, cst.Match, cst.IfExp)  # one branch runs, never another after it


def _other_branch(around: tuple[cst.CSTNode, ...], context: tuple[cst.CSTNode, ...]) -> bool:
    """A definition with ``around`` sits in another branch of an ``if``/``match`` than a use with
    ``context``, and no loop around both can bring it back: it never reaches the use."""
    shared = 0
    for mine, theirs in zip(around, context):
        if mine is not theirs:
            break
        shared += 1
    if shared == 0 or shared == len(around) or shared == len(context):
        return False
    return type(context[shared - 1]) in _CHOICES and not any(type(n) in _LOOPS for n in context[:shared])


def plain_sequence(name: str, scope: Scope, order: int, context: tuple[cst.CSTNode, ...]
                   ) -> list[Definition] | None:
    """The definitions of ``name`` that reach a use when they run in a straight line in the use's
    own frame: one plain assignment with a value, then the augmented ones after it (``loss = a``,
    ``loss *= mask``); None when a branch, a loop, unpacking, a parameter's own value or an
    enclosing frame's definition may reach it instead."""
    if name not in scope.defs:
        return None
    found = reaching_definitions(name, scope, order, context)
    if found is None or found[1]:
        return None
    defs = found[0]
    if not defs:
        return None
    first, rest = defs[0], defs[1:]
    if first.operator is not None or first.value is None or not surely_ran(first, context):
        return None
    if any(d.operator is None or d.order > order or not surely_ran(d, context) for d in rest):
        return None
    return defs
