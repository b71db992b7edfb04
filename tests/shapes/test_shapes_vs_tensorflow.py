"""Shape inference against real TensorFlow, keras.ops (TF backend) and NumPy on random concrete shapes and ops.

Hypothesis draws the shapes of ``y_true``/``y_pred`` and one op with random arguments, writes
a loss function as source text (shapes declared in comments, as users write them), and runs it
through BOTH the abstract interpreter and real TF (eager, tiny tensors) or NumPy. They must
agree: the same result shape, or both reject (the interpreter reports a certain failure and
TF/NumPy raises). Slices past the end are not failures at run time (they are cut short): the
interpreter must give TF's shape and flag the slice as a silent problem.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.context import FileContext

tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")
keras = pytest.importorskip("keras")
ops = keras.ops

pytestmark = pytest.mark.keras

dims = st.integers(min_value=1, max_value=4)


def shapes(min_rank: int = 0, max_rank: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(dims, min_size=min_rank, max_size=max_rank).map(tuple)


def facts_for(source: str):
    module = cst.parse_module(source)
    ctx = FileContext("t.py", source, module)
    (fn,) = [f for f in ctx.functions if f.name == "loss"]
    return ctx.shapes(fn)


def _broadcastable_partner(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Often a shape that broadcasts with ``shape``, sometimes a random one."""
    if draw(st.booleans()):
        return draw(shapes())
    rank = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - rank :] if rank else ()
    return tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in tail)


def _axis(draw, rank: int, *, extra: int = 0) -> int:
    return draw(st.integers(-rank - 1 - extra, rank + extra))


@st.composite
def index_expr(draw, rank: int) -> str:
    items = []
    used_ellipsis = False
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "ellipsis"]))
        if kind == "int":
            items.append(str(draw(st.integers(-5, 5))))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-5, 5)))
            stop = draw(st.one_of(st.none(), st.integers(-5, 6)))
            step = draw(st.sampled_from([None, None, 1, 2, -1]))
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            if step is not None:
                text += f":{step}"
            items.append(text)
        elif kind == "none":
            items.append("None")
        elif not used_ellipsis:
            used_ellipsis = True
            items.append("...")
    return ", ".join(items) if items else ":"


@st.composite
def programs(draw) -> tuple[str, tuple[int, ...], tuple[int, ...], str]:
    """(expression, y_true shape, y_pred shape, namespace "tf", "np" or "ops" (keras.ops))."""
    ns = draw(st.sampled_from(["tf", "np", "ops"]))
    op = draw(
        st.sampled_from(
            [
                "binop", "call_binop", "where", "reduce", "argmax", "index", "expand_dims", "squeeze",
                "concat", "stack", "transpose", "matmul", "one_hot", "reshape", "gather",
            ]
        )
    )
    a = draw(shapes())
    b = draw(shapes())
    if op == "binop":
        b = _broadcastable_partner(draw, a)
        sym = draw(st.sampled_from(["+", "-", "*", "/", ">"]))
        return f"y_true {sym} y_pred", a, b, ns
    if op == "call_binop":
        b = _broadcastable_partner(draw, a)
        name = draw(st.sampled_from(["add", "subtract", "multiply", "maximum", "minimum"]))
        return f"{ns}.{name}(y_true, y_pred)", a, b, ns
    if op == "where":
        b = _broadcastable_partner(draw, a)
        return f"{ns}.where(y_true > 0, y_true, y_pred)", a, b, ns
    if op == "reduce":
        name = draw(st.sampled_from(["sum", "mean", "max", "min", "prod"]))
        fn = f"tf.reduce_{name}" if ns == "tf" else f"{ns}.{name}"
        keep = draw(st.booleans())
        if draw(st.integers(0, 4)) == 0 or not a:
            axis = "None"
        elif draw(st.booleans()):
            axis = str(_axis(draw, len(a)))
        else:
            picked = draw(st.lists(st.integers(-len(a), len(a) - 1), min_size=1, max_size=len(a)))
            norm = {p % len(a) for p in picked}
            if len(norm) != len(picked):
                picked = sorted(norm)
            # NumPy wants a tuple of axes (a list raises): exercise both
            axis = ("[{}]" if ns != "np" or draw(st.integers(0, 4)) == 0 else "({},)").format(", ".join(map(str, picked)))
        return f"{fn}(y_true, axis={axis}, keepdims={keep})", a, b, ns
    if op == "argmax":
        a = draw(shapes(min_rank=1))
        axis = draw(st.integers(-len(a) - 1, len(a)))
        return f"{ns}.argmax(y_true, axis={axis})", a, b, ns
    if op == "index":
        return f"y_true[{draw(index_expr(len(a)))}]", a, b, ns
    if op == "expand_dims":
        return f"{ns}.expand_dims(y_true, {_axis(draw, len(a), extra=1)})", a, b, ns
    if op == "squeeze":
        if draw(st.booleans()):
            return f"{ns}.squeeze(y_true)", a, b, ns
        if not a:
            return f"{ns}.squeeze(y_true)", a, b, ns
        a = tuple(1 if draw(st.booleans()) else d for d in a)
        axis = draw(st.integers(-len(a), len(a) - 1))
        return f"{ns}.squeeze(y_true, axis={axis})", a, b, ns
    if op in ("concat", "stack"):
        a = draw(shapes(min_rank=1))
        b = a if draw(st.booleans()) else draw(shapes(min_rank=1))
        if draw(st.booleans()) and len(b) == len(a):
            i = draw(st.integers(0, len(a) - 1))
            b = tuple(draw(dims) if j == i else d for j, d in enumerate(a))
        axis = _axis(draw, len(a))
        if op == "concat":
            fn = "tf.concat" if ns == "tf" else f"{ns}.concatenate"
        else:
            fn = f"{ns}.stack"
        return f"{fn}([y_true, y_pred], axis={axis})", a, b, ns
    if op == "transpose":
        perm = list(range(len(a)))
        perm = draw(st.permutations(perm)) if perm else perm
        if draw(st.integers(0, 5)) == 0:
            perm = perm[:-1] if perm else [0]
        kw = "perm" if ns == "tf" else "axes"
        perm = tuple(perm) if ns == "ops" else list(perm)
        if draw(st.integers(0, 4)) == 0:
            return f"{ns}.transpose(y_true)", a, b, ns
        return f"{ns}.transpose(y_true, {kw}={perm!r})", a, b, ns
    if op == "matmul":
        a = draw(shapes(min_rank=2))
        b = draw(shapes(min_rank=2))
        if draw(st.booleans()):
            b = b[:-2] + (a[-1], b[-1])
        return f"{ns}.matmul(y_true, y_pred)", a, b, ns
    if op == "one_hot":
        depth = draw(st.integers(1, 4))
        if ns == "ops":
            return f"ops.one_hot(ops.cast(y_true, 'int32'), {depth})", a, b, ns
        return f"tf.one_hot(tf.cast(y_true, tf.int32), {depth})", a, b, "tf"
    if op == "reshape":
        a = draw(shapes(min_rank=1))
        target = list(draw(shapes(min_rank=1, max_rank=3)))
        if draw(st.booleans()):
            target[draw(st.integers(0, len(target) - 1))] = -1
        return f"{ns}.reshape(y_true, {target})", a, b, ns
    # gather / take
    a = draw(shapes(min_rank=1))
    axis = draw(st.integers(-len(a), len(a) - 1))
    indices = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    fn = "tf.gather" if ns == "tf" else f"{ns}.take"
    return f"{fn}(y_true, {indices}, axis={axis})", a, b, ns


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _source(expr: str, a: tuple[int, ...], b: tuple[int, ...]) -> str:
    return textwrap.dedent(
        f"""\
        import numpy as np
        import tensorflow as tf
        from keras import ops

        def loss(y_true, y_pred):
            # y_true shape: {_shape_text(a)}
            # y_pred shape: {_shape_text(b)}
            return {expr}
        """
    )


def _run_real(expr: str, a: tuple[int, ...], b: tuple[int, ...], ns: str) -> tuple[int, ...] | None:
    """The result shape TF/NumPy gives, or None when it raises."""
    rng = np.random.default_rng(0)
    ya = rng.integers(0, 3, size=a).astype("float32")
    yb = rng.integers(0, 3, size=b).astype("float32")
    if ns in ("tf", "ops"):
        ya, yb = tf.constant(ya), tf.constant(yb)
    try:
        with np.errstate(all="ignore"):
            out = eval(expr, {"tf": tf, "np": np, "ops": ops, "y_true": ya, "y_pred": yb})
    except Exception:  # noqa: BLE001 - TF and NumPy raise many exception types for shape errors
        return None
    return tuple(int(d) for d in np.shape(out))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_interpreter_agrees_with_tensorflow_and_numpy(program):
    expr, a, b, ns = program
    source = _source(expr, a, b)
    real = _run_real(expr, a, b, ns)
    facts = facts_for(source)
    errors = [p for p in facts.problems if p.kind == "error"]
    ((_, value),) = facts.returns
    inferred = getattr(value, "shape", None)
    if real is None:
        assert errors, f"TF/NumPy rejects but the interpreter does not:\n{source}\ninferred {inferred}"
        return
    assert not errors, f"the interpreter rejects but TF/NumPy gives {real}:\n{source}\n{errors}"
    assert inferred is not None, f"the interpreter lost track:\n{source}\nreal {real}"
    assert inferred.dims == real, f"{source}\ninferred {inferred} real {real}"


@settings(max_examples=150, deadline=None)
@given(shapes(min_rank=1), st.data())
def test_slices_past_the_end_are_flagged_and_match_tensorflow(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(0, 6))
    stop = data.draw(st.integers(start, 7))
    index = ", ".join([":"] * axis + [f"{start}:{stop}"])
    expr = f"y_true[{index}]"
    source = _source(expr, shape, shape)
    real = _run_real(expr, shape, shape, "tf")
    facts = facts_for(source)
    ((_, value),) = facts.returns
    assert value.shape.dims == real
    past = stop > shape[axis] or start >= shape[axis]
    flagged = [p for p in facts.problems if p.kind == "silent" and "cut short" in p.message]
    assert bool(flagged) == past, (source, facts.problems)
