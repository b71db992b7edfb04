"""Parsing long operator chains flat: ``a + b - c + ...`` (thousands of terms) is given to libcst
with each chain operator replaced by a comparison operator the file never uses (a flat
``Comparison``, linear to parse), and the exact left-nested ``BinaryOperation`` tree is rebuilt from
it; the result must print back to the very same text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

# Comparison operators that can stand in for a chain's operators; the first one the file never
# contains is used, so every occurrence in the parsed tree is known to be a stand-in.
_MARKERS = ("<", ">", "<=", ">=", "==", "!=")


def unused_marker(source: str) -> str | None:
    for marker in _MARKERS:
        if marker not in source:
            return marker
    return None


def flat_text(source: str, flat: list[tuple[int, str]], marker: str, shift: int = 0,
              lo: int = 0, hi: int | None = None) -> tuple[str, list[str]]:
    """``source`` with the chain operators whose offset (minus ``shift``) is in ``[lo, hi)``
    replaced by ``marker``; returns the text and the replaced operators in order."""
    hi = len(source) if hi is None else hi
    parts: list[str] = []
    replaced: list[str] = []
    last = 0
    for offset, op in flat:
        at = offset - shift
        if not lo <= at < hi:
            continue
        parts.append(source[last:at])
        parts.append(marker)
        replaced.append(op)
        last = at + len(op)
    parts.append(source[last:])
    return "".join(parts), replaced


def parse(source: str, flat: list[tuple[int, str]]) -> "cst.Module":
    """Parse ``source`` with libcst; chains listed in ``flat`` (offsets into ``source``) are parsed
    flat and rebuilt. Raises libcst's ParserSyntaxError, or ValueError if the rebuilt tree does
    not print back to ``source``."""
    from losscheck.lint.parsing import parse_module

    marker = unused_marker(source) if flat else None
    if marker is None:
        return parse_module(source)
    text, ops = flat_text(source, flat, marker)
    module = parse_module(text)
    rebuilt = unflatten(module, marker, ops)
    if rebuilt.code != source:
        raise ValueError("the rebuilt operator chains do not print back to the source")
    return rebuilt


_OPERATORS: dict[str, str] = {
    "+": "Add", "-": "Subtract", "*": "Multiply", "/": "Divide", "//": "FloorDivide", "%": "Modulo",
    "@": "MatrixMultiply", "<<": "LeftShift", ">>": "RightShift", "&": "BitAnd", "|": "BitOr", "^": "BitXor",
}
_MARKER_NODES = {"<": "LessThan", ">": "GreaterThan", "<=": "LessThanEqual", ">=": "GreaterThanEqual",
                 "==": "Equal", "!=": "NotEqual"}


def unflatten(module: "cst.Module", marker: str, ops: list[str]) -> "cst.Module":
    """Turn the stand-in comparisons back into the operator chains they replaced."""
    import libcst as cst

    from losscheck.lint.astutil import children

    marker_type = getattr(cst, _MARKER_NODES[marker])
    # pre-order: parents before children, and the stand-in operators in source order
    order: list[cst.CSTNode] = []
    parent: dict[int, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        order.append(node)
        kids = children(node)
        for kid in kids:
            parent[id(kid)] = node
        stack.extend(reversed(kids))
    found = [node for node in order if type(node) is marker_type]
    if len(found) != len(ops):
        raise ValueError("the stand-in operators do not match the chains")
    op_of = {id(node): op for node, op in zip(found, ops)}
    # every node on a path from the module to a stand-in must be rebuilt, deepest first
    touched: set[int] = set()
    for node in found:
        current: cst.CSTNode | None = node
        while current is not None and id(current) not in touched:
            touched.add(id(current))
            current = parent.get(id(current))
    new: dict[int, cst.CSTNode] = {}
    for node in reversed(order):
        if id(node) not in touched:
            continue
        rebuilt = _with_children(node, new)
        if type(rebuilt) is cst.Comparison:
            rebuilt = _chains(rebuilt, op_of, marker_type)
        new[id(node)] = rebuilt
    return new[id(module)]  # type: ignore[return-value]


def _with_children(node: "cst.CSTNode", new: dict[int, "cst.CSTNode"]) -> "cst.CSTNode":
    import dataclasses

    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if id(value) in new:
            changes[f.name] = new[id(value)]
        elif isinstance(value, (list, tuple)) and any(id(item) in new for item in value):
            changes[f.name] = type(value)(new.get(id(item), item) for item in value)
    return node.with_changes(**changes) if changes else node


def _chains(node: "cst.Comparison", op_of: dict[int, str], marker_type: type) -> "cst.BaseExpression":
    import libcst as cst

    groups: list[cst.BaseExpression] = [node.left]
    real: list[cst.BaseCompOp] = []
    # the stand-in operator nodes were rebuilt (with_children): match them by position in the
    # comparison, through the original list kept in op_of by the untouched operator objects
    for target in node.comparisons:
        operator = target.operator
        op = op_of.get(id(operator)) if type(operator) is marker_type else None
        if op is None:
            real.append(operator)
            groups.append(target.comparator)
            continue
        cls = getattr(cst, _OPERATORS[op])
        groups[-1] = cst.BinaryOperation(
            left=groups[-1],
            operator=cls(whitespace_before=operator.whitespace_before, whitespace_after=operator.whitespace_after),
            right=target.comparator,
        )
    if not real:
        return groups[0].with_changes(lpar=node.lpar, rpar=node.rpar)
    targets = [cst.ComparisonTarget(operator=op, comparator=group) for op, group in zip(real, groups[1:])]
    return node.with_changes(left=groups[0], comparisons=targets)
