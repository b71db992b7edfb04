"""Syntax helpers for reading model code: the names a statement assigns, subscript keys, and
list/tuple/dict literals.

Pure functions of libcst nodes (no facts, no context) except ``full_range`` and ``short_code``, which
only read positions and source from the file's context.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losscheck.lint.astutil import assign_targets, simple_string_value


def assigned_names_of_statement(stmt: cst.CSTNode) -> Iterator[str]:
    if type(stmt) is cst.SimpleStatementLine:
        for small in stmt.body:
            if type(small) is cst.Assign:
                for target in small.targets:
                    yield from assign_targets(target.target)
            elif type(small) in (cst.AnnAssign, cst.AugAssign) and small.value is not None:
                yield from assign_targets(small.target)
    elif type(stmt) in (cst.FunctionDef, cst.ClassDef):
        yield stmt.name.value


def subscript_string(target: cst.Subscript) -> str | None:
    if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    key = target.slice[0].slice.value
    if type(key) is cst.SimpleString and isinstance(value := simple_string_value(key), str):
        return value
    return None


def dict_keys(node: cst.Dict) -> tuple[str, ...] | None:
    names: list[str] = []
    for element in node.elements:
        if type(element) is not cst.DictElement:
            return None  # **spread
        key = element.key
        if type(key) is cst.SimpleString:
            value = simple_string_value(key)
            if not isinstance(value, str):
                return None
            names.append(value)
        else:
            return None
    return tuple(names)


def literal_elements(node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The elements of a list/tuple literal (None if it has ``*spread`` or is not one)."""
    if type(node) not in (cst.List, cst.Tuple):
        return None
    values = []
    for element in node.elements:
        if type(element) is cst.StarredElement:
            return None
        values.append(element.value)
    return values


def dict_items(node: cst.BaseExpression) -> list[tuple[cst.BaseExpression, cst.BaseExpression]] | None:
    if type(node) is not cst.Dict:
        return None
    items = []
    for element in node.elements:
        if type(element) is not cst.DictElement:
            return None
        items.append((element.key, element.value))
    return items


def is_target_like(expr: cst.BaseExpression) -> bool:
    """An expression that can hold a whole target array (a name, ``data.y``, ``ys[0]``, a call).

    Number and nested-list literals are *data* (``fit(X, [0, 1, 1])`` is one target), so they
    never count as several targets.
    """
    return type(expr) in (cst.Name, cst.Attribute, cst.Subscript, cst.Call)


# -- what loss code reads from outside ----------------------------------------------------------


def full_range(ctx, node: cst.CSTNode):
    """The node's source range including its own parentheses (libcst's excludes ``(`` ``)``)."""
    from libcst.metadata.position_provider import CodeRange

    where = ctx.position(node)
    lpar = getattr(node, "lpar", None)
    rpar = getattr(node, "rpar", None)
    if lpar and rpar:
        return CodeRange(ctx.position(lpar[0]).start, ctx.position(rpar[-1]).end)
    return where


def short_code(ctx, node: cst.CSTNode, limit: int = 40) -> str:
    """The node's source on one line, cut to ``limit`` characters, for messages."""
    text = " ".join(ctx.code_for(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CALL_WORDS = ("compile(", "fit(", "evaluate(", "train_on_batch(", "test_on_batch(")


def mentions_model_calls(source: str) -> bool:
    """Cheap text check: can the file hold a ``compile``/``fit``-style call at all?"""
    return any(word in source for word in _CALL_WORDS)
