"""What loss code reads from outside: the file's name bindings (``binder.bind_module``) as a fact,
and, per loss function, every name read in it with the bindings it may refer to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import libcst as cst

from losscheck.lint.binder import Bindings, Scope, bind_module
from losscheck.lint.facts import fact
from losscheck.lint.syntax_index import tree_order


@dataclass(frozen=True)
class OuterRead:
    """A name read inside a loss function (or a scope nested in it)."""

    node: cst.Name
    scope: Scope  # the scope the read is in
    referents: tuple  # the bindings it may refer to (empty: a builtin, or defined nowhere)


@fact(tree_order)
def bindings(ctx) -> Bindings:
    """The name bindings loss code can see (``binder.bind_module``)."""
    loss_nodes = [fn.node for fn in ctx.functions]
    order: Mapping[cst.CSTNode, int] | None = tree_order(ctx)
    if order is not None and ctx.module not in order:
        order = None
    return bind_module(ctx.module, loss_nodes, order, ctx.source)


@fact()
def _loss_reads(ctx) -> dict[cst.CSTNode, list["OuterRead"]]:
    return {}  # memo: loss function -> the names it reads


def loss_scope(ctx, fn_node: cst.FunctionDef | cst.Lambda) -> Scope | None:
    """The scope of the function's own body (None if the binder did not reach it)."""
    return bindings(ctx).scope_of(fn_node)


def within(scope, ancestor) -> bool:
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.parent
    return False


def reads_in(ctx, fn_node: cst.FunctionDef | cst.Lambda) -> list[OuterRead]:
    """Every name read in the function's body and in the scopes nested in it (in no set order).

    Annotations are left out: they are evaluated when the ``def`` runs (or never, with
    ``from __future__ import annotations``), not when Keras calls the loss.
    """
    cache = _loss_reads(ctx)
    reads = cache.get(fn_node)
    if reads is None:
        own = loss_scope(ctx, fn_node)
        reads = []
        if own is not None:
            for scope in own.walk():
                reads.extend(OuterRead(name, scope, scope.lookup(name.value)) for name in scope.reads)
        cache[fn_node] = reads
    return reads


def in_source_order(ctx, reads: Iterable[OuterRead]) -> list[OuterRead]:
    def key(read: OuterRead) -> tuple[int, int]:
        where = ctx.position(read.node)
        return (where.start.line, where.start.column)

    return sorted(reads, key=key)
