"""Whole-file facts put together from one part per top-level statement.

Several facts are a walk of the whole module whose result is a simple sum of what each top-level
statement holds: the import bindings, how often each name is bound, the ``def``s by enclosing
scope. In the language server an edit re-parses only the statements it touched
(``incremental_parse.py``), and the others are the very same node objects as in the last
version; so each part is remembered by its statement's identity, and only the touched
statements are walked again. From the command line nothing is remembered, and the parts are
simply computed in order, which gives what one walk of the module gives.

A part must depend on its statement alone (nothing outside it, nothing mutable), and its
combination must not depend on how the module is cut: every fact built here says how it is
combined, in order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import libcst as cst

_T = TypeVar("_T")

# kind -> id(statement) -> (the statement, its part), for the last module each kind was built for;
# the statement is kept so that its id cannot be taken by another object while it is remembered
_REMEMBERED: dict[str, dict[int, tuple[cst.CSTNode, Any]]] = {}


def parts(kind: str, module: cst.Module, compute: Callable[[cst.CSTNode], _T]) -> list[_T]:
    """``compute(statement)`` for each top-level statement of ``module``, in order; in the
    language server, remembered for the statements the next version still holds."""
    from losscheck.lint.incremental_parse import documents

    if documents() is None:
        return [compute(statement) for statement in module.body]
    last = _REMEMBERED.get(kind, {})
    kept: dict[int, tuple[cst.CSTNode, Any]] = {}
    found: list[_T] = []
    for statement in module.body:
        entry = last.get(id(statement))
        if entry is None or entry[0] is not statement:
            entry = (statement, compute(statement))
        kept[id(statement)] = entry
        found.append(entry[1])
    _REMEMBERED[kind] = kept
    return found


# (kind, id(node), key) -> (the node, its value): facts of one node's own syntax, such as a
# function's data flow, which an unchanged statement's functions keep from one version to the next
_BY_NODE: OrderedDict[tuple[str, int, Hashable], tuple[cst.CSTNode, Any]] = OrderedDict()
_MAX_BY_NODE = 4096


def of_node(kind: str, node: cst.CSTNode, key: Hashable, compute: Callable[[], _T]) -> _T:
    """``compute()``, a fact of ``node``'s own syntax (and of ``key``) alone; in the language
    server remembered while ``node`` is in the documents, from the command line computed."""
    from losscheck.lint.incremental_parse import documents

    if documents() is None:
        return compute()
    memo_key = (kind, id(node), key)
    entry = _BY_NODE.get(memo_key)
    if entry is not None and entry[0] is node:
        _BY_NODE.move_to_end(memo_key)
        return entry[1]  # type: ignore[no-any-return]
    value = compute()
    _BY_NODE[memo_key] = (node, value)
    if len(_BY_NODE) > _MAX_BY_NODE:
        _BY_NODE.popitem(last=False)
    return value


def forget() -> None:
    """Drop every remembered part (the server stops remembering documents)."""
    _REMEMBERED.clear()
    _BY_NODE.clear()
