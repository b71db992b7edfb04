"""Small syntax helpers shared by the rules: argument lookup, literals, bounded walks."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

_NESTED_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
# The same, for ``type(node) in ...``: these node classes have no subclasses, and an exact type test
# is ~5x cheaper than isinstance on libcst's ABC-based classes (the walks below run it per node).
_NESTED_SCOPE_TYPES = frozenset(_NESTED_SCOPES)

# -- fast traversal ---------------------------------------------------------------------------
# libcst's `node.children` and `node.visit(visitor)` rebuild every node they pass (measured: about
# 3 s for keras/src/losses/losses.py when rules walked through `children`). Rules only need the
# syntax, never the whitespace, so we read the dataclass fields directly and skip formatting.

_FORMATTING = (
    cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Comment, cst.Newline,
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
    cst.RightCurlyBrace, cst.Comma, cst.Semicolon, cst.AssignEqual, cst.Colon, cst.Dot,
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        import dataclasses

        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not f.name.startswith("whitespace")
            and f.name not in {"lpar", "rpar", "lbracket", "rbracket", "leading_lines", "lines_after_decorators",
                               "header", "footer", "indent", "comma", "semicolon", "equal", "colon", "dot"}
        )
        _FIELDS[cls] = names
    return names


_KIND: dict[type, int] = {}  # type -> 0 skip, 1 syntax node, 2 sequence (isinstance on ABCs is slow)


def _kind(cls: type) -> int:
    kind = _KIND.get(cls)
    if kind is None:
        if issubclass(cls, (list, tuple)):
            kind = 2
        elif issubclass(cls, cst.CSTNode) and not issubclass(cls, _FORMATTING):
            kind = 1
        else:
            kind = 0
        _KIND[cls] = kind
    return kind


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The syntactic children of ``node`` in field order (no whitespace, brackets or commas)."""
    return iter(children(node))


def _compute_children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    out: list[cst.CSTNode] = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        kind = _kind(type(value))
        if kind == 1:
            out.append(value)
        elif kind == 2:
            out.extend(item for item in value if _kind(type(item)) == 1)
    return tuple(out)


# The finder, the binder, the data flow and several rules each walk the same loss code, so a
# node's children are computed once per file: keyed by id() for a cheap int hash, with the node
# kept in the entry so an id is never reused while it is cached. The engine calls forget() after
# each file (or piece of a large file); the size bound is a backstop for other callers.
_CHILDREN: dict[int, tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = {}
_MEMO_LIMIT = 400_000


def children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    """The syntactic children of ``node`` in field order, as a tuple (memoised per file)."""
    entry = _CHILDREN.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    kids = _compute_children(node)
    if len(_CHILDREN) > _MEMO_LIMIT:
        _CHILDREN.clear()
    _CHILDREN[id(node)] = (node, kids)
    return kids


def forget() -> None:
    """Drop the per-file memos (children, read names): the engine calls it after each file."""
    _CHILDREN.clear()
    _READ_NAMES.clear()


def get_arg(call: cst.Call, name: str | None, position: int | None = None) -> cst.BaseExpression | None:
    """The argument passed by keyword ``name`` or at ``position`` (positional only), else None."""
    if name is not None:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == name:
                return arg.value
    if position is not None:
        positional = [a for a in call.args if a.keyword is None]
        for index, arg in enumerate(positional):
            if arg.star:
                return None  # *args: cannot tell what sits at `position`
            if index == position:
                return arg.value
    return None


def literal_int(expr: cst.BaseExpression | None) -> int | None:
    """``3`` or ``-1`` (also parenthesised), else None."""
    if type(expr) is cst.Integer:
        return int(expr.evaluated_value)
    if type(expr) is cst.UnaryOperation and type(expr.operator) is cst.Minus:
        inner = literal_int(expr.expression)
        return -inner if inner is not None else None
    return None


def literal_ints(expr: cst.BaseExpression | None) -> tuple[int, ...] | None:
    """An int, or a list/tuple of ints, as a tuple; None if not all literal."""
    single = literal_int(expr)
    if single is not None:
        return (single,)
    if type(expr) in (cst.List, cst.Tuple):
        values: list[int] = []
        for element in expr.elements:
            if type(element) is not cst.Element:
                return None
            value = literal_int(element.value)
            if value is None:
                return None
            values.append(value)
        return tuple(values)
    return None


def is_none(expr: cst.BaseExpression | None) -> bool:
    return type(expr) is cst.Name and expr.value == "None"


def is_zero(expr: cst.BaseExpression | None) -> bool:
    if type(expr) is cst.Integer:
        return int(expr.evaluated_value) == 0
    if type(expr) is cst.Float:
        return float(expr.evaluated_value) == 0.0
    return False


def is_number(expr: cst.BaseExpression | None) -> bool:
    if type(expr) in (cst.Integer, cst.Float):
        return True
    return type(expr) is cst.UnaryOperation and is_number(expr.expression)


def string_value(expr: cst.BaseExpression | None) -> str | None:
    if type(expr) in (cst.SimpleString, cst.ConcatenatedString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def walk(node: cst.CSTNode, *, into_nested: bool = False) -> Iterator[cst.CSTNode]:
    """Pre-order descendants of ``node`` (itself included); nested defs/lambdas/classes skipped
    unless ``into_nested`` (the root itself is always entered)."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and not into_nested and type(current) in _NESTED_SCOPE_TYPES:
            continue
        stack.extend(reversed(children(current)))


def names_in(expr: cst.CSTNode) -> set[str]:
    """Every plain name read in ``expr`` (attribute heads included, attribute members and keywords not)."""
    return {name.value for name in read_names(expr)}


_READ_NAMES: dict[int, tuple[cst.CSTNode, list[cst.Name]]] = {}


def read_names(expr: cst.CSTNode) -> list[cst.Name]:
    """The Name nodes in ``expr`` that are variable reads (not attribute members or keywords).

    Rules ask this of the same sub-expressions again and again (taint, masks, gates), so results
    are memoised by node identity (the node is kept with its entry, so an id is never reused
    while cached); the memo is dropped when it grows large."""
    entry = _READ_NAMES.get(id(expr))
    if entry is not None and entry[0] is expr:
        return entry[1]
    result = _read_names(expr)
    if len(_READ_NAMES) > 100_000:
        _READ_NAMES.clear()
    _READ_NAMES[id(expr)] = (expr, result)
    return result


def _read_names(expr: cst.CSTNode) -> list[cst.Name]:
    skip: set[int] = set()
    out: list[cst.Name] = []
    for node in walk(expr):
        kind = type(node)
        if kind is cst.Attribute:
            skip.add(id(node.attr))
        elif kind is cst.Arg and node.keyword is not None:
            skip.add(id(node.keyword))
        elif kind is cst.Name and id(node) not in skip:
            out.append(node)
    return out


def own_nodes(fn: cst.FunctionDef | cst.Lambda) -> Iterator[cst.CSTNode]:
    """Nodes of ``fn``'s body, not of functions, lambdas or classes nested in it."""
    body = fn.body
    stack: list[cst.CSTNode] = [body]
    while stack:
        current = stack.pop()
        yield current
        if type(current) in _NESTED_SCOPE_TYPES:
            continue
        stack.extend(reversed(children(current)))


def assign_targets(target: cst.BaseExpression) -> list[str]:
    """Names bound by an assignment target (tuple unpacking and starred included)."""
    if type(target) is cst.Name:
        return [target.value]
    if type(target) in (cst.Tuple, cst.List):
        out: list[str] = []
        for element in target.elements:
            value = element.value
            if type(value) is cst.StarredElement:
                value = value.value
            out.extend(assign_targets(value))
        return out
    if type(target) is cst.StarredElement:
        return assign_targets(target.value)
    return []


def match_captures(match: cst.Match) -> list[str]:
    """The names a ``match`` statement's patterns capture (``case (a, b)``, ``case {"k": v, **rest}``,
    ``case [x, *others]``, ``case Point(x=px) as p``), in source order."""
    names: list[str] = []
    for case in match.cases:
        for node in walk(case.pattern):
            kind = type(node)
            if (kind is cst.MatchAs or kind is cst.MatchStar) and node.name is not None:
                names.append(node.name.value)
            elif kind is cst.MatchMapping and node.rest is not None:
                names.append(node.rest.value)
    return names


def traverse(root: cst.CSTNode, enter, leave=None) -> None:
    """Pre-order walk calling ``enter(node)`` (return False to skip the children) and, after the
    children, ``leave(node)``. Iterative (deep ``a + b + c + ...`` chains do not hit the recursion
    limit) and far cheaper than ``node.visit`` (see ``iter_children``)."""
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            leave(node)
            continue
        descend = enter(node)
        if leave is not None:
            stack.append((node, True))
        if descend is not False:
            stack.extend((child, False) for child in reversed(children(node)))


def all_nodes(ctx) -> list[cst.CSTNode]:  # ctx: FileContext (not imported: no cycle)
    """Every syntax node of the file, pre-order, nested scopes included (computed once per file,
    by the loss-function finder's walk)."""
    from losscheck.lint.syntax_index import preorder_nodes

    return preorder_nodes(ctx)
