"""The scope index: one walk of a file that records its scopes (``scopes.py``), every definition
and binding of a name, every name read, and where each name and call sits.

Every binding (assignment, unpacking, loop, import, ``except``/``with`` target, match capture,
``def``/``class``, star or keyword-only parameter) is a definition, with its place in the walk,
its value (None when bound another way), its target ``Name`` and the branches and loops around
it: what ``scopes.reaching_definitions`` reads; ``Scope.flows`` say which value each target
takes, and ``Scope.lookup`` is Python's name resolution. The one name engine: the value flows
(``dataflow.py``, ``probabilities.py``, ``differentiated.py``), model code (``model_analyzer.py``),
the shape interpreter, ``loss_reads.py`` and the PyTorch pack read it. The syntax index is the
finder's cheaper walk and keeps no definitions; this one is computed only when a fact asks.

The walk is a pre-order walk (``astutil.traverse``). Where Python evaluates part of a node in
another scope than the node's own (a def's decorators and defaults, a class's bases, a
comprehension's first iterable: all in the scope around), the node entered first says so for that
child; a name that is bound or is no variable at all (a ``def``'s name, ``.attr``, ``keyword=``,
an import) is marked before it is reached, so that every other name is a read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import libcst as cst

from losscheck.lint.astutil import (
    LEAVE,
    LEAVE_CHILDLESS,
    assign_target_nodes,
    assign_targets,
    match_captures,
    traverse,
)
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.scopes import (
    Binding,
    Definition,
    Scope,
    ScopeNode,
    plain_sequence,
    reaching_definitions,
)

__all__ = ["Definition", "Scope", "ScopeIndex", "is_self_attribute", "reaching_definitions", "scope_index",
           "values_reaching"]

# the nodes whose parts may run or not (a definition under one is conditional)
BRANCH_TYPES = frozenset({cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match, cst.IfExp})
_LOOP_TYPES = frozenset({cst.For, cst.While})
_SUITES = frozenset({cst.IndentedBlock, cst.SimpleStatementSuite})
_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp})
# subtrees that read no variable: annotations (never evaluated when Keras calls the loss),
# imports and global/nonlocal statements (their names are bound or declared by the node itself)
_NO_READS = frozenset({cst.Annotation, cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal})
_LEFT_WHEN_MARKED: frozenset[type] = frozenset()  # traverse(): leave() only for what enter() marks (LEAVE)


@dataclass
class ScopeIndex:
    """One walk of the file: scopes, their definitions and bindings, and where every call and name sits."""

    scopes: dict[ScopeNode, Scope] = field(default_factory=dict)  # the frames: module, defs, lambdas
    by_node: dict[ScopeNode, Scope] = field(default_factory=dict)  # every scope, classes and comprehensions too
    where: dict[cst.CSTNode, tuple[Scope, int, tuple[cst.CSTNode, ...]]] = field(default_factory=dict)
    calls: list[cst.Call] = field(default_factory=list)
    calls_by_name: dict[str, list[cst.Call]] = field(default_factory=dict)
    classes: dict[cst.FunctionDef, cst.ClassDef] = field(default_factory=dict)  # method -> its class
    # (class, attribute) -> the values of `self.attribute = value` in the class's methods
    self_assigns: dict[tuple[cst.ClassDef, str], list[cst.BaseExpression]] = field(default_factory=dict)
    # the statements' stand-in module scopes, merged into the module's (``scope_index``): emptied
    # with the rest by ``dispose``
    stand_ins: list[Scope] = field(default_factory=list)

    @property
    def module(self) -> Scope:
        return next(iter(self.scopes.values()))  # the first scope made is the module's

    def scope_of(self, node: cst.CSTNode) -> Scope | None:
        return self.by_node.get(node)  # type: ignore[call-overload]

    def dispose(self) -> None:
        """Empty every scope: scopes, their bindings and definitions refer to one another (a
        parent and its children, a binding and its scope), so the file's tree they hold would
        otherwise wait for the cycle collector. For a file that is done (``FileContext.release``)."""
        for scope in (*self.by_node.values(), *self.stand_ins):
            vars(scope).clear()
        self.stand_ins.clear()
        self.scopes.clear()
        self.by_node.clear()
        self.where.clear()


def _params(params: cst.Parameters) -> list[str]:
    return [p.name.value for p in (*params.posonly_params, *params.params)]


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params]
    if type(params.star_arg) is cst.Param:
        out.append(params.star_arg)
    out += params.kwonly_params
    if params.star_kwarg is not None:
        out.append(params.star_kwarg)
    return out


@fact()
def scope_index(ctx: FileContext) -> ScopeIndex:
    """The index of the whole file, put together from one index per top-level statement
    (``statement_parts.py``: in the language server only the statements an edit touched are
    walked again). A statement's own walk numbers its nodes from 1 and defines and binds its
    module-level names in a stand-in module scope; here those become the file's: the stand-in's
    definitions, bindings and reads are moved into the module scope (definitions numbered on from
    the statements before), and the scopes it holds get the module scope as their parent. Orders
    inside a function stay the statement's own: they are only ever compared within one scope.
    Last, a name that a function declares ``global`` and binds is bound in the module too."""
    from losscheck.lint.statement_parts import parts

    index = ScopeIndex()
    root = Scope(ctx.module, None, kind="module")
    index.scopes[ctx.module] = root
    index.by_node[ctx.module] = root
    offset = 1  # the module node itself is the first node of the walk
    declares_global: list[Scope] = []
    for part in parts("scope_index", ctx.module, _statement_index):
        stand_in = part.scopes[_STAND_IN]
        index.stand_ins.append(stand_in)
        for name, defs in stand_in.defs.items():
            root.defs.setdefault(name, []).extend(
                replace(d, order=d.order + offset) for d in defs)
        root.returns += stand_in.returns
        root.flows += stand_in.flows
        for name, made in stand_in.functions.items():
            root.functions.setdefault(name, []).extend(made)
        for name, made in stand_in.classes.items():
            root.classes.setdefault(name, []).extend(made)
        for name, bindings in stand_in.assignments.items():
            root.assignments.setdefault(name, []).extend(Binding(name, b.node, root) for b in bindings)
        root.reads += stand_in.reads
        root.declared_global |= stand_in.declared_global
        root.declared_nonlocal |= stand_in.declared_nonlocal
        root.children += stand_in.children
        for scope, frame_is_module, enclosed_by_module in part.top_scopes:  # (a remembered part: the new root)
            if frame_is_module:
                scope.parent = root
            if enclosed_by_module:
                scope.enclosing = root
        index.scopes.update(part.scopes)
        del index.scopes[_STAND_IN]
        index.by_node.update(part.by_node)
        del index.by_node[_STAND_IN]
        for node, (scope, order, context) in part.where.items():
            index.where[node] = (root, order + offset, context) if scope is stand_in else (scope, order, context)
        index.calls += part.calls
        for name, calls in part.calls_by_name.items():
            index.calls_by_name.setdefault(name, []).extend(calls)
        index.classes.update(part.classes)
        for key, values in part.self_assigns.items():
            index.self_assigns.setdefault(key, []).extend(values)
        declares_global += part.declares_global
        offset += part.size
    for scope in declares_global:
        for name in scope.declared_global & scope.assignments.keys():
            root.assignments.setdefault(name, []).extend(Binding(name, b.node, root) for b in scope.assignments[name])
    return index


_STAND_IN = cst.Module(body=())  # the key of a statement's stand-in module scope


@dataclass
class _StatementIndex(ScopeIndex):
    """The scope index of one top-level statement, merged into the module's."""

    size: int = 0  # the nodes of the statement's walk
    # the scopes made right under the module: (scope, its frame is the module, it is in the module)
    top_scopes: list[tuple[Scope, bool, bool]] = field(default_factory=list)
    declares_global: list[Scope] = field(default_factory=list)  # the scopes with a `global` statement


def _statement_index(statement: cst.CSTNode) -> _StatementIndex:
    index = _StatementIndex()
    root = Scope(_STAND_IN, None, kind="module")
    index.scopes[_STAND_IN] = root
    index.by_node[_STAND_IN] = root
    frames: list[Scope] = [root]  # the module, defs and lambdas: where definitions are recorded
    chain: list[Scope] = [root]  # every scope, classes and comprehensions too: where names bind
    owners: list[cst.CSTNode] = []  # the node that pushed each entry of ``chain`` after the first
    compound: list[cst.CSTNode] = []  # branch and loop nodes inside the current frame
    saved: list[tuple[list[cst.CSTNode], tuple[cst.CSTNode, ...]]] = []
    block_roots: set[int] = set()  # the two branches of a conditional expression
    classes: list[cst.ClassDef] = []
    counter = 0
    # the branch and loop nodes and the blocks (suites, a conditional expression's branches) around
    # the current node in its frame, outermost first: whether a definition surely ran before a use
    context: tuple[cst.CSTNode, ...] = ()
    # set by a node for its children before they are entered
    not_read: set[int] = set()  # names that are no read (bound by their parent, or no variable)
    evaluated_in: dict[int, Scope] = {}  # subtrees Python evaluates in the scope around their parent
    quiet: list[cst.CSTNode] = []  # the open subtrees that read no variable

    # An assignment defines its names once its value is computed: the definitions wait for the
    # statement to be left, so that the value's own reads (`p = tf.reshape(p, ...)`) come before.
    pending: list[tuple[cst.CSTNode, cst.Name, cst.BaseExpression | None]] = []

    def define(name: str, value: cst.BaseExpression | None, augmented: cst.AugAssign | None = None,
               conditional: bool = False, target: cst.Name | None = None) -> None:
        operator, operand = (type(augmented.operator).__name__, augmented.value) if augmented else (None, None)
        frames[-1].defs.setdefault(name, []).append(
            Definition(counter, value, conditional or bool(compound), context, operator, operand, target))

    def define_after(node: cst.CSTNode, target: cst.Name, value: cst.BaseExpression | None) -> None:
        pending.append((node, target, value))

    def define_targets(target: cst.BaseExpression | None) -> None:
        """Names bound with no value of their own to follow (``except E as e``, ``with f() as
        g``): a definition all the same, so that no older one seems to reach past it."""
        for name in assign_target_nodes(target) if target is not None else ():
            define(name.value, None, target=name)

    in_class = [0]  # classes open inside the current frame: their bodies are not the frame's own code

    def flow(target: cst.BaseExpression | None, value: cst.BaseExpression, how: str,
             names: Iterable[str] | None = None) -> None:
        if not in_class[-1]:
            bound = tuple(names) if names is not None else tuple(assign_targets(target))  # type: ignore[arg-type]
            frames[-1].flows.append((bound, value, how, target))

    def bind_target(target: cst.CSTNode, scope: Scope) -> None:
        """The names an assignment target binds; attributes and subscripts in it are reads."""
        kind = type(target)
        if kind is cst.Name:
            scope.bind(target.value, target)  # type: ignore[attr-defined]
            not_read.add(id(target))
        elif kind is cst.Tuple or kind is cst.List:
            for element in target.elements:  # type: ignore[attr-defined]
                bind_target(element.value, scope)
        elif kind is cst.StarredElement or kind is cst.Element:
            bind_target(target.value, scope)  # type: ignore[attr-defined]

    def bind_name(name: cst.CSTNode | None, scope: Scope, node: cst.CSTNode | None = None) -> None:
        if type(name) is cst.Name:
            scope.bind(name.value, name if node is None else node)  # type: ignore[attr-defined]
            not_read.add(id(name))

    def open_scope(node: cst.CSTNode, kind: str, params: list[str]) -> Scope:
        outer = chain[-1]
        scope = Scope(node, frames[-1], params, kind=kind, enclosing=outer)
        outer.children.append(scope)
        index.by_node[node] = scope  # type: ignore[index]
        if outer is root or frames[-1] is root:
            index.top_scopes.append((scope, frames[-1] is root, outer is root))
        chain.append(scope)
        owners.append(node)
        return scope

    def bind_type_params(node: cst.CSTNode, scope: Scope) -> None:
        type_parameters = getattr(node, "type_parameters", None)
        if type_parameters is not None:
            for item in type_parameters.params:
                bind_name(getattr(item.param, "name", None), scope)

    # Dispatch on the exact node type: most nodes (names, attributes, whitespace) need one
    # dictionary lookup, where a chain of isinstance() checks against libcst's abstract classes
    # made this walk the rule's main cost.
    #
    # leave() is called only for the nodes that pushed something on a stack it pops (LEAVE): the
    # scopes, branches, suites and statements that bind after their value, and any node that a
    # parent marked (a decorator evaluated outside, a branch of `a if c else b`, type parameters).
    def enter(node: cst.CSTNode) -> bool | str:
        nonlocal compound, counter, context
        counter += 1
        kind = type(node)
        marked = False  # something was pushed for this node: it must be left
        if block_roots and id(node) in block_roots:
            block_roots.discard(id(node))
            context = context + (node,)
            marked = True
        if evaluated_in:
            outer = evaluated_in.pop(id(node), None)
            if outer is not None:
                chain.append(outer)
                owners.append(node)
                marked = True
        if quiet and quiet[-1] is node:  # type parameters a `type` alias pushed
            marked = True
        if kind is cst.Name:
            index.where[node] = (frames[-1], counter, context)
            if id(node) in not_read:
                not_read.discard(id(node))
            elif not quiet:
                chain[-1].reads.append(node)  # type: ignore[arg-type]
            return LEAVE_CHILDLESS if marked else False
        if kind is cst.Attribute:
            not_read.add(id(node.attr))  # type: ignore[attr-defined]
            return LEAVE if marked else True
        if kind is cst.Arg:
            if node.keyword is not None:  # type: ignore[attr-defined]
                not_read.add(id(node.keyword))  # type: ignore[attr-defined]
            return LEAVE if marked else True
        if kind is cst.Call:
            index.calls.append(node)  # type: ignore[arg-type]
            index.where[node] = (frames[-1], counter, context)
            if type(node.func) is cst.Name:  # type: ignore[attr-defined]
                index.calls_by_name.setdefault(node.func.value, []).append(node)  # type: ignore[attr-defined,arg-type]
            return LEAVE if marked else True
        if kind in _NO_READS:
            quiet.append(node)
            for name in _bind_imports(node, chain[-1]):
                define(name, None)
            return LEAVE
        if kind is cst.FunctionDef or kind is cst.Lambda:
            outer = chain[-1]
            if kind is cst.FunctionDef:
                define(node.name.value, None)  # type: ignore[attr-defined]
                frames[-1].functions.setdefault(node.name.value, []).append(node)  # type: ignore[attr-defined,arg-type]
                bind_name(node.name, outer, node)  # type: ignore[attr-defined]
                for decorator in node.decorators:  # type: ignore[attr-defined]
                    evaluated_in[id(decorator.decorator)] = outer
            params = _all_params(node.params)  # type: ignore[attr-defined]
            for param in params:
                if param.default is not None:
                    evaluated_in[id(param.default)] = outer
            scope = open_scope(node, "function", _params(node.params))  # type: ignore[attr-defined]
            bind_type_params(node, scope)
            for param in params:
                bind_name(param.name, scope, param)
            index.scopes[node] = scope  # type: ignore[index]
            frames.append(scope)
            in_class.append(0)
            saved.append((compound, context))
            compound, context = [], ()
            for param in params:  # `*args`, `**kwargs` and keyword-only ones: not in ``Scope.params``
                if param.name.value not in scope.params:
                    define(param.name.value, None)
            return LEAVE
        if kind is cst.ClassDef:
            outer = chain[-1]
            define(node.name.value, None)  # type: ignore[attr-defined]
            frames[-1].classes.setdefault(node.name.value, []).append(node)  # type: ignore[attr-defined,arg-type]
            bind_name(node.name, outer, node)  # type: ignore[attr-defined]
            for decorator in node.decorators:  # type: ignore[attr-defined]
                evaluated_in[id(decorator.decorator)] = outer
            for arg in (*node.bases, *node.keywords):  # type: ignore[attr-defined]
                evaluated_in[id(arg.value)] = outer
            bind_type_params(node, open_scope(node, "class", []))
            classes.append(node)  # type: ignore[arg-type]
            in_class[-1] += 1
            if type(node.body) is cst.IndentedBlock:  # type: ignore[attr-defined]
                for stmt in node.body.body:  # type: ignore[attr-defined]
                    if type(stmt) is cst.FunctionDef:  # a method, for `self.attribute` lookups
                        index.classes[stmt] = node  # type: ignore[assignment]
            return LEAVE
        if kind in _COMPREHENSIONS:
            first = node.for_in  # type: ignore[attr-defined]
            evaluated_in[id(first.iter)] = chain[-1]
            scope = open_scope(node, "comprehension", [])
            comp = first
            while comp is not None:
                bind_target(comp.target, scope)
                for name in assign_targets(comp.target):
                    # the frame's too, as a definition that may or may not reach: a use there
                    # may be the comprehension's own variable (uses are placed by frame)
                    define(name, None, conditional=True)
                comp = comp.inner_for_in
            return LEAVE
        if kind in _SUITES:
            context = context + (node,)
            marked = True
        elif kind in BRANCH_TYPES:
            compound.append(node)
            marked = True
            context = context + (node,)
            if kind is cst.IfExp:
                block_roots.update((id(node.body), id(node.orelse)))  # type: ignore[attr-defined]
            if kind in _LOOP_TYPES:
                for name in assign_targets(node.target) if kind is cst.For else ():  # type: ignore[attr-defined]
                    define(name, None)
                if kind is cst.For:
                    bind_target(node.target, chain[-1])  # type: ignore[attr-defined]
                    flow(node.target, node.iter, "loop")  # type: ignore[attr-defined]
            elif kind is cst.Match:
                captures = match_captures(node)  # type: ignore[arg-type]
                flow(None, node.subject, "bind", captures)  # type: ignore[attr-defined]
                for name in captures:
                    define(name, None, conditional=True)
        elif kind is cst.Assign:
            marked = True  # its names are defined when it is left
            for target in node.targets:  # type: ignore[attr-defined]
                bind_target(target.target, chain[-1])
                flow(target.target, node.value,  # type: ignore[attr-defined]
                     "assign" if type(target.target) is cst.Name else "unpack")
                if type(target.target) is cst.Name:
                    define_after(node, target.target, node.value)  # type: ignore[attr-defined]
                elif is_self_attribute(target.target) and classes:
                    key = (classes[-1], target.target.attr.value)
                    index.self_assigns.setdefault(key, []).append(node.value)  # type: ignore[attr-defined]
                else:
                    for name in assign_target_nodes(target.target):
                        define_after(node, name, None)
        elif kind is cst.AnnAssign or kind is cst.NamedExpr:
            marked = True  # its names are defined when it is left
            if kind is cst.NamedExpr:
                target_scope = chain[-1]  # the walrus binds outside comprehensions
                while target_scope.kind == "comprehension" and target_scope.enclosing is not None:
                    target_scope = target_scope.enclosing
                bind_target(node.target, target_scope)  # type: ignore[attr-defined]
            else:
                bind_target(node.target, chain[-1])  # type: ignore[attr-defined]
            if type(node.target) is cst.Name:  # type: ignore[attr-defined]
                define_after(node, node.target, node.value)  # type: ignore[attr-defined]
            if kind is cst.NamedExpr:
                flow(node.target, node.value, "bind")  # type: ignore[attr-defined]
            elif node.value is not None:  # type: ignore[attr-defined]
                flow(node.target, node.value,  # type: ignore[attr-defined]
                     "assign" if type(node.target) is cst.Name else "unpack")  # type: ignore[attr-defined]
        elif kind is cst.AugAssign:
            marked = True  # its names are defined when it is left
            bind_target(node.target, chain[-1])  # type: ignore[attr-defined]
            flow(node.target, node.value, "augment")  # type: ignore[attr-defined]
            if type(node.target) is cst.Name:  # type: ignore[attr-defined]
                define_after(node, node.target, None)  # type: ignore[attr-defined]
        elif kind is cst.Return:
            if node.value is not None:  # type: ignore[attr-defined]
                frames[-1].returns.append(node.value)  # type: ignore[attr-defined]
        else:
            bind_rare(node, kind)
        return LEAVE if marked else True

    def bind_rare(node: cst.CSTNode, kind: type) -> None:
        """The rarer binding nodes: ``with ... as``, ``except ... as``, match captures, ``type``
        aliases (kept out of ``enter`` so that its common path stays short)."""
        scope = chain[-1]
        if kind is cst.CompFor:
            flow(node.target, node.iter, "loop")  # type: ignore[attr-defined]
        elif kind is cst.WithItem:
            if node.asname is not None:  # type: ignore[attr-defined]
                bind_target(node.asname.name, scope)  # type: ignore[attr-defined]
                flow(node.asname.name, node.item, "bind")  # type: ignore[attr-defined]
                define_targets(node.asname.name)  # type: ignore[attr-defined]
        elif kind is cst.ExceptHandler or kind is cst.ExceptStarHandler:
            if node.name is not None:  # type: ignore[attr-defined]
                bind_target(node.name.name, scope)  # type: ignore[attr-defined]
                define_targets(node.name.name)  # type: ignore[attr-defined]
        elif kind is cst.MatchAs or kind is cst.MatchStar:
            bind_name(node.name, scope)  # type: ignore[attr-defined]
        elif kind is cst.MatchMapping:
            bind_name(node.rest, scope)  # type: ignore[attr-defined]
        elif kind is cst.MatchKeywordElement:
            not_read.add(id(node.key))  # type: ignore[attr-defined]  # `Point(x=...)`: an attribute name
        elif kind is _TYPE_ALIAS:
            bind_name(node.name, scope)  # type: ignore[attr-defined]
            if node.type_parameters is not None:  # type: ignore[attr-defined]
                quiet.append(node.type_parameters)  # type: ignore[attr-defined]

    def leave(node: cst.CSTNode) -> None:
        nonlocal compound, context
        if pending and pending[-1][0] is node:
            waiting = []
            while pending and pending[-1][0] is node:
                waiting.append(pending.pop())
            for statement, target, value in reversed(waiting):
                define(target.value, value, statement if type(statement) is cst.AugAssign else None,  # type: ignore[arg-type]
                       target=target)
        while owners and owners[-1] is node:
            owners.pop()
            chain.pop()
        if quiet and quiet[-1] is node:
            quiet.pop()
        kind = type(node)
        if kind is cst.FunctionDef or kind is cst.Lambda:
            frames.pop()
            in_class.pop()
            compound, context = saved.pop()
        elif kind is cst.ClassDef:
            classes.pop()
            in_class[-1] -= 1
        elif compound and compound[-1] is node:
            compound.pop()
        if context and context[-1] is node:
            context = context[:-1]

    traverse(statement, enter, leave, _LEFT_WHEN_MARKED)
    index.size = counter
    index.declares_global = [s for s in index.by_node.values() if s.declared_global and s is not root]
    del bind_target  # it calls itself through its cell: a reference cycle that would hold the scopes
    return index


def _bind_imports(node: cst.CSTNode, scope: Scope) -> list[str]:
    """What an import binds (the import statement is the binding; the names are returned), and
    what ``global``/``nonlocal`` declare."""
    kind = type(node)
    bound: list[str] = []
    if kind is cst.Import:
        for alias in node.names:  # type: ignore[attr-defined]
            if alias.asname is not None:
                if type(alias.asname.name) is cst.Name:
                    bound.append(alias.asname.name.value)
                continue
            top = alias.name
            while type(top) is cst.Attribute:
                top = top.value
            if type(top) is cst.Name:
                bound.append(top.value)
    elif kind is cst.ImportFrom:
        if type(node.names) is cst.ImportStar:  # type: ignore[attr-defined]
            return bound
        for alias in node.names:  # type: ignore[attr-defined]
            name = alias.asname.name if alias.asname is not None else alias.name
            if type(name) is cst.Name:
                bound.append(name.value)
    elif kind is cst.Global:
        scope.declared_global.update(item.name.value for item in node.names)  # type: ignore[attr-defined]
    elif kind is cst.Nonlocal:
        scope.declared_nonlocal.update(item.name.value for item in node.names)  # type: ignore[attr-defined]
    for name in bound:
        scope.bind(name, node)
    return bound


_TYPE_ALIAS = getattr(cst, "TypeAlias", None)


def is_self_attribute(target: cst.BaseExpression) -> bool:
    """``self.name``: an attribute of the instance, in a method."""
    return type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == "self"


def values_reaching(ctx: FileContext, use: cst.Name) -> list[tuple[str | None, cst.BaseExpression]] | None:
    """(operator, value) of the definitions of the name ``use`` reads that reach it in a straight
    line (``scopes.plain_sequence``): the plain assignment's value first (operator None), then
    each augmented one's operand with its operator."""
    where = scope_index(ctx).where.get(use)
    if where is None or type(where[0].node) is cst.Lambda:
        return None
    defs = plain_sequence(use.value, *where)
    if defs is None:
        return None
    return [(d.operator, d.operand if d.operator else d.value) for d in defs]  # type: ignore[misc]
