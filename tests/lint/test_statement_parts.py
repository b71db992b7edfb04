"""Whole-file facts put together from one part per top-level statement are what one walk of the
whole module gives, from the command line and in the language server, where the parts of the
statements an edit did not touch are reused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import libcst as cst
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint import incremental_parse
from losscheck.lint.context import FileContext
from losscheck.lint.imports import ImportMap, _Collector
from losscheck.lint.scope_index import _STAND_IN, ScopeIndex, _statement_index, scope_index
from losscheck.lint.summaries import _index

ROOT = Path(__file__).resolve().parents[2]
MODULE = (ROOT / "benchmarks" / "data" / "loss_module_300.py").read_text(encoding="utf-8")
LINES = MODULE.splitlines(keepends=True)

# Statements that bind, import, define, call and nest, inserted before a top-level statement.
INSERTS = [
    "import numpy as np\n",
    "from keras import ops as K\n",
    "K = 3\n",
    "def helper(y_true, y_pred, w=2):\n    z = y_pred * w\n    if w:\n        z = z + 1\n    return z\n",
    "class Head:\n    def call(self, x):\n        self.p = x\n        return lambda t: t + x\n    if True:\n        def extra(self):\n            pass\n",
    "for i in range(3):\n    total = i\n",
    "loss = helper(1, 2)\n",
    "def outer(a):\n    def inner(b):\n        return a + b\n    return inner\n",
    "scaled = lambda y_true, y_pred: (y_pred - y_true) * K\n",
    "if K:\n    def picked(y_true, y_pred):\n        return y_pred\nelse:\n    picked = None\n",
]


def _events(index: ScopeIndex, scope: object) -> list[tuple[str, int]]:
    """What ``scope`` holds, in the order its numbers give: its definitions and the uses (names,
    calls) that sit in it, by identity."""
    found: list[tuple[int, str, int]] = []
    for name, defs in scope.defs.items():  # type: ignore[attr-defined]
        found += [(d.order, "def:" + name, id(d.value)) for d in defs]
    found += [(order, "use", id(node)) for node, (where, order, _l) in index.where.items() if where is scope]
    return [(kind, ident) for _order, kind, ident in sorted(found)]


def assert_same_scope_index(got: ScopeIndex, module: cst.Module) -> None:
    whole = _statement_index(module)  # one walk of the whole module: the module is the stand-in
    wanted_root, got_root = whole.scopes[_STAND_IN], got.scopes[module]
    assert set(got.scopes) - {module} == set(whole.scopes) - {_STAND_IN}
    # the module scope: the very numbers of one walk
    assert {n: [(d.order, id(d.value), d.conditional, id(d.target)) for d in ds] for n, ds in got_root.defs.items()} == \
        {n: [(d.order, id(d.value), d.conditional, id(d.target)) for d in ds] for n, ds in wanted_root.defs.items()}
    assert got_root.functions == wanted_root.functions and got_root.classes == wanted_root.classes
    assert [(ns, id(v), how, id(t)) for ns, v, how, t in got_root.flows] == \
        [(ns, id(v), how, id(t)) for ns, v, how, t in wanted_root.flows]
    # every other scope: the same parent, and its contents in the same order
    for node, scope in whole.scopes.items():
        if node is _STAND_IN:
            continue
        mine = got.scopes[node]
        parent = scope.parent.node if scope.parent is not None else None
        assert (mine.parent.node if mine.parent is not None else None) is (module if parent is _STAND_IN else parent)
        assert mine.params == scope.params and mine.returns == scope.returns
        assert [(ns, id(v), how, id(t)) for ns, v, how, t in mine.flows] == \
            [(ns, id(v), how, id(t)) for ns, v, how, t in scope.flows]
        assert _events(got, mine) == _events(whole, scope)
    assert _events(got, got_root) == _events(whole, wanted_root)
    # name binding: every scope of Python's chain, with the same bindings and reads
    assert set(got.by_node) - {module} == set(whole.by_node) - {_STAND_IN}
    for node, scope in whole.by_node.items():
        mine = got.by_node[module if node is _STAND_IN else node]
        assert mine.kind == scope.kind
        outer = scope.enclosing.node if scope.enclosing is not None else None
        assert (mine.enclosing.node if mine.enclosing is not None else None) is (module if outer is _STAND_IN else outer)
        assert {n: [id(b.node) for b in bs] for n, bs in mine.assignments.items()} == \
            {n: [id(b.node) for b in bs] for n, bs in scope.assignments.items()}
        assert [id(r) for r in mine.reads] == [id(r) for r in scope.reads]
        assert [id(c.node) for c in mine.children] == [id(c.node) for c in scope.children]
    assert got.calls == whole.calls and got.calls_by_name == whole.calls_by_name
    assert got.classes == whole.classes and got.self_assigns == whole.self_assigns
    assert set(got.where) == set(whole.where)


def assert_same_facts(source: str, module: cst.Module) -> None:
    ctx = FileContext("doc.py", source, module)
    assert_same_scope_index(scope_index(ctx), module)
    assert ImportMap.from_module(module).names == ImportMap.from_collector(_Collector.of(module)).names
    helpers = _index(ctx)
    parent, by_scope = _helpers_by_walk(module)
    assert helpers.parent == parent and helpers.by_scope == by_scope


def _helpers_by_walk(module: cst.Module) -> tuple[dict, dict]:
    """Every def with the function around it, and the plain ones (not methods: the nearest def or
    class around them is not a class) by enclosing function and name, from a walk of the module."""
    parent: dict = {}
    by_scope: dict = {}

    def visit(node: cst.CSTNode, around: list[cst.CSTNode]) -> None:
        for child in node.children:
            if type(child) is cst.FunctionDef:
                function = next((n for n in reversed(around) if type(n) is cst.FunctionDef), None)
                parent[child] = function
                if not (around and type(around[-1]) is cst.ClassDef):
                    by_scope.setdefault((function, child.name.value), []).append(child)
            visit(child, [*around, child] if type(child) in (cst.FunctionDef, cst.ClassDef) else around)

    visit(module, [])
    return parent, by_scope


@contextmanager
def remembered() -> Iterator[incremental_parse.DocumentTrees]:
    trees = incremental_parse.remember_documents()
    try:
        yield trees
    finally:
        incremental_parse.stop_remembering()


def edited(inserts: list[tuple[int, int]]) -> str:
    lines = list(LINES)
    starts = [i for i, line in enumerate(LINES) if line.startswith(("def ", "class ", "@"))]
    for at, which in sorted(inserts, reverse=True):
        where = starts[at % len(starts)]
        lines[where:where] = [INSERTS[which], "\n", "\n"]
    return "".join(lines)


def test_from_the_command_line() -> None:
    source = edited([(1, 0), (3, 3), (5, 4), (7, 7)])
    assert_same_facts(source, cst.parse_module(source))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 20), st.integers(0, len(INSERTS) - 1)), max_size=3),
                min_size=1, max_size=4))
def test_in_the_server_after_edits(versions: list[list[tuple[int, int]]]) -> None:
    """One document edited again and again: most statements' parts are reused, and the module
    scope they are re-attached to is the new version's."""
    with remembered() as trees:
        for inserts in versions:
            source = edited(inserts)
            module = trees.parse("doc.py", source)
            assert_same_facts(source, module)
