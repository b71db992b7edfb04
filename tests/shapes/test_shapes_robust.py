"""The interpreter never crashes: random, often ill-typed calls of every modelled op.

Shape inference runs inside other rules too (the axis rules ask it where the batch is), so
an exception in a handler would break them. Hypothesis builds loss functions out of random
nesting of the modelled ops with arguments of the wrong kinds (strings for axes, lists for
depths, missing arguments, unknown keywords) and checks that inference finishes and every
problem it reports is a plain message.
"""

from __future__ import annotations

import textwrap

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.context import FileContext
from losscheck.shapes.ops import TABLE

PREFIX = {
    "tensorflow": "tf.",
    "keras.ops": "ops.",
    "tf.keras.backend": "K.",
    "numpy": "np.",
    "keras.losses": "keras.losses.",
    "tf.keras.losses": "tf.keras.losses.",
}
CALLEES = sorted(PREFIX[fam] + name for fam, name in TABLE if fam in PREFIX)
KEYWORDS = ["axis", "keepdims", "perm", "depth", "shape", "reduction", "transpose_b", "batch_dims", "from_logits", "x"]

leaves = st.sampled_from(
    ["y_true", "y_pred", "0", "1", "-1", "2", "3.5", "None", "...", "[0, 1]", "(1, 2)", "'none'", "True", "[]", "()"]
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    call = st.builds(
        lambda f, args, kws: f"{f}({', '.join(args + [f'{k}={v}' for k, v in kws])})",
        st.integers(0, len(CALLEES) - 1).map(CALLEES.__getitem__),  # (sampled_from would repr 400 names)
        st.lists(children, max_size=4),
        st.lists(st.tuples(st.sampled_from(KEYWORDS), children), max_size=2, unique_by=lambda kv: kv[0]),
    )
    index = st.builds(
        lambda e, i: f"({e})[{i}]",
        children,
        st.sampled_from([":", "0", "-1", "..., 0", ":, None", "1:3", "::-1", ":, :, :, :, :", "None, ...", "y_true"]),
    )
    binop = st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(["+", "-", "*", "/", "@", ">"]), children)
    listed = st.builds(lambda items: "[" + ", ".join(items) + "]", st.lists(children, max_size=3))
    attr = st.builds(lambda e, i: f"({e}).shape[{i}]", children, st.sampled_from(["0", "-1", "1:"]))
    return st.one_of(call, index, binop, listed, attr)


expressions = st.recursive(leaves, _extend, max_leaves=12)
shape_texts = st.lists(st.sampled_from(["batch_size", "3", "1", "H", "None", "2"]), max_size=4).map(
    lambda dims: "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions, min_size=1, max_size=4), shape_texts, shape_texts)
def test_interpreter_never_crashes(exprs, yt, yp):
    body = "\n".join(f"    v{i} = {e}" for i, e in enumerate(exprs))
    source = textwrap.dedent(
        """\
        import numpy as np
        import tensorflow as tf
        import keras
        from keras import ops
        from tensorflow.keras import backend as K

        """
    ) + f"def loss(y_true, y_pred):\n    # y_true shape: {yt}\n    # y_pred shape: {yp}\n{body}\n    return v0\n"
    ctx = FileContext("t.py", source, cst.parse_module(source))
    (fn,) = [f for f in ctx.functions if f.name == "loss"]
    facts = ctx.shapes(fn)
    for note in facts.problems + facts.gaps:
        assert isinstance(note.message, str) and note.message
        ctx.position(note.node)  # every note points at a node of this file
