"""What loss code reads from outside: per loss function, every name read in it with the bindings
it may refer to (the scope index's name resolution, ``scopes.Scope.lookup``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from losscheck.lint.facts import fact
from losscheck.lint.scope_index import scope_index
from losscheck.lint.scopes import Scope, within

__all__ = ["OuterRead", "in_source_order", "loss_scope", "reads_in", "within"]


@dataclass(frozen=True)
class OuterRead:
    """A name read inside a loss function (or a scope nested in it)."""

    node: cst.Name
    scope: Scope  # the scope the read is in
    referents: tuple  # the bindings it may refer to (empty: a builtin, or defined nowhere)


@fact()
def _loss_reads(ctx) -> dict[cst.CSTNode, list[OuterRead]]:
    return {}  # memo: loss function -> the names it reads


def loss_scope(ctx, fn_node: cst.FunctionDef | cst.Lambda) -> Scope | None:
    """The scope of the function's own body."""
    return scope_index(ctx).scope_of(fn_node)


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
