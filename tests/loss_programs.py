"""Hypothesis strategies for loss-shaped Python programs, shared by the robustness and chunking tests.

``loss_programs()`` draws whole modules: imports, loss functions (y_true/y_pred and the usual
other parameter names, tf / keras.ops / keras.backend / NumPy calls, subscripts, lambdas,
comprehensions, decorators, async, walrus, match), Loss subclasses, factories and compile calls.
The text is built from fragments, so a drawn program may not parse: callers that need valid
Python check it first.
"""

from __future__ import annotations

from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# A grammar-ish strategy of loss-shaped Python
# --------------------------------------------------------------------------------------------
IMPORTS = [
    "import tensorflow as tf",
    "import keras",
    "from keras import ops",
    "import keras.backend as K",
    "from tensorflow.keras import backend as K",
    "import numpy as np",
    "from tensorflow import keras",
    "from keras import losses as L",
    "import tensorflow.keras.backend as KB",
    "from keras.ops import mean, sum as ksum",
    "from tensorflow.math import reduce_mean",
    "from keras.losses import Loss",
    "from . import helpers",
    "from .helpers import *",
]
TENSOR_NAMES = ["y_true", "y_pred", "mask", "w", "x", "probs", "err", "self.alpha", "num_classes"]
FUNCS = [
    "tf.reduce_mean", "tf.reduce_sum", "tf.math.reduce_max", "tf.reduce_min", "tf.nn.softmax",
    "tf.argmax", "tf.concat", "tf.gather", "tf.one_hot", "tf.where", "tf.cast", "tf.square",
    "tf.stack", "tf.expand_dims", "tf.squeeze", "tf.reshape", "tf.transpose", "tf.matmul",
    "tf.clip_by_value", "tf.math.log", "tf.boolean_mask", "tf.py_function", "tf.numpy_function",
    "tf.shape", "tf.size", "tf.math.divide_no_nan", "tf.keras.losses.binary_crossentropy",
    "ops.mean", "ops.sum", "ops.max", "ops.softmax", "ops.argmax", "ops.take", "ops.concatenate",
    "ops.where", "ops.cast", "ops.one_hot", "ops.log", "ops.clip", "ops.abs", "ops.square",
    "ops.maximum", "keras.ops.mean", "keras.ops.sum", "keras.losses.categorical_crossentropy",
    "keras.losses.binary_crossentropy", "keras.losses.BinaryCrossentropy()",
    "keras.losses.MeanSquaredError(reduction='none')", "L.mse", "K.mean", "K.sum",
    "K.binary_crossentropy", "K.categorical_crossentropy", "K.epsilon", "K.clip", "KB.mean",
    "np.mean", "np.average", "np.sum", "np.array", "np.asarray", "np.where", "mean", "ksum",
    "reduce_mean", "helpers.masked_mean", "len", "float", "int", "print", "range", "zip",
    "getattr", "super().call", "self.loss_fn", "loss_fn", "fn",
]
AXES = ["0", "-1", "1", "[1, 2]", "[1, 2, 3]", "(0, 1)", "None", "axis", "-2", "i", "[0]"]
SUBSCRIPTS = [
    "0", "i", "-1", ":, 0", ":, :1", "..., 0", "..., 1:3", "..., -1:", ":, 0:4", "'seg'",
    "\"cls\"", "None, :", ":, None", "::2", "..., ::-1", "tf.newaxis", "k", "0, 0", ":, i",
    "..., i:i + 2",
]
NUMBERS = ["0", "1", "2", "1.0", "0.5", "1e-7", "-1", "255", "0.0", "3j", "True", "None", "10**-7"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "@", "&", "|"]
COMPARES = [">", "<", "==", "!=", ">=", "is", "is not", "in"]


@st.composite
def expressions(draw, depth: int = 0) -> str:
    """A random expression over tensor-ish names; deeper levels favour leaves."""
    leaf = st.one_of(
        st.sampled_from(TENSOR_NAMES),
        st.sampled_from(NUMBERS),
        st.sampled_from(["'seg'", "\"cls\"", "f'{x}'", "b'raw'", "[]", "()", "{}", "..."]),
    )
    if depth >= 3:
        return draw(leaf)
    sub = expressions(depth=depth + 1)
    kind = draw(st.integers(0, 15))
    if kind <= 2:
        return draw(leaf)
    if kind == 3:  # a call, with positional args and maybe axis/keepdims/from_logits
        func = draw(st.sampled_from(FUNCS))
        args = draw(st.lists(sub, max_size=3))
        kwargs = []
        if draw(st.booleans()):
            kwargs.append(f"axis={draw(st.sampled_from(AXES))}")
        if draw(st.integers(0, 4)) == 0:
            kwargs.append(f"keepdims={draw(st.sampled_from(['True', 'False']))}")
        if draw(st.integers(0, 5)) == 0:
            kwargs.append("from_logits=True")
        if draw(st.integers(0, 8)) == 0:
            kwargs.append("**kw")
        if draw(st.integers(0, 8)) == 0:
            args.append("*xs")
        return f"{func}({', '.join(args + kwargs)})"
    if kind == 4:
        return f"{draw(sub)}[{draw(st.sampled_from(SUBSCRIPTS))}]"
    if kind == 5:
        return f"({draw(sub)} {draw(st.sampled_from(BINOPS))} {draw(sub)})"
    if kind == 6:
        return f"({draw(sub)} {draw(st.sampled_from(COMPARES))} {draw(sub)})"
    if kind == 7:
        params = draw(st.sampled_from(["y_true, y_pred", "yt, yp", "t, p=None", "*a, **k", ""]))
        return f"(lambda {params}: {draw(sub)})"
    if kind == 8:
        comp = draw(st.sampled_from(["[{e} for i in range(3)]", "{{k: {e} for k in ('a', 'b')}}",
                                     "({e} for y in y_true)", "{{{e} for j in x if j}}"]))
        return comp.format(e=draw(sub))
    if kind == 9:
        return f"(z := {draw(sub)})"
    if kind == 10:
        return f"({draw(sub)} if {draw(sub)} else {draw(sub)})"
    if kind == 11:
        return f"({draw(sub)}).{draw(st.sampled_from(['numpy()', 'shape', 'dtype', 'shape[-1]', 'T', 'ndim']))}"
    if kind == 12:
        return f"({draw(st.sampled_from(['-', 'not ', '~', '+']))}{draw(sub)})"
    if kind == 13:
        return f"[{', '.join(draw(st.lists(sub, max_size=3)))}]"
    if kind == 14:
        key = draw(st.sampled_from(['"seg"', '"cls"', "k"]))
        return "{" + key + ": " + draw(sub) + "}"
    return f"({draw(sub)})({draw(sub)})"  # calling an arbitrary expression


def indent(lines: list[str], by: int = 1) -> list[str]:
    return [("    " * by + line) if line else line for line in lines]


@st.composite
def statements(draw, depth: int = 0, in_async: bool = False) -> list[str]:
    """One statement (possibly compound) as a list of lines, relative indentation 0."""
    expr = expressions()
    target = st.sampled_from(["x", "mask", "w", "probs", "err", "y_true", "y_pred", "self.alpha", "x[0]",
                              "a, b", "(c, *d)"])
    kind = draw(st.integers(0, 17 if depth < 2 else 8))
    if kind <= 2:
        return [f"{draw(target)} = {draw(expr)}"]
    if kind == 3:
        return [f"return {draw(expr)}"]
    if kind == 4:
        return [f"{draw(st.sampled_from(['x', 'err', 'w']))} {draw(st.sampled_from(['+=', '*=', '/=', '-=']))} {draw(expr)}"]
    if kind == 5:
        annotation = draw(st.sampled_from(["tf.Tensor", 'Float[Tensor, "b h w 2"]', "int"]))
        return [f"x: {annotation} = {draw(expr)}"]
    if kind == 6:
        return [draw(expr)]
    if kind == 7:  # the comments are statements followed by `pass`, so a block never holds only a comment
        return [draw(st.sampled_from(["pass", "del x", "assert y_true is not None", "raise ValueError('bad')",
                                      "global num_classes", "# y_true shape: (batch_size, 64, 64, 2)",
                                      "# losscheck: output=seg", "x = 1  # noqa: LCK101",
                                      "y = y_pred  # losscheck: ignore[wrong-axis]"])), "pass"]
    if kind == 8 and in_async:
        return [f"x = await ({draw(expr)})"]
    if kind == 8:
        return [f"return {draw(expr)}, {draw(expr)}"]
    body = st.lists(statements(depth=depth + 1, in_async=in_async), min_size=1, max_size=3)

    def block() -> list[str]:
        return indent([line for stmt in draw(body) for line in stmt])

    if kind == 9:
        lines = [f"if {draw(expr)}:", *block()]
        if draw(st.booleans()):
            lines += ["else:", *block()]
        return lines
    if kind == 10:
        loop = draw(st.sampled_from(["for i in range(3):", "for k, v in y_true.items():", "for t in y_pred:",
                                     "while x:", "async for t in y_pred:" if in_async else "for t in zip(y_true, y_pred):"]))
        return [loop, *block()]
    if kind == 11:
        return [draw(st.sampled_from(["with tf.GradientTape() as tape:", "with tf.name_scope('loss'):",
                                      "async with ctx:" if in_async else "with ctx as (a, b):"])), *block()]
    if kind == 12:
        return ["try:", *block(), "except (ValueError, TypeError) as e:", *block(), "finally:", *indent(["pass"])]
    if kind == 13:
        subject = draw(expr)
        return [f"match {subject}:", *indent(["case [a, b, *rest]:", *block(), "case {'seg': s}:", *block(),
                                               "case tf.Tensor(shape=s) if s:", *block(), "case _:", *block()])]
    if kind in (14, 15):
        return draw(functions(depth=depth + 1))
    if kind == 16:
        return draw(classes(depth=depth + 1))
    return [f"{draw(st.sampled_from(['model', 'm', 'self.model']))}.compile({draw(compile_args())})"]


@st.composite
def functions(draw, depth: int = 0) -> list[str]:
    is_async = draw(st.integers(0, 6)) == 0
    name = draw(st.sampled_from(["loss", "seg_loss", "my_loss", "dice", "call", "metric", "inner", "f"]))
    params = draw(st.sampled_from([
        "y_true, y_pred", "y_true, y_pred, sample_weight=None", "yt, yp", "labels, logits", "target, output",
        "self, y_true, y_pred", "y_true: tf.Tensor, y_pred: 'Float[Tensor, \"b 3\"]'", "*args, **kwargs",
        "y_true, y_pred, /, *, axis=-1", "gamma=2.0", "",
    ]))
    decorators = draw(st.lists(st.sampled_from([
        "@tf.function", "@tf.function(jit_compile=True)", "@keras.saving.register_keras_serializable()",
        "@staticmethod", "@functools.wraps(f)", "@decorator", "@(lambda f: f)",
    ]), max_size=2))
    body = draw(st.lists(statements(depth=depth, in_async=is_async), min_size=1, max_size=5))
    if draw(st.integers(0, 3)) == 0:  # a factory returning a closure
        inner = draw(functions(depth=depth + 2)) if depth < 2 else ["def inner(y_true, y_pred):", "    return y_pred"]
        body.append(inner + ["return inner"])
    lines = [*decorators, f"{'async ' if is_async else ''}def {name}({params}):"]
    if draw(st.booleans()):
        lines.append('    """Docstring."""')
    lines += indent([line for stmt in body for line in stmt])
    return lines


@st.composite
def classes(draw, depth: int = 0) -> list[str]:
    base = draw(st.sampled_from(["keras.losses.Loss", "tf.keras.losses.Loss", "Loss", "L.Loss", "object",
                                 "keras.metrics.Metric", "keras.layers.Layer", "Base, metaclass=Meta"]))
    name = draw(st.sampled_from(["DiceLoss", "FocalLoss", "MyMetric", "Thing"]))
    methods = draw(st.lists(functions(depth=depth + 1), min_size=1, max_size=3))
    body = [line for method in methods for line in method]
    if draw(st.booleans()):
        body = ["alpha = 0.25", *body]
    return [f"class {name}({base}):", *indent(body)]


@st.composite
def compile_args(draw) -> str:
    loss = draw(st.one_of(
        st.sampled_from(["loss", "seg_loss", "'mse'", "DiceLoss()", "my_loss(2.0)", "[seg_loss, dice]",
                         "{'seg': seg_loss, 'cls': dice}", "{'seg': [loss, dice]}", "None"]),
        expressions(depth=2),
        st.just("lambda y_true, y_pred: tf.reduce_mean(y_true - y_pred)"),
    ))
    extra = draw(st.sampled_from(["", ", metrics=[metric]", ", metrics={'seg': [loss]}", ", loss_weights=[1, 2]",
                                  ", optimizer='adam'", ", **cfg"]))
    return f"loss={loss}{extra}"


@st.composite
def loss_programs(draw) -> str:
    lines = draw(st.lists(st.sampled_from(IMPORTS), max_size=5, unique=True))
    parts = draw(st.lists(st.one_of(
        functions(),
        classes(),
        st.builds(lambda a: [f"model.compile({a})"], compile_args()),
        st.just(["model = keras.Sequential([keras.layers.Dense(2)])",
                 "model.compile(loss=[loss, loss])", "model.fit(x, [y1, y2])"]),
        st.just(["inputs = keras.Input((8,))", "features = keras.layers.Dense(4)(inputs)"]),
        st.builds(lambda s: s, statements()),
    ), min_size=1, max_size=5))
    for part in parts:
        lines += [""] + part
    return "\n".join(lines) + "\n"
