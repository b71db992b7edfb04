"""The values a training step differentiates: what ``optimizer.minimize(loss)`` and
``tape.gradient(loss, variables)`` receive, and everything they are computed from.

A custom training loop (TensorFlow 1 graphs with ``minimize``, TensorFlow 2 with a
``GradientTape``) computes its loss in the training function itself, not in a function that
Keras calls. That code is loss code too: NumPy there takes the loss out of the graph just as it
does in a compiled loss. This fact gives, for each such call, the expressions the differentiated
value is assigned from in the same function (a backward slice over its assignments, any order,
through names only); rules look for mistakes inside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from losscheck.lint.astutil import get_arg
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.scope_index import scope_index

_MAX_SLICE = 200  # definitions followed back from one call


@dataclass(frozen=True)
class Differentiated:
    """A value that a training step differentiates (``minimize``, ``tape.gradient``)."""

    call: cst.Call  # the minimize()/gradient() call
    method: str  # "minimize" | "gradient"
    target: str  # the differentiated expression, as written
    values: tuple[cst.BaseExpression, ...]  # the target and what it is assigned from, transitively


@fact(scope_index)
def differentiated(ctx: FileContext) -> tuple[Differentiated, ...]:
    index = scope_index(ctx)
    found: list[Differentiated] = []
    for call in index.calls:
        func = call.func
        if type(func) is not cst.Attribute or func.attr.value not in ("minimize", "gradient"):
            continue
        method = func.attr.value
        if method == "gradient" and len(call.args) < 2:
            continue  # `tape.gradient(target, sources)`; not a one-argument `x.gradient(...)`
        if ctx.imports.qualname(func) is not None:
            continue  # a module's function (`np.gradient`, `scipy.optimize.minimize`), not a tape's or an optimizer's
        target = get_arg(call, "loss" if method == "minimize" else "target", 0)
        where = index.where.get(call)
        if target is None or where is None:
            continue
        values = _slice(target, where[0])
        found.append(Differentiated(call, method, ctx.code_for(target), values))
    return tuple(found)


def _slice(target: cst.BaseExpression, scope: object) -> tuple[cst.BaseExpression, ...]:
    values: list[cst.BaseExpression] = [target]
    seen: set[str] = set()
    queue = _names(target)
    while queue and len(values) < _MAX_SLICE:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        current = scope
        while current is not None and name not in current.defs:  # type: ignore[attr-defined]
            current = current.parent  # type: ignore[attr-defined]
        if current is None:
            continue
        for definition in current.defs[name]:  # type: ignore[attr-defined]
            if definition.value is not None:
                values.append(definition.value)
                queue.extend(_names(definition.value))
    return tuple(values)


def _names(expr: cst.CSTNode) -> list[str]:
    out: list[str] = []
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if type(node) is cst.Name:
            out.append(node.value)
        elif type(node) in (cst.Lambda, cst.FunctionDef):
            continue
        elif type(node) is cst.Attribute:
            stack.append(node.value)  # `self.x.y`: the base name only
        else:
            stack.extend(node.children)
    return out
