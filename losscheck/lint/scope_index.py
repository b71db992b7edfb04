"""The scope index: one walk of a file that records, per scope, every definition of a name in
source order, and where each name and call sits.

A scope is the module, a function or a lambda. A definition keeps its place in the walk, the value
assigned (None when the name is bound another way: unpacking, ``for``, augmented assignment),
whether it sits in a branch (``if``/``for``/``while``/``try``/``match``) and the loops around it:
what reaching definitions are computed from (:func:`reaching_definitions`, the one query). Two facts read it, so it lives apart from both:
``probabilities.py`` (which values are softmax/sigmoid outputs) and ``differentiated.py`` (what a
training step differentiates). The syntax index (``syntax_index.py``) is the finder's walk and
keeps no definitions; this one is computed only when a fact asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import libcst as cst

from losscheck.lint.astutil import assign_targets, traverse
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact

ScopeNode = Union[cst.Module, cst.FunctionDef, cst.Lambda]
_BRANCH_TYPES = frozenset({cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match, cst.IfExp})
_LOOP_TYPES = frozenset({cst.For, cst.While})


@dataclass(frozen=True)
class Definition:
    order: int
    value: cst.BaseExpression | None  # None: bound some other way (unpacking, for, augmented)
    conditional: bool
    loops: tuple[cst.CSTNode, ...]


@dataclass
class Scope:
    node: ScopeNode
    parent: "Scope | None"
    params: list[str] = field(default_factory=list)
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    returns: list[cst.BaseExpression] = field(default_factory=list)
    functions: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)  # defs made in this scope
    classes: dict[str, list[cst.ClassDef]] = field(default_factory=dict)  # classes made in this scope


@dataclass
class ScopeIndex:
    """One walk of the file: scopes, their definitions, and where every call and name sits."""

    scopes: dict[ScopeNode, Scope] = field(default_factory=dict)
    where: dict[cst.CSTNode, tuple[Scope, int, tuple[cst.CSTNode, ...]]] = field(default_factory=dict)
    calls: list[cst.Call] = field(default_factory=list)
    calls_by_name: dict[str, list[cst.Call]] = field(default_factory=dict)
    classes: dict[cst.FunctionDef, cst.ClassDef] = field(default_factory=dict)  # method -> its class
    # (class, attribute) -> the values of `self.attribute = value` in the class's methods
    self_assigns: dict[tuple[cst.ClassDef, str], list[cst.BaseExpression]] = field(default_factory=dict)


def _params(params: cst.Parameters) -> list[str]:
    return [p.name.value for p in (*params.posonly_params, *params.params)]


@fact()
def scope_index(ctx: FileContext) -> ScopeIndex:
    """The index of the whole file, put together from one index per top-level statement
    (``statement_parts.py``: in the language server only the statements an edit touched are
    walked again). A statement's own walk numbers its nodes from 1 and defines its module-level
    names in a stand-in module scope; here those become the file's: the stand-in's definitions
    and uses are moved into the module scope, numbered on from the statements before, and the
    scopes it holds get the module scope as their parent. Orders inside a function stay the
    statement's own: they are only ever compared within one scope."""
    from losscheck.lint.statement_parts import parts

    index = ScopeIndex()
    root = Scope(ctx.module, None)
    index.scopes[ctx.module] = root
    offset = 1  # the module node itself is the first node of the walk
    for part in parts("scope_index", ctx.module, _statement_index):
        stand_in = part.scopes[_STAND_IN]
        for name, defs in stand_in.defs.items():
            root.defs.setdefault(name, []).extend(
                Definition(d.order + offset, d.value, d.conditional, d.loops) for d in defs)
        root.returns += stand_in.returns
        for name, made in stand_in.functions.items():
            root.functions.setdefault(name, []).extend(made)
        for name, made in stand_in.classes.items():
            root.classes.setdefault(name, []).extend(made)
        for scope in part.top_scopes:
            scope.parent = root  # the statement's own defs and lambdas (a remembered part: the new root)
        index.scopes.update(part.scopes)
        del index.scopes[_STAND_IN]
        for node, (scope, order, loops) in part.where.items():
            index.where[node] = (root, order + offset, loops) if scope is stand_in else (scope, order, loops)
        index.calls += part.calls
        for name, calls in part.calls_by_name.items():
            index.calls_by_name.setdefault(name, []).extend(calls)
        index.classes.update(part.classes)
        for key, values in part.self_assigns.items():
            index.self_assigns.setdefault(key, []).extend(values)
        offset += part.size
    return index


_STAND_IN = cst.Module(body=())  # the key of a statement's stand-in module scope


@dataclass
class _StatementIndex(ScopeIndex):
    size: int = 0  # the nodes of the statement's walk
    top_scopes: list[Scope] = field(default_factory=list)  # the scopes whose parent is the module


def _statement_index(statement: cst.CSTNode) -> _StatementIndex:
    index = _StatementIndex()
    root = Scope(_STAND_IN, None)
    index.scopes[_STAND_IN] = root
    scopes: list[Scope] = [root]
    compound: list[cst.CSTNode] = []  # branch and loop nodes inside the current scope
    saved: list[tuple[list[cst.CSTNode], tuple[cst.CSTNode, ...]]] = []
    classes: list[cst.ClassDef] = []
    counter = 0

    loops: tuple[cst.CSTNode, ...] = ()  # the loops among ``compound`` (kept in step with it)

    def define(name: str, value: cst.BaseExpression | None) -> None:
        scopes[-1].defs.setdefault(name, []).append(Definition(counter, value, bool(compound), loops))

    # Dispatch on the exact node type: most nodes (names, attributes, whitespace) need one
    # dictionary lookup, where a chain of isinstance() checks against libcst's abstract classes
    # made this walk the rule's main cost.
    def enter(node: cst.CSTNode) -> bool:
        nonlocal compound, counter, loops
        counter += 1
        kind = type(node)
        if kind is cst.Name:
            index.where[node] = (scopes[-1], counter, loops)
            return False
        if kind is cst.Call:
            index.calls.append(node)  # type: ignore[arg-type]
            index.where[node] = (scopes[-1], counter, loops)
            if type(node.func) is cst.Name:  # type: ignore[attr-defined]
                index.calls_by_name.setdefault(node.func.value, []).append(node)  # type: ignore[attr-defined,arg-type]
            return True
        if kind is cst.FunctionDef or kind is cst.Lambda:
            if kind is cst.FunctionDef:
                define(node.name.value, None)  # type: ignore[attr-defined]
                scopes[-1].functions.setdefault(node.name.value, []).append(node)  # type: ignore[attr-defined,arg-type]
            scope = Scope(node, scopes[-1], _params(node.params))  # type: ignore[arg-type,attr-defined]
            if scopes[-1] is root:
                index.top_scopes.append(scope)
            index.scopes[node] = scope  # type: ignore[index]
            scopes.append(scope)
            saved.append((compound, loops))
            compound, loops = [], ()
            return True
        if kind is cst.ClassDef:
            define(node.name.value, None)  # type: ignore[attr-defined]
            scopes[-1].classes.setdefault(node.name.value, []).append(node)  # type: ignore[attr-defined,arg-type]
            classes.append(node)  # type: ignore[arg-type]
            if type(node.body) is cst.IndentedBlock:  # type: ignore[attr-defined]
                for stmt in node.body.body:  # type: ignore[attr-defined]
                    if type(stmt) is cst.FunctionDef:  # a method, for `self.attribute` lookups
                        index.classes[stmt] = node  # type: ignore[assignment]
        elif kind in _BRANCH_TYPES:
            compound.append(node)
            if kind in _LOOP_TYPES:
                loops = loops + (node,)
                for name in assign_targets(node.target) if kind is cst.For else ():  # type: ignore[attr-defined]
                    define(name, None)
        elif kind is cst.Assign:
            for target in node.targets:  # type: ignore[attr-defined]
                if type(target.target) is cst.Name:
                    define(target.target.value, node.value)  # type: ignore[attr-defined]
                elif is_self_attribute(target.target) and classes:
                    key = (classes[-1], target.target.attr.value)
                    index.self_assigns.setdefault(key, []).append(node.value)  # type: ignore[attr-defined]
                else:
                    for name in assign_targets(target.target):
                        define(name, None)
        elif kind is cst.AnnAssign or kind is cst.NamedExpr:
            if type(node.target) is cst.Name:  # type: ignore[attr-defined]
                define(node.target.value, node.value)  # type: ignore[attr-defined]
        elif kind is cst.AugAssign:
            if type(node.target) is cst.Name:  # type: ignore[attr-defined]
                define(node.target.value, None)  # type: ignore[attr-defined]
        elif kind is cst.Return:
            if node.value is not None:  # type: ignore[attr-defined]
                scopes[-1].returns.append(node.value)  # type: ignore[attr-defined]
        return True

    def leave(node: cst.CSTNode) -> None:
        nonlocal compound, loops
        kind = type(node)
        if kind is cst.FunctionDef or kind is cst.Lambda:
            scopes.pop()
            compound, loops = saved.pop()
        elif kind is cst.ClassDef:
            classes.pop()
        elif compound and compound[-1] is node:
            compound.pop()
            if loops and loops[-1] is node:
                loops = loops[:-1]

    traverse(statement, enter, leave)
    index.size = counter
    return index


def reaching_definitions(name: str, scope: Scope, order: int, loops: tuple[cst.CSTNode, ...]
                         ) -> tuple[list[Definition], bool] | None:
    """The definitions of ``name`` that may reach a use at ``order`` in ``scope`` (with the
    ``loops`` around the use), and whether the value the parameter ``name`` came in with may;
    None when the name is not bound anywhere we see. By source order: the last unconditional
    assignment before the use, the conditional ones after it, and inside a loop the assignments
    later in the same loop; a name the scope never binds is looked up in the scope around it."""
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


def is_self_attribute(target: cst.BaseExpression) -> bool:
    """``self.name``: an attribute of the instance, in a method."""
    return type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == "self"
