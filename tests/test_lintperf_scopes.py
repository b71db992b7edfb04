"""Speed work must not change findings: the pruned scope analysis (models.loss_scopes) must see
exactly what libcst's ScopeProvider over the whole module sees from inside loss code."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint import models
from losscheck.lint.context import FileContext
from losscheck.lint.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
RULES = load_registry(plugins=False).rules


def _context(source: str) -> FileContext:
    return FileContext(path="t.py", source=source, module=cst.parse_module(source))


def _reads(ctx: FileContext) -> list[tuple]:
    """What the rules read from the scopes, per loss function, in comparable form."""
    ctx.__dict__.pop("_losscheck_loss_reads", None)
    ctx.__dict__.pop("_losscheck_all_scopes", None)
    out = []
    for index, fn in enumerate(ctx.functions):
        own = models.loss_scope(ctx, fn.node)
        for read in models.reads_in(ctx, fn.node):
            referents = sorted(
                (
                    a.name,
                    type(getattr(a, "node", None)).__name__,
                    type(a.scope).__name__,
                    models.within(a.scope, own),
                    # the node itself where it lies in the original tree (a Name, a Param, ...)
                    id(a.node) if isinstance(getattr(a, "node", None), (cst.Name, cst.Param)) else 0,
                )
                for a in read.referents
            )
            out.append((index, id(read.node), type(read.scope).__name__, tuple(referents)))
    return sorted(out)


def _pruned_equals_full(source: str) -> None:
    ctx = _context(source)
    pruned = _reads(ctx)
    ctx.__dict__["_losscheck_loss_scopes"] = ctx.scopes  # libcst over the whole module, same tree
    assert pruned == _reads(ctx)


def _examples() -> list[str]:
    out = []
    for rule in RULES:
        out.extend(case.code for case in rule.invalid_examples())
        out.extend(v for v in getattr(rule, "VALID", []) if isinstance(v, str))
    out.extend(p.read_text() for p in sorted((REPO / "examples").rglob("*.py")))
    out.extend(p.read_text() for p in sorted((REPO / "benchmarks" / "data").glob("*.py")))
    return out


@pytest.mark.parametrize("source", _examples())
def test_pruned_scopes_match_the_whole_module_on_examples(source):
    import textwrap

    _pruned_equals_full(textwrap.dedent(source))


PIECES = [
    "def helper_{i}(a):\n    {n} = a\n    return a\n",
    "def setter_{i}():\n    global {n}\n    {n} = 1\n",
    "def outer_{i}():\n    {n} = 1\n    def inner():\n        nonlocal {n}\n        {n} = 2\n    return inner\n",
    "class C{i}:\n    {n} = 1\n    def m(self):\n        return {n}\n",
    "{n} = 2\n",
    "def make_{i}({n}):\n    def other(a):\n        {m} = a\n        return a\n"
    "    def loss(y_true, y_pred):\n        return y_pred * {n} + {m}\n    return loss\n",
    "def loss_{i}(y_true, y_pred):\n    return y_true - {n} * [{m} for {m} in y_pred][0]\n",
    "class L{i}(keras.losses.Loss):\n    {n} = 3\n    def call(self, y_true, y_pred):\n        return {n} * y_pred\n"
    "    def other(self):\n        {m} = 1\n        return {m}\n",
    "model.compile(loss=lambda y_true, y_pred: y_pred * {n})\n",
    "if {n}:\n    def loss_if_{i}(y_true, y_pred):\n        return {m}\n",
]
NAMES = ["alpha", "beta", "gamma", "model"]


@st.composite
def modules(draw):
    parts = ["import keras\n"]
    for i in range(draw(st.integers(1, 7))):
        template = draw(st.sampled_from(PIECES))
        parts.append(template.format(i=i, n=draw(st.sampled_from(NAMES)), m=draw(st.sampled_from(NAMES))))
    return "".join(parts)


@settings(max_examples=60, deadline=None)
@given(source=modules())
def test_pruned_scopes_match_the_whole_module(source):
    _pruned_equals_full(source)


def test_pruning_happens_and_keeps_loss_nodes():
    source = (
        "import keras\n"
        "def helper(a):\n    b = a\n    return b\n"
        "class Model:\n    def fit(self):\n        return 1\n"
        "def loss(y_true, y_pred):\n    return y_pred - y_true\n"
    )
    ctx = _context(source)
    pruned = models._pruned_module(ctx)
    assert pruned is not ctx.module
    assert pruned.code.count("pass") == 2  # helper's body and the class body
    assert pruned.body[3] is ctx.module.body[3]  # the loss function: the very same node
    fn = ctx.functions[0]
    assert models.loss_scope(ctx, fn.node) is not None


def test_global_statement_keeps_its_function_whole():
    source = "def setter():\n    global k\n    k = 1\ndef loss(y_true, y_pred):\n    return y_pred * k\n"
    ctx = _context(source)
    assert models._pruned_module(ctx).body[0] is ctx.module.body[0]
