"""Reaching definitions (lint/scopes.py), the one query every value-flow fact asks: which
assignments of a name can reach a use, and when they form one straight line (a plain assignment,
then augmented ones) that a rule may read as one value."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from losscheck.lint.context import FileContext
from losscheck.lint.scope_index import scope_index, values_reaching
from losscheck.lint.scopes import reaching_definitions


def _last_use(source: str, name: str = "x") -> tuple[FileContext, cst.Name]:
    """The context and the last read of ``name`` in ``source`` (a use in `return`, say)."""
    source = textwrap.dedent(source)
    ctx = FileContext(path="t.py", source=source, module=cst.parse_module(source))
    index = scope_index(ctx)
    uses = [n for n in index.where if type(n) is cst.Name and n.value == name]
    return ctx, max(uses, key=lambda n: index.where[n][1])


def values(source: str, name: str = "x") -> list[str] | None:
    ctx, use = _last_use(source, name)
    found = values_reaching(ctx, use)
    return None if found is None else [f"{op or '='} {ctx.code_for(v)}" for op, v in found]


def reaching(source: str, name: str = "x") -> list[str]:
    ctx, use = _last_use(source, name)
    scope, order, context = scope_index(ctx).where[use]
    found = reaching_definitions(name, scope, order, context)
    return [] if found is None else [ctx.code_for(d.value) if d.value is not None else "?" for d in found[0]]


@pytest.mark.parametrize("body,expected", [
    ("x = a\nx *= m\nreturn x", ["= a", "MultiplyAssign m"]),
    ("x = a\nx = f(x)\nreturn x", ["= f(x)"]),  # the last plain assignment wins
    ("x = a\nif c:\n    x = b\nreturn x", None),  # a branch: not one value
    ("x = a\nwith g():\n    x *= m\nreturn x", ["= a", "MultiplyAssign m"]),  # a with block runs
    ("for t in ts:\n    x = a[t]\n    x *= m\n    y = x", ["= a[t]", "MultiplyAssign m"]),  # one iteration
    ("x = a\ntry:\n    x *= m\nexcept E:\n    pass\nreturn x", None),  # the try body may stop early
    ("return x", None),  # a parameter
    ("x, z = pair\nreturn x", None),  # unpacking
    ("x = a\nxs = [x for x in b]\nreturn x", None),  # the comprehension's own x may be meant
])
def test_values_in_a_straight_line(body: str, expected: list[str] | None) -> None:
    name = "x"
    source = "def f(x0, a, b, c, m, ts, pair, g, E):\n" + textwrap.indent(body, "    ") + "\n"
    if body == "return x":
        source = source.replace("x0", "x")
    assert values(source, name) == expected


def test_a_value_reads_the_definitions_before_its_statement() -> None:
    source = "def f(x0):\n    x = g(x0)\n    x = h(x)\n    return x\n"
    ctx, _ = _last_use(source)
    index = scope_index(ctx)
    function = ctx.module.body[0]
    read_in_h = next(n for n in index.by_node[function].reads if n.value == "x")  # the `x` of `h(x)`
    scope, order, context = index.where[read_in_h]
    defs, _ = reaching_definitions("x", scope, order, context)
    assert [ctx.code_for(d.value) for d in defs] == ["g(x0)"]


@pytest.mark.parametrize("body,expected", [
    ("if c:\n    x = a\nelse:\n    x = b\nreturn x", ["a", "b"]),
    ("x = a\nif c:\n    x = b\nreturn x", ["a", "b"]),
    ("if c:\n    x = a\nelse:\n    return x", []),  # the other branch's assignment never reaches it
    ("x = a\nwhile c:\n    y = x\n    x = b", ["a", "b"]),  # the next iteration sees `x = b`
    ("x = a if c else b\nreturn x", ["a if c else b"]),
])
def test_which_definitions_may_reach(body: str, expected: list[str]) -> None:
    source = "def f(a, b, c):\n" + textwrap.indent(body, "    ") + "\n"
    assert reaching(source) == expected


@pytest.mark.parametrize("body,expected", [
    # the loop's next turn brings `x = d` back, unless `x = b` in the loop runs before the read again
    ("x = a\nwhile c:\n    y = g(x)\n    x = d", ["a", "d"]),
    ("x = a\nwhile c:\n    x = b\n    y = g(x)\n    x = d", ["b"]),
    ("x = a\nwhile c:\n    if c:\n        x = b\n    y = g(x)\n    x = d", ["a", "b", "d"]),
    # a plain assignment in an outer loop does not stop an inner loop's turn
    ("for i in c:\n    x = b\n    while c:\n        y = g(x)\n        x = d", ["b", "d"]),
])
def test_a_loop_brings_back_what_runs_after_the_read(body: str, expected: list[str]) -> None:
    source = "def f(a, b, c, d):\n" + textwrap.indent(body, "    ") + "\n"
    ctx = FileContext(path="t.py", source=source, module=cst.parse_module(source))
    index = scope_index(ctx)
    read = next(n for n in index.by_node[ctx.module.body[0]].reads if n.value == "x")  # the `x` of `g(x)`
    found = reaching_definitions("x", *index.where[read])
    assert found is not None and [ctx.code_for(d.value) for d in found[0]] == expected
