"""The core rules never crash, whatever loss-shaped code they are given (generated programs)."""

from __future__ import annotations

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.registry import builtin_rules

CORE = {"LCK101", "LCK102", "LCK103", "LCK104", "LCK105", "LCK201", "LCK302"}
RULES = [r for r in builtin_rules() if r.code in CORE]

NAMES = ["y_true", "y_pred", "a", "b", "mask", "loss", "w", "i"]
CALLEES = [
    "tf.reduce_mean", "tf.reduce_sum", "K.mean", "K.sum", "ops.mean", "np.mean", "np.average", "tf.cast",
    "tf.where", "tf.nn.softmax", "tf.argmax", "tf.concat", "tf.gather", "tf.one_hot", "tf.boolean_mask",
    "tf.math.divide_no_nan", "tf.maximum", "tf.round", "tf.stack", "tf.unstack", "tf.shape", "len", "zip",
    "tf.keras.losses.BinaryCrossentropy()", "helper", "K.binary_crossentropy", "functools.partial",
]
AXES = ["", ", axis=0", ", axis=-1", ", 0", ", axis=[1, 2]", ", axis=None", ", axis=i", ", reduction='none'"]


def expressions(depth: int = 0) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(NAMES),
        st.sampled_from(["0", "1", "0.5", "-1", "None", "'name'", "1e-7"]),
        st.builds(
            lambda n, k: f"{n}[{k}]", st.sampled_from(NAMES), st.sampled_from(["0", "i", "..., 0", ":, 1", "'x'", "0, ..."])
        ),
    )
    if depth >= 3:
        return leaves
    sub = expressions(depth + 1)
    return st.one_of(
        leaves,
        st.builds(lambda f, x, ax: f"{f}({x}{ax})", st.sampled_from(CALLEES), sub, st.sampled_from(AXES)),
        st.builds(lambda x, op, y: f"({x} {op} {y})", sub, st.sampled_from(["+", "-", "*", "/", ">", "!=", "**"]), sub),
        st.builds(lambda f, x, y: f"{f}({x}, {y})", st.sampled_from(CALLEES), sub, sub),
        st.builds(lambda x: f"[{x} for a in y_true]", sub),
        st.builds(lambda x: f"lambda a, b: {x}", sub),
    )


def statements() -> st.SearchStrategy[str]:
    expr = expressions()
    return st.one_of(
        st.builds(lambda n, x: f"{n} = {x}", st.sampled_from(NAMES), expr),
        st.builds(lambda n, x: f"{n} += {x}", st.sampled_from(NAMES), expr),
        st.builds(lambda x: f"a, b = {x}", expr),
        st.builds(
            lambda x, y: f"for i in {x}:\n        loss = {y}",
            st.sampled_from(["range(3)", "y_true", "range(batch_size)", "zip(y_true, y_pred)"]),
            expr,
        ),
        st.builds(lambda x, y: f"if {x}:\n        return {y}", expr, expr),
        st.builds(lambda x: f"return {x}", expr),
    )


HEADERS = [
    "def my_loss(y_true, y_pred):",
    "def helper(y_true, y_pred, smooth=1.0):",
    "def f(labels, logits):",
    "class L(keras.losses.Loss):\n  def call(self, y_true, y_pred):",
]
IMPORTS = (
    "import functools\nimport numpy as np\nimport tensorflow as tf\nimport keras\nfrom keras import ops\n"
    "import keras.backend as K\n"
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from(HEADERS),
    body=st.lists(statements(), min_size=1, max_size=6),
    compile_line=st.sampled_from(
        ["", "model.compile(loss=my_loss, metrics=[helper])", "model.compile(loss={'a': f, 'b': lambda t, p: t})"]
    ),
)
def test_generated_losses_never_crash(header: str, body: list[str], compile_line: str) -> None:
    lines = [IMPORTS, header]
    for statement in body:
        lines.append("    " + statement)
    source = "\n".join(lines) + "\n" + compile_line + "\n"
    try:
        cst.parse_module(source)
    except cst.ParserSyntaxError:
        return  # generated something that is not Python: nothing to lint
    findings = lint_source(source, "gen.py", rules=RULES)
    for finding in findings:
        assert finding.code in CORE, (finding, source)  # LCK997 would mean a rule crashed
        assert 1 <= finding.line <= finding.end_line
