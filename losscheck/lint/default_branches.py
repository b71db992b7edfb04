"""Which branches of a loss run when Keras calls it: its extra parameters keep their defaults.

Keras calls a loss as ``fn(y_true, y_pred)``, so ``def loss(self, y_true, y_pred, reduce="mean")``
always runs with ``reduce == "mean"``. A value assigned in a branch that the defaults rule out
(``if reduce == "max": ...``) never reaches the return, and a value assigned in the branch they
select always does. The return classifier (``return_verdicts.py``) uses this to read

    if reduce == "mean":
        mse = K.mean(mse)      # taken: every call from Keras reduces over the batch
    elif reduce == "max":
        mse = K.max(mse)

as the batch mean it is, where joining every branch would leave it undecided.

Only tests that the defaults settle are used: ``p == literal``, ``p != literal``, ``p is None``,
``p is not None``, ``p`` and ``not p``, for a parameter with a literal default (a string, a
number, ``None``, ``True`` or ``False``) that the body never rebinds. Anything else keeps the
branch.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losscheck.lint.astutil import (
    all_nodes,
    float_value,
    int_value,
    simple_string_value,
)
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.syntax_index import preorder_nodes

_UNSET = object()


def default_values(fn: cst.FunctionDef, passed: set[str]) -> dict[str, object]:
    """The literal defaults of ``fn``'s parameters, less ``passed`` (the ones Keras fills)."""
    out: dict[str, object] = {}
    for param in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params):
        if param.default is None or param.name.value in passed:
            continue
        value = _literal(param.default)
        if value is not _UNSET:
            out[param.name.value] = value
    return out


def _literal(expr: cst.BaseExpression) -> object:
    # read without ``ast.literal_eval``, whose closures are garbage for the cycle collector
    try:
        if type(expr) is cst.SimpleString:
            return simple_string_value(expr)
        if type(expr) is cst.Integer:
            return int_value(expr)
        if type(expr) is cst.Float:
            return float_value(expr)
    except (ValueError, SyntaxError):
        return _UNSET
    if type(expr) is cst.Name and expr.value in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[expr.value]
    return _UNSET


def decided(test: cst.BaseExpression, defaults: dict[str, object]) -> bool | None:
    """The value of an ``if`` test when every parameter in it has its default; None if unknown."""
    if type(test) is cst.Name:
        return bool(defaults[test.value]) if test.value in defaults else None
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = decided(test.expression, defaults)
        return None if inner is None else not inner
    if type(test) is not cst.Comparison or len(test.comparisons) != 1 or type(test.left) is not cst.Name:
        return None
    name = test.left.value
    if name not in defaults:
        return None
    target = test.comparisons[0]
    value = _literal(target.comparator)
    if value is _UNSET:
        return None
    operator = type(target.operator)
    if operator is cst.Equal:
        return defaults[name] == value
    if operator is cst.NotEqual:
        return defaults[name] != value
    if operator is cst.Is and value is None:
        return defaults[name] is None
    if operator is cst.IsNot and value is None:
        return defaults[name] is not None
    return None


def _enclosing(statement: cst.CSTNode, parents: dict[cst.CSTNode, cst.CSTNode],
               stop: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, cst.CSTNode]]:
    """(ancestor, its child on the way) from ``statement`` up to ``stop``, which is not included
    (nor anything above it)."""
    child, node = statement, parents.get(statement)
    while node is not None and node is not stop:
        yield node, child
        child, node = node, parents.get(node)


def runs_under_defaults(statement: cst.CSTNode, parents: dict[cst.CSTNode, cst.CSTNode],
                        defaults: dict[str, object], stop: cst.CSTNode) -> bool:
    """False when some ``if`` around ``statement`` (up to ``stop``) is decided by the defaults
    against the branch that holds it."""
    for node, child in _enclosing(statement, parents, stop):
        if type(node) is cst.If:
            verdict = decided(node.test, defaults)
            if verdict is not None and (child is node.body) != verdict:
                return False
    return True


def surely_runs(statement: cst.CSTNode, parents: dict[cst.CSTNode, cst.CSTNode],
                defaults: dict[str, object], body: cst.CSTNode) -> bool:
    """``statement`` runs whenever the function body reaches its place: between it and ``body``
    there are only blocks and ``if`` branches that the defaults select (no loop, ``try`` or
    ``with``, no undecided test)."""
    top = statement
    for node, child in _enclosing(statement, parents, body):
        kind = type(node)
        if kind is cst.If:
            if decided(node.test, defaults) is not (child is node.body):
                return False
        elif kind not in (cst.SimpleStatementLine, cst.IndentedBlock, cst.Else):
            return False
        top = node
    return parents.get(top) is body


def passed_elsewhere(ctx: FileContext, fn: cst.FunctionDef) -> set[str]:
    """The parameters of ``fn`` that some call in the file passes (``_error(t, p, reduce="none")``,
    ``self.loss(t, p, "max")``): there the default is not what runs."""
    names = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    passed: set[str] = set()
    for call in _calls_by_name(ctx).get(fn.name.value, ()):
        positional = [a for a in call.args if a.keyword is None]
        if any(a.star for a in call.args):
            return set(names) | {p.name.value for p in fn.params.kwonly_params}  # *args/**kwargs: anything
        passed.update(names[:len(positional)])
        passed.update(a.keyword.value for a in call.args if a.keyword is not None)
    return passed


@fact(preorder_nodes)
def _calls_by_name(ctx: FileContext) -> dict[str, list[cst.Call]]:
    """The file's calls by the name they call: ``f(...)`` and ``x.f(...)`` both under ``f``.
    From the finder's list of nodes: the scope index would be a second walk of the file (the
    language server re-lints an edited module in well under 100 ms, this is a few of them)."""
    out: dict[str, list[cst.Call]] = {}
    for call in all_nodes(ctx):
        if type(call) is not cst.Call:
            continue
        func = call.func
        called = func.value if type(func) is cst.Name else func.attr.value if type(func) is cst.Attribute else None
        if called is not None:
            out.setdefault(called, []).append(call)
    return out
