"""A fast pre-order walk over libcst trees, for the facts this pack collects once per file.

libcst's visitor machinery calls back for every node, whitespace and punctuation included:
about 1 s per 7,000 lines here. The facts we need live in statements and expressions, so this
walk reads only the dataclass fields that can hold them (about 3x faster), in source order.
"""

from __future__ import annotations

from typing import Callable, Iterator

import libcst as cst

# Fields that hold whitespace, punctuation or operators, never code we look at.
_SKIP_FIELD = (
    "whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators",
    "header", "footer", "newline", "equal", "colon", "dot", "operator", "asynchronous", "star", "arrow",
    "walrus", "between", "first_line", "last_line", "trailing",
)
_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis, cst.Pass, cst.Break, cst.Continue)


def _fields(node_type: type) -> tuple[str, ...]:
    names = _FIELDS.get(node_type)
    if names is None:
        names = tuple(f for f in node_type.__dataclass_fields__ if not any(s in f for s in _SKIP_FIELD))
        _FIELDS[node_type] = names
    return names


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if not isinstance(value, _LEAVES):
                yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode) and not isinstance(item, _LEAVES):
                    yield item


def walk(root: cst.CSTNode, enter: Callable[[cst.CSTNode], bool] | None = None) -> Iterator[cst.CSTNode]:
    """Every node under ``root`` (not ``root`` itself), in source order. ``enter(node)`` False:
    the node is yielded but not descended into (e.g. nested functions)."""
    stack = list(reversed(list(children(root))))
    while stack:
        node = stack.pop()
        yield node
        if enter is None or enter(node):
            stack.extend(reversed(list(children(node))))
