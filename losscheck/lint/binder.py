"""Name binding for loss code: which scope defines each name that a loss function reads.

This is the scope fact behind ``undefined-name`` (LCK301) and ``model-tensor-in-loss`` (LCK303).
It replaces libcst's ``ScopeProvider``, which was the most expensive fact of a lint run (about
0.25 s for a 300-line loss module, and superlinear on megabyte files) because it runs libcst's
visitor framework and an expression-context pass over every node. Rules only ask one question:
for a name read inside loss code, which bindings can it refer to? So the binder

- walks the syntax fields directly (``astutil.children``), never libcst visitors;
- enters only the defs and classes that are, or enclose, a loss function or a ``global``
  statement: any other def or class binds its own name and nothing a loss could see;
- follows Python's rules (LEGB): a name bound anywhere in a function is local to all of it;
  methods and comprehensions do not see class-body names; ``global``/``nonlocal``; the walrus
  binds in the nearest enclosing non-comprehension scope; a comprehension's first iterable, a
  def's decorators and defaults, and a class's bases are evaluated in the enclosing scope;
  annotations are not reads (Keras never evaluates them when it calls the loss).

The result is checked against libcst's ``ScopeProvider`` over the whole module by a differential
test (tests/lint/test_binder.py) on every rule example and on generated modules.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import libcst as cst

from losscheck.lint.astutil import children


@dataclass(eq=False)
class Binding:
    """One place that binds ``name`` in ``scope``: a target ``Name``, a ``Param``, a ``def``/``class``
    statement, an ``import`` statement, or a ``global`` declaration's name."""

    name: str
    node: cst.CSTNode
    scope: "Scope"


@dataclass(eq=False)
class Scope:
    kind: str  # "module", "function" (defs and lambdas), "class", "comprehension"
    node: cst.CSTNode
    parent: "Scope | None"
    assignments: dict[str, list[Binding]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    reads: list[cst.Name] = field(default_factory=list)
    children: list["Scope"] = field(default_factory=list)

    def bind(self, name: str, node: cst.CSTNode) -> None:
        self.assignments.setdefault(name, []).append(Binding(name, node, self))

    def visible_names(self) -> set[str]:
        """Names this scope and the enclosing ones it can see define (not builtins, not class bodies
        other than its own)."""
        names: set[str] = set()
        current: Scope | None = self
        while current is not None:
            if current is self or current.kind != "class":
                names.update(current.assignments)
            current = current.parent
        return names

    def lookup(self, name: str) -> tuple[Binding, ...]:
        """The bindings a read of ``name`` in this scope may refer to; () for builtins and undefined."""
        current: Scope | None = self
        first = True
        while current is not None:
            if name in current.declared_global:
                return tuple(_module_of(current).assignments.get(name, ()))
            if name in current.declared_nonlocal:
                first = False
                current = current.parent
                continue
            if (first or current.kind != "class") and name in current.assignments:
                return tuple(current.assignments[name])
            first = False
            current = current.parent
        return ()

    def walk(self) -> Iterator["Scope"]:
        stack = [self]
        while stack:
            scope = stack.pop()
            yield scope
            stack.extend(reversed(scope.children))


def _module_of(scope: Scope) -> Scope:
    while scope.parent is not None:
        scope = scope.parent
    return scope


@dataclass
class Bindings:
    """The binder's result for one file."""

    module: Scope
    by_node: Mapping[cst.CSTNode, Scope]  # def/lambda/class/comprehension node -> its scope

    def scope_of(self, node: cst.CSTNode) -> Scope | None:
        return self.by_node.get(node)


def bind_module(module: cst.Module, loss_nodes: list[cst.CSTNode], order: Mapping[cst.CSTNode, int] | None,
                source: str | None = None) -> Bindings:
    """Bind names for ``module``, entering only what can hold or enclose ``loss_nodes``.

    ``order`` maps every node to its pre-order index (the finder's walk); with it, a def or class
    whose index span holds no loss function (and no ``global`` statement, which can bind a
    module name from inside) is not entered. Without it everything is entered.
    """
    marks: list[int] | None = None
    if order is not None:
        marks = [order[n] for n in loss_nodes if n in order]
        if len(marks) != len(loss_nodes):
            marks = None  # a loss node the index does not know: enter everything
        elif source is None or "global" in source:
            marks.extend(i for n, i in order.items() if type(n) is cst.Global)
    binder = _Binder(module, sorted(marks) if marks is not None else None, order, {id(n) for n in loss_nodes})
    binder.run()
    return Bindings(binder.root, binder.by_node)


class _Binder:
    def __init__(self, module: cst.Module, marks: list[int] | None, order: Mapping[cst.CSTNode, int] | None,
                 loss_ids: set[int]) -> None:
        self.module = module
        self.marks = marks
        self.order = order or {}
        self.loss_ids = loss_ids
        self.root = Scope("module", module, None)
        self.by_node: dict[cst.CSTNode, Scope] = {module: self.root}
        # work items: (node, scope, end of the node's pre-order span or -1 when unknown)
        self.stack: list[tuple[cst.CSTNode, Scope, int]] = []

    # -- driver ---------------------------------------------------------------------------
    def run(self) -> None:
        self._statements(self.module.body, self.root, len(self.order) if self.order else -1)
        stack = self.stack
        while stack:
            node, scope, end = stack.pop()
            self._node(node, scope, end)
        self._place_declared()

    def _push(self, node: cst.CSTNode | None, scope: Scope, end: int = -1) -> None:
        if node is not None:
            self.stack.append((node, scope, end))

    def _push_all(self, nodes, scope: Scope, end: int = -1) -> None:
        for node in reversed(list(nodes)):
            self.stack.append((node, scope, end))

    def _statements(self, statements, scope: Scope, end: int) -> None:
        """Push a statement list; each statement's span ends where the next one starts."""
        statements = list(statements)
        items = []
        for k, stmt in enumerate(statements):
            nxt = self.order.get(statements[k + 1], -1) if k + 1 < len(statements) else end
            items.append((stmt, scope, nxt))
        self.stack.extend(reversed(items))

    def _holds_loss(self, node: cst.CSTNode, end: int) -> bool:
        if id(node) in self.loss_ids or self.marks is None:
            return True
        lo = self.order.get(node)
        if lo is None or end < 0:
            return True  # span unknown: enter it (slower, never wrong)
        i = bisect_left(self.marks, lo)
        return i < len(self.marks) and self.marks[i] < end

    def _new_scope(self, kind: str, node: cst.CSTNode, parent: Scope) -> Scope:
        scope = Scope(kind, node, parent)
        parent.children.append(scope)
        self.by_node[node] = scope
        return scope

    def _place_declared(self) -> None:
        """Bindings of names declared ``global`` belong to the module (``nonlocal`` ones stay where
        they are: a read finds them first, which resolves to the same variable)."""
        for scope in self.root.walk():
            for name in scope.declared_global & scope.assignments.keys():
                for binding in scope.assignments.pop(name):
                    binding.scope = self.root
                    self.root.assignments.setdefault(name, []).append(binding)

    # -- one node -------------------------------------------------------------------------
    def _node(self, node: cst.CSTNode, scope: Scope, end: int) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node, scope, end)
            return
        if _is_compound(type(node)):
            self._compound(node, scope, end)
            return
        self._push_all(children(node), scope, end)

    def _compound(self, node: cst.CSTNode, scope: Scope, end: int) -> None:
        for child in reversed(children(node)):
            if type(child) is cst.IndentedBlock:
                self._statements(child.body, scope, end)
            else:
                self._push(child, scope, end)

    def _block(self, block: cst.BaseSuite, scope: Scope, end: int) -> None:
        if type(block) is cst.IndentedBlock:
            self._statements(block.body, scope, end)
        else:
            self._push(block, scope, end)

    def _name(self, node: cst.Name, scope: Scope, end: int) -> None:
        scope.reads.append(node)

    def _target(self, target: cst.CSTNode, scope: Scope) -> None:
        """Bind the names of an assignment target; attributes and subscripts are reads."""
        if type(target) is cst.Name:
            scope.bind(target.value, target)
        elif type(target) in (cst.Tuple, cst.List):
            for element in target.elements:
                self._target(element.value, scope)
        elif type(target) in (cst.StarredElement, cst.Element):
            self._target(target.value, scope)
        elif target is not None:
            self._push(target, scope)

    # statements
    def _function(self, node: cst.FunctionDef, scope: Scope, end: int) -> None:
        scope.bind(node.name.value, node)
        for decorator in node.decorators:
            self._push(decorator.decorator, scope)
        self._param_defaults(node.params, scope)
        if not self._holds_loss(node, end):
            return
        inner = self._new_scope("function", node, scope)
        self._type_params(node, inner)
        self._params(node.params, inner)
        self._block(node.body, inner, end)

    def _lambda(self, node: cst.Lambda, scope: Scope, end: int) -> None:
        self._param_defaults(node.params, scope)
        inner = self._new_scope("function", node, scope)
        self._params(node.params, inner)
        self._push(node.body, inner, end)

    def _class(self, node: cst.ClassDef, scope: Scope, end: int) -> None:
        scope.bind(node.name.value, node)
        for decorator in node.decorators:
            self._push(decorator.decorator, scope)
        for arg in (*node.bases, *node.keywords):
            self._push(arg.value, scope)
        if not self._holds_loss(node, end):
            return
        inner = self._new_scope("class", node, scope)
        self._type_params(node, inner)
        self._block(node.body, inner, end)

    def _param_defaults(self, params: cst.Parameters, scope: Scope) -> None:
        for param in _all_params(params):
            self._push(param.default, scope)

    def _params(self, params: cst.Parameters, scope: Scope) -> None:
        for param in _all_params(params):
            scope.bind(param.name.value, param)

    def _type_params(self, node: cst.CSTNode, scope: Scope) -> None:
        type_parameters = getattr(node, "type_parameters", None)
        if type_parameters is not None:
            for item in type_parameters.params:
                name = getattr(item.param, "name", None)
                if type(name) is cst.Name:
                    scope.bind(name.value, name)

    def _assign(self, node: cst.Assign, scope: Scope, end: int) -> None:
        self._push(node.value, scope)
        for target in node.targets:
            self._target(target.target, scope)

    def _ann_assign(self, node: cst.AnnAssign, scope: Scope, end: int) -> None:
        self._push(node.value, scope)
        self._target(node.target, scope)

    def _aug_assign(self, node: cst.AugAssign, scope: Scope, end: int) -> None:
        self._push(node.value, scope)
        self._target(node.target, scope)

    def _del(self, node: cst.Del, scope: Scope, end: int) -> None:
        # `del x` needs x bound: a read, as libcst counts it (attributes and subscripts: reads too)
        self._push(node.target, scope)

    def _for(self, node: cst.For, scope: Scope, end: int) -> None:
        self._target(node.target, scope)
        self._push(node.iter, scope)
        self._block(node.body, scope, end)
        if node.orelse is not None:
            self._compound(node.orelse, scope, end)

    def _with_item(self, node: cst.WithItem, scope: Scope, end: int) -> None:
        self._push(node.item, scope)
        if node.asname is not None:
            self._target(node.asname.name, scope)

    def _except(self, node: cst.ExceptHandler | cst.ExceptStarHandler, scope: Scope, end: int) -> None:
        self._push(node.type, scope)
        if node.name is not None:
            self._target(node.name.name, scope)
        self._block(node.body, scope, end)

    def _import(self, node: cst.Import, scope: Scope, end: int) -> None:
        for alias in node.names:
            if alias.asname is not None:
                self._import_name(alias.asname.name, node, scope)
            else:
                top = alias.name
                while type(top) is cst.Attribute:
                    top = top.value
                if type(top) is cst.Name:
                    scope.bind(top.value, node)

    def _import_from(self, node: cst.ImportFrom, scope: Scope, end: int) -> None:
        if type(node.names) is cst.ImportStar:
            return
        for alias in node.names:
            name = alias.asname.name if alias.asname is not None else alias.name
            self._import_name(name, node, scope)

    def _import_name(self, name: cst.CSTNode, node: cst.CSTNode, scope: Scope) -> None:
        if type(name) is cst.Name:
            scope.bind(name.value, node)

    def _global(self, node: cst.Global, scope: Scope, end: int) -> None:
        scope.declared_global.update(item.name.value for item in node.names)

    def _nonlocal(self, node: cst.Nonlocal, scope: Scope, end: int) -> None:
        scope.declared_nonlocal.update(item.name.value for item in node.names)

    def _type_alias(self, node: cst.CSTNode, scope: Scope, end: int) -> None:
        scope.bind(node.name.value, node.name)  # type: ignore[attr-defined]
        self._push(node.value, scope)  # type: ignore[attr-defined]

    # expressions
    def _attribute(self, node: cst.Attribute, scope: Scope, end: int) -> None:
        self._push(node.value, scope, end)  # `.attr` is not a name read

    def _arg(self, node: cst.Arg, scope: Scope, end: int) -> None:
        self._push(node.value, scope, end)  # `keyword=` is not a name read

    def _named_expr(self, node: cst.NamedExpr, scope: Scope, end: int) -> None:
        self._push(node.value, scope, end)
        target_scope = scope
        while target_scope.kind == "comprehension" and target_scope.parent is not None:
            target_scope = target_scope.parent
        self._target(node.target, target_scope)

    def _comprehension(self, node: cst.CSTNode, scope: Scope, end: int) -> None:
        first: cst.CompFor = node.for_in  # type: ignore[attr-defined]
        self._push(first.iter, scope, end)  # evaluated in the enclosing scope
        inner = self._new_scope("comprehension", node, scope)
        comp: cst.CompFor | None = first
        while comp is not None:
            self._target(comp.target, inner)
            if comp is not first:
                self._push(comp.iter, inner, end)
            for condition in comp.ifs:
                self._push(condition.test, inner, end)
            comp = comp.inner_for_in
        if type(node) is cst.DictComp:
            self._push(node.key, inner, end)
            self._push(node.value, inner, end)
        else:
            self._push(node.elt, inner, end)  # type: ignore[attr-defined]

    def _annotation(self, node: cst.Annotation, scope: Scope, end: int) -> None:
        return  # never evaluated when Keras calls the loss

    # match statements: captures bind, keys and class keywords are not reads
    def _match_as(self, node: cst.MatchAs, scope: Scope, end: int) -> None:
        self._push(node.pattern, scope, end)
        if node.name is not None:
            scope.bind(node.name.value, node.name)

    def _match_star(self, node: cst.MatchStar, scope: Scope, end: int) -> None:
        if node.name is not None:
            scope.bind(node.name.value, node.name)

    def _match_mapping(self, node: cst.MatchMapping, scope: Scope, end: int) -> None:
        for element in node.elements:
            self._push(element.key, scope, end)
            self._push(element.pattern, scope, end)
        if node.rest is not None:
            scope.bind(node.rest.value, node.rest)

    def _match_class(self, node: cst.MatchClass, scope: Scope, end: int) -> None:
        self._push(node.cls, scope, end)
        for pattern in node.patterns:
            self._push(pattern.pattern, scope, end)
        for keyword in node.kwds:
            self._push(keyword.pattern, scope, end)


def _all_params(params: cst.Parameters) -> Iterator[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    if type(params.star_arg) is cst.Param:
        yield params.star_arg
    yield from params.kwonly_params
    if params.star_kwarg is not None:
        yield params.star_kwarg


_HANDLERS = {
    cst.Name: _Binder._name,
    cst.FunctionDef: _Binder._function,
    cst.Lambda: _Binder._lambda,
    cst.ClassDef: _Binder._class,
    cst.Assign: _Binder._assign,
    cst.AnnAssign: _Binder._ann_assign,
    cst.AugAssign: _Binder._aug_assign,
    cst.Del: _Binder._del,
    cst.For: _Binder._for,
    cst.WithItem: _Binder._with_item,
    cst.ExceptHandler: _Binder._except,
    cst.ExceptStarHandler: _Binder._except,
    cst.Import: _Binder._import,
    cst.ImportFrom: _Binder._import_from,
    cst.Global: _Binder._global,
    cst.Nonlocal: _Binder._nonlocal,
    cst.Attribute: _Binder._attribute,
    cst.Arg: _Binder._arg,
    cst.NamedExpr: _Binder._named_expr,
    cst.ListComp: _Binder._comprehension,
    cst.SetComp: _Binder._comprehension,
    cst.GeneratorExp: _Binder._comprehension,
    cst.DictComp: _Binder._comprehension,
    cst.Annotation: _Binder._annotation,
    cst.MatchAs: _Binder._match_as,
    cst.MatchStar: _Binder._match_star,
    cst.MatchMapping: _Binder._match_mapping,
    cst.MatchClass: _Binder._match_class,
}
if hasattr(cst, "TypeAlias"):
    _HANDLERS[cst.TypeAlias] = _Binder._type_alias


_COMPOUND: dict[type, bool] = {}


def _is_compound(kind: type) -> bool:
    """A suite or compound statement (per type, once: issubclass on libcst's ABCs is slow)."""
    known = _COMPOUND.get(kind)
    if known is None:
        known = _COMPOUND[kind] = issubclass(kind, (cst.BaseSuite, cst.BaseCompoundStatement))
    return known
