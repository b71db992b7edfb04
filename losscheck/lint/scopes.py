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
    conditional: bool
    loops: tuple[cst.CSTNode, ...]


@dataclass(eq=False)
class Binding:
    """One place that binds ``name`` in ``scope``: a target ``Name``, a ``Param``, a ``def``/``class``
    statement, an ``import`` statement, or a match capture."""

    name: str
    node: cst.CSTNode
    scope: Scope


@dataclass(eq=False)
class Scope:
    node: cst.CSTNode
    parent: Scope | None  # the frame around this scope (see the module docs)
    params: list[str] = field(default_factory=list)
    kind: str = "function"  # "module", "function" (defs and lambdas), "class", "comprehension"
    enclosing: Scope | None = None  # the nearest scope around this one, of any kind
    # reaching definitions (frames only)
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    returns: list[cst.BaseExpression] = field(default_factory=list)
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


def reaching_definitions(name: str, scope: Scope, order: int, loops: tuple[cst.CSTNode, ...]
                         ) -> tuple[list[Definition], bool] | None:
    """The definitions of ``name`` that may reach a use at ``order`` in the frame ``scope`` (with
    the ``loops`` around the use), and whether the value the parameter ``name`` came in with may;
    None when the name is not bound anywhere we see. By source order: the last unconditional
    assignment before the use, the conditional ones after it, and inside a loop the assignments
    later in the same loop; a name the frame never binds is looked up in the frame around it."""
    defs = scope.defs.get(name, [])
    before = [d for d in defs if d.order < order]
    reaching: list[Definition] = []
    from_param = False
    unconditional = [d for d in before if not d.conditional]
    if unconditional:
        last = unconditional[-1]
        reaching = [last] + [d for d in before if d.conditional and d.order > last.order]
    else:
        reaching = [d for d in before if d.conditional]
        if name in scope.params:
            from_param = True
        elif not defs and scope.parent is not None:  # a closure or a module-level name
            outer = scope.parent.defs.get(name, [])
            if not outer:
                return None
            reaching = outer
    reaching += [d for d in defs if d.order > order and set(d.loops) & set(loops)]
    return reaching, from_param
