"""Small syntax helpers shared by the rules: argument lookup, literals, bounded walks."""

from __future__ import annotations

import re
from collections.abc import Iterator

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
_FORMATTING_SET = frozenset(_FORMATTING)


def _kind(cls: type) -> int:
    kind = _KIND.get(cls)
    if kind is None:
        # libcst's bases are ABCs, whose first issubclass per class walks their subclasses
        # (~5 ms over the node classes of a file, paid by every single-file run); nothing is
        # registered with them, so the classes a node class inherits from are the answer
        mro = cls.__mro__
        if issubclass(cls, (list, tuple)):
            kind = 2
        elif cst.CSTNode in mro and _FORMATTING_SET.isdisjoint(mro):
            kind = 1
        else:
            kind = 0
        _KIND[cls] = kind
    return kind


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The syntactic children of ``node`` in field order (no whitespace, brackets or commas)."""
    return iter(children(node))


def _compute_children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    # once per node of a file: the field names and kinds are read from their per-class tables
    # directly, _child_fields/_kind only on a class's first time
    fields = _FIELDS.get(type(node)) or _child_fields(type(node))
    kinds = _KIND
    out: list[cst.CSTNode] = []
    for name in fields:
        value = getattr(node, name)
        kind = kinds.get(type(value))
        if kind is None:
            kind = _kind(type(value))
        if kind == 1:
            out.append(value)
        elif kind == 2:
            for item in value:
                if (kinds.get(type(item)) or _kind(type(item))) == 1:
                    out.append(item)
    return tuple(out)


# The finder, the scope index, the data flow and several rules each walk the same loss code, so a
# node's children are computed once per file: keyed by id() for a cheap int hash, with the node
# kept in the entry so an id is never reused while it is cached. The engine calls forget() after
# each file (or piece of a large file); the size bound is a backstop for other callers.
_CHILDREN: dict[int, tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = {}
_MEMO_LIMIT = 400_000
# The language server lints a new version of the same document on every edit, and the top-level
# statements an edit did not touch are the very same nodes (incremental_parse.py): the memos of
# the last file linted are kept (``forget(keep=True)``) and an entry moves back into the current
# memo when its node is met again. Entries of nodes the next lint does not meet are dropped with
# it, so at most two files' memos are alive.
_KEPT_CHILDREN: dict[int, tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = {}


def children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    """The syntactic children of ``node`` in field order, as a tuple (memoised per file)."""
    entry = _CHILDREN.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    return _new_children(node)


def _new_children(node: cst.CSTNode) -> tuple[cst.CSTNode, ...]:
    entry = _KEPT_CHILDREN.pop(id(node), None) if _KEPT_CHILDREN else None
    kids = entry[1] if entry is not None and entry[0] is node else _compute_children(node)
    if len(_CHILDREN) > _MEMO_LIMIT:
        _CHILDREN.clear()
    _CHILDREN[id(node)] = (node, kids)
    return kids


def forget(*, keep: bool = False) -> None:
    """Drop the per-file memos (children, read names): the engine calls it after each file.
    ``keep``: hold this file's memos until the next file is done, for a new version of the same
    document whose unchanged statements are the same nodes (the language server)."""
    global _CHILDREN, _KEPT_CHILDREN, _READ_NAMES, _KEPT_READ_NAMES
    if keep:
        _KEPT_CHILDREN, _CHILDREN = _CHILDREN, {}
        _KEPT_READ_NAMES, _READ_NAMES = _READ_NAMES, {}
    else:
        _CHILDREN.clear()
        _KEPT_CHILDREN.clear()
        _READ_NAMES.clear()
        _KEPT_READ_NAMES.clear()


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


# The values of literals, read without ``ast.literal_eval`` (libcst's ``evaluated_value``): it
# builds four closures per call that refer to each other, garbage that only the cycle collector
# frees, and a generated 100 KB loss module reads ~6,000 numbers.
_PLAIN_STRING = re.compile(r"""(?s)[rRuU]?('''|"""+'"""'+r"""|'|")(?P<body>[^\\]*)\1\Z""")


def int_value(node: cst.Integer) -> int:
    """An integer literal's value (``0x1F``, ``1_000`` included)."""
    return int(node.value, 0)


def float_value(node: cst.Float) -> float:
    return float(node.value.replace("_", ""))


def simple_string_value(node: cst.SimpleString) -> str | bytes:
    """A string literal's value: its text between the quotes when it has no escape and no
    ``b``/``f`` prefix, else what Python makes of it."""
    match = _PLAIN_STRING.match(node.value)
    if match is not None:
        return match.group("body")
    return node.evaluated_value


def literal_int(expr: cst.BaseExpression | None) -> int | None:
    """``3`` or ``-1`` (also parenthesised), else None."""
    if type(expr) is cst.Integer:
        return int_value(expr)
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
        return int_value(expr) == 0
    if type(expr) is cst.Float:
        return float_value(expr) == 0.0
    return False


def is_number(expr: cst.BaseExpression | None) -> bool:
    if type(expr) in (cst.Integer, cst.Float):
        return True
    return type(expr) is cst.UnaryOperation and is_number(expr.expression)


def string_value(expr: cst.BaseExpression | None) -> str | None:
    if type(expr) is cst.SimpleString:
        value = simple_string_value(expr)
        return value if isinstance(value, str) else None
    if type(expr) is cst.ConcatenatedString:
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def docstring(fn: cst.FunctionDef | cst.ClassDef) -> str | None:
    """The docstring, as libcst's ``get_docstring(clean=False)`` gives it (which reads it with
    ``ast.literal_eval``)."""
    first: cst.CSTNode = fn.body
    while type(first) in (cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine):
        if not first.body:  # type: ignore[attr-defined]
            return None
        first = first.body[0]  # type: ignore[attr-defined]
    return string_value(first.value) if type(first) is cst.Expr else None


def walk(node: cst.CSTNode, *, into_nested: bool = False) -> Iterator[cst.CSTNode]:
    """Pre-order descendants of ``node`` (itself included); nested defs/lambdas/classes skipped
    unless ``into_nested`` (the root itself is always entered)."""
    stack: list[cst.CSTNode] = [node]
    pop, extend, memo = stack.pop, stack.extend, _CHILDREN
    while stack:
        current = pop()
        yield current
        if current is not node and not into_nested and type(current) in _NESTED_SCOPE_TYPES:
            continue
        entry = memo.get(id(current))  # children(current), inline: once per node of every walk
        extend(reversed(entry[1] if entry is not None and entry[0] is current else _new_children(current)))


def names_in(expr: cst.CSTNode) -> set[str]:
    """Every plain name read in ``expr`` (attribute heads included, attribute members and keywords not)."""
    return {name.value for name in read_names(expr)}


_READ_NAMES: dict[int, tuple[cst.CSTNode, list[cst.Name]]] = {}
_KEPT_READ_NAMES: dict[int, tuple[cst.CSTNode, list[cst.Name]]] = {}  # see _KEPT_CHILDREN


def read_names(expr: cst.CSTNode) -> list[cst.Name]:
    """The Name nodes in ``expr`` that are variable reads (not attribute members or keywords).

    Rules ask this of the same sub-expressions again and again (taint, masks, gates), so results
    are memoised by node identity (the node is kept with its entry, so an id is never reused
    while cached); the memo is dropped when it grows large."""
    entry = _READ_NAMES.get(id(expr))
    if entry is not None and entry[0] is expr:
        return entry[1]
    entry = _KEPT_READ_NAMES.pop(id(expr), None) if _KEPT_READ_NAMES else None
    result = entry[1] if entry is not None and entry[0] is expr else _read_names(expr)
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
    return [name.value for name in assign_target_nodes(target)]


def assign_target_nodes(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The ``Name`` nodes an assignment target binds, in source order."""
    kind = type(target)
    if kind is cst.Name:
        yield target  # type: ignore[misc]
    elif kind is cst.Tuple or kind is cst.List:
        for element in target.elements:  # type: ignore[attr-defined]
            yield from assign_target_nodes(element.value)
    elif kind is cst.StarredElement:
        yield from assign_target_nodes(target.value)  # type: ignore[attr-defined]


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


_HANDLERS: dict[tuple[type, str, type], str | None] = {}


def handler_name(owner: type, prefix: str, node_type: type) -> str | None:
    """``owner``'s method for a node type (``visit_Call``), or None, looked up once per type:
    the walks that dispatch on node types (most types have no handler) call this per node."""
    key = (owner, prefix, node_type)
    try:
        return _HANDLERS[key]
    except KeyError:
        name = prefix + node_type.__name__
        _HANDLERS[key] = found = name if hasattr(owner, name) else None
        return found


_LEAVE = object()  # traverse(): the node below this on the stack is left, not entered
# What ``enter`` may return besides True/False: leave this node too, whatever its type; with its
# children (LEAVE) or without (LEAVE_CHILDLESS). A walk that leaves a few nodes it cannot name by
# type (the scope index: the nodes that pushed something on its stacks) calls leave() for those
# only, not for each of a file's nodes.
LEAVE = "leave"
LEAVE_CHILDLESS = "leave-childless"


def traverse(root: cst.CSTNode, enter, leave=None, leave_types: frozenset[type] | None = None) -> None:
    """Pre-order walk calling ``enter(node)`` (return False to skip the children) and, after the
    children, ``leave(node)``: for every node, or only for the node types in ``leave_types`` when
    it is given and for the nodes whose ``enter`` returned LEAVE or LEAVE_CHILDLESS. Iterative
    (deep ``a + b + c + ...`` chains do not hit the recursion limit) and far cheaper than
    ``node.visit`` (see ``iter_children``)."""
    # Every full walk of a file (syntax index, scope index, imports) goes through here, once per
    # node: the stack holds bare nodes, a node to leave is pushed after a marker (no tuple per
    # node), and the children memo is read inline.
    memo = _CHILDREN
    stack: list[object] = [root]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        if node is _LEAVE:
            leave(pop())
            continue
        descend = enter(node)
        if leave is not None and (leave_types is None or type(node) in leave_types
                                  or descend is LEAVE or descend is LEAVE_CHILDLESS):
            push(node)
            push(_LEAVE)
        if descend is not False and descend is not LEAVE_CHILDLESS:
            entry = memo.get(id(node))
            extend(reversed(entry[1] if entry is not None and entry[0] is node else _new_children(node)))


def all_nodes(ctx) -> list[cst.CSTNode]:  # ctx: FileContext (not imported: no cycle)
    """Every syntax node of the file, pre-order, nested scopes included (computed once per file,
    by the loss-function finder's walk)."""
    from losscheck.lint.syntax_index import preorder_nodes

    return preorder_nodes(ctx)
