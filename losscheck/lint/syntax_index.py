"""The syntax index: one pre-order walk of a file that the finder and other facts share.

It records every function with the class whose body holds it and the function it is nested in,
the classes by name, the ``.compile(...)`` calls, direct ``name(...)`` calls and ``self.name(...)``
calls, what ``add_loss(...)`` is given, simple assignments and what is later added to a name
(``metrics += [f]``), and every node's pre-order index.
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import traverse
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact

class SyntaxIndex:
    """One walk: every function with its class and parent function, classes, compile calls."""

    def __init__(self) -> None:
        self.order: dict[cst.CSTNode, int] = {}
        self.functions: list[tuple[cst.FunctionDef, cst.ClassDef | None, cst.FunctionDef | None]] = []
        # function -> (the class whose body holds it, the function it is nested in): constant-time
        # lookups, where scanning `functions` per name made large files quadratic
        self.where: dict[cst.FunctionDef, tuple[cst.ClassDef | None, cst.FunctionDef | None]] = {}
        self.methods: dict[cst.ClassDef, list[cst.FunctionDef]] = {}  # the defs a class body holds
        self.inner: dict[cst.FunctionDef, list[cst.FunctionDef]] = {}  # the defs nested in a function
        self.by_name: dict[str, list[cst.FunctionDef]] = {}
        self.classes: dict[str, list[cst.ClassDef]] = {}
        self.compile_calls: list[tuple[cst.Call, cst.FunctionDef | None]] = []
        # `name(...)` calls with the innermost function or lambda they sit in (None: module level)
        self.direct_calls: list[tuple[str, cst.FunctionDef | cst.Lambda | None]] = []
        self.self_calls: dict[str, int] = {}  # `self.name(...)` calls, by method name
        self.added_losses: list[cst.BaseExpression] = []  # what `x.add_loss(...)` is given
        # simple `name = value` assignments, per enclosing function (None: module level)
        self.assigns: dict[tuple[cst.FunctionDef | None, str], list[cst.BaseExpression]] = {}
        # what is added to a name later: `metrics += [mean_q]`, `metrics.append(f1)`, `.extend([...])`
        # (a metrics list built up before it reaches `compile(metrics=metrics)`)
        self.extends: dict[tuple[cst.FunctionDef | None, str], list[cst.BaseExpression]] = {}
        self._stack: list[cst.CSTNode] = []

    def run(self, module: cst.Module) -> None:
        # once per node of the file: the order is numbered as nodes come (a node met twice keeps
        # its first number), the handler is one dictionary lookup by type, and only the scopes
        # that the stack follows are left (``_LEAVE_TYPES``)
        order = self.order
        setdefault = order.setdefault
        visits = _VISITS

        def enter(node: cst.CSTNode) -> bool:
            setdefault(node, len(order))
            kind = type(node)
            handler = visits.get(kind, _UNKNOWN)
            if handler is _UNKNOWN:
                handler = visits[kind] = getattr(SyntaxIndex, f"visit_{kind.__name__}", None)
            if handler is not None:
                handler(self, node)
            return True

        traverse(module, enter, self._leave, _LEAVE_TYPES)

    def _leave(self, node: cst.CSTNode) -> None:
        self._stack.pop()  # a class, a function or a lambda: each pushed itself on entering

    def _enclosing_function(self) -> cst.FunctionDef | None:
        for node in reversed(self._stack):
            if type(node) is cst.FunctionDef:
                return node
        return None

    def _enclosing_class(self) -> cst.ClassDef | None:
        # the class whose body directly holds the function (not a class further out)
        if self._stack and type(self._stack[-1]) is cst.ClassDef:
            return self._stack[-1]
        return None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.setdefault(node.name.value, []).append(node)
        self._stack.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        cls, parent = self._enclosing_class(), self._enclosing_function()
        self.functions.append((node, cls, parent))
        self.where[node] = (cls, parent)
        if cls is not None:
            self.methods.setdefault(cls, []).append(node)
        if parent is not None:
            self.inner.setdefault(parent, []).append(node)
        self.by_name.setdefault(node.name.value, []).append(node)
        self._stack.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            key = (self._enclosing_function(), node.targets[0].target.value)
            self.assigns.setdefault(key, []).append(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if type(node.target) is cst.Name and type(node.operator) is cst.AddAssign:
            self.extends.setdefault((self._enclosing_function(), node.target.value), []).append(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is cst.Attribute and node.func.attr.value == "compile":
            self.compile_calls.append((node, self._enclosing_function()))
        elif type(node.func) is cst.Attribute and node.func.attr.value == "add_loss" and node.args:
            self.added_losses.append(node.args[0].value)
        elif type(node.func) is cst.Attribute and type(node.func.value) is cst.Name \
                and node.func.value.value == "self":
            self.self_calls[node.func.attr.value] = self.self_calls.get(node.func.attr.value, 0) + 1
        elif (
            type(node.func) is cst.Attribute
            and type(node.func.value) is cst.Name
            and node.func.attr.value in {"append", "extend"}
            and len(node.args) == 1
            and node.args[0].keyword is None
            and not node.args[0].star
        ):
            key = (self._enclosing_function(), node.func.value.value)
            self.extends.setdefault(key, []).append(node.args[-1].value)
        elif type(node.func) is cst.Name:
            scope = next((n for n in reversed(self._stack) if type(n) in (cst.FunctionDef, cst.Lambda)), None)
            self.direct_calls.append((node.func.value, scope))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._stack.append(node)


    def add(self, part: SyntaxIndex) -> None:
        """Append the index of the next top-level statement (its ``order`` is set by the caller)."""
        self.functions += part.functions
        self.where.update(part.where)
        self.methods.update(part.methods)
        self.inner.update(part.inner)
        self.compile_calls += part.compile_calls
        self.direct_calls += part.direct_calls
        self.added_losses += part.added_losses
        for method, count in part.self_calls.items():
            self.self_calls[method] = self.self_calls.get(method, 0) + count
        for mine, theirs in ((self.by_name, part.by_name), (self.classes, part.classes), (self.assigns, part.assigns),
                             (self.extends, part.extends)):
            for key, values in theirs.items():
                mine.setdefault(key, []).extend(values)  # type: ignore[attr-defined]


_VISITS: dict[type, object] = {}  # node type -> SyntaxIndex's visit_ method, or None
_UNKNOWN = object()
_LEAVE_TYPES = frozenset({cst.ClassDef, cst.FunctionDef, cst.Lambda})  # what the visits push on _stack


@fact()
def syntax_index(ctx: FileContext) -> SyntaxIndex:
    """One pre-order walk of the file: functions with their class and parent, classes, compile
    calls, assignments, and every node's pre-order index (``tree_order``)."""
    from losscheck.lint import incremental_parse

    if incremental_parse.documents() is not None:
        return _by_statement(ctx.module)
    index = SyntaxIndex()
    index.run(ctx.module)
    return index


def _by_statement(module: cst.Module) -> SyntaxIndex:
    """The index a whole walk gives, put together from one index per top-level statement
    (``statement_parts.py``: the language server walks only the statements an edit touched)."""
    from losscheck.lint.statement_parts import parts

    index = SyntaxIndex()
    nodes: list[cst.CSTNode] = [module]
    for part, order in parts("syntax_index", module, _statement_index):
        index.add(part)
        nodes += order
    index.order = dict(zip(nodes, range(len(nodes))))
    return index


def _statement_index(statement: cst.CSTNode) -> tuple[SyntaxIndex, list[cst.CSTNode]]:
    part = SyntaxIndex()
    part.run(statement)  # type: ignore[arg-type]
    return part, list(part.order)


@fact(syntax_index)
def tree_order(ctx: FileContext) -> dict[cst.CSTNode, int]:
    """Every node of the file -> its pre-order index (nested scopes included)."""
    return syntax_index(ctx).order


@fact(tree_order)
def preorder_nodes(ctx: FileContext) -> list[cst.CSTNode]:
    """Every node of the file, pre-order (``astutil.all_nodes``)."""
    return list(tree_order(ctx))
