"""Table-driven semantics of the ops loss code calls, across TF, Keras 3, Keras 2 backend and NumPy.

The table maps ``(family, op name)`` (families as :func:`losscheck.lint.imports.api` gives them:
"tensorflow" for ``tf.*``/``tf.math.*``/``tf.nn.*``, "keras.ops", "keras.backend",
"tf.keras.backend", "numpy", "keras.losses", "tf.keras.losses") to an :class:`OpSpec`: the
op's kind (which handler computes its shape), its positional parameter names (to bind the
call's arguments) and per-family options (e.g. the default axis of ``argmax``).

Handlers get an :class:`OpCall` and return an abstract value; a handler that finds a
certain problem calls ``call.problem(message)``. Anything a handler cannot decide gives
``UNKNOWN`` (or a tensor of unknown shape): it never guesses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from losscheck.shapes import shapefns as sf
from losscheck.shapes.domain import BATCH, SCALAR, Dim, Shape, broadcast
from losscheck.shapes.values import (
    UNKNOWN,
    Const,
    DimValue,
    LossObj,
    Seq,
    ShapeOf,
    Tensor,
    Value,
    as_dim,
    as_int,
    as_int_tuple,
    tensor_shape,
)


@dataclass(frozen=True)
class OpSpec:
    kind: str
    params: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class OpCall:
    """One call being interpreted: bound arguments, their source text, and a problem sink."""

    spec: OpSpec
    label_node: Any  # the callee node (or a ready string), rendered only for messages
    args: dict[str, Value]
    nodes: Mapping[str, Any]  # parameter -> argument node, rendered only for messages
    render: Callable[[Any], str] = str
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The callee as written, for messages (``tf.reduce_mean``)."""
        return self.label_node if isinstance(self.label_node, str) else self.render(self.label_node)

    def arg(self, name: str, default: Value = UNKNOWN) -> Value:
        return self.args.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.args

    def text(self, name: str) -> str:
        node = self.nodes.get(name)
        return name if node is None else self.render(node)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def opt(self, key: str, default: Any = None) -> Any:
        return self.spec.options.get(key, default)


# -- messages shared with the interpreter ------------------------------------------------------

OP_WORDS = {
    "add": "sum",
    "subtract": "difference",
    "multiply": "product",
    "divide": "quotient",
    "compare": "comparison",
    "power": "power",
    "where": "result of `where`",
}


def _one_hot_depth(value: Value) -> int | None:
    if isinstance(value, Tensor) and value.origin and value.origin.startswith("one_hot:"):
        return int(value.origin.split(":", 1)[1])
    return None


def broadcast_message(
    operands: list[tuple[Any, Value]], word: str
) -> tuple[Shape | None, str | None]:
    """Broadcast the operands' shapes; (result, problem message or None).

    The result is not None with a message only for the silent batch-axes case.
    """
    shapes = [tensor_shape(v) for _, v in operands]
    result = broadcast(*shapes)
    if result.status == "ok":
        return result.shape, None
    # texts are rendered only now, for the message (callables: source text is not free)
    operands = [(t() if callable(t) else t, v) for t, v in operands]
    described = " and ".join(f"`{t}` is {s}" for (t, _), s in zip(operands, shapes))
    if result.status == "incompatible":
        axis = result.axis or -1
        for (t, v), s in zip(operands, shapes):
            depth = _one_hot_depth(v)
            if depth is not None and axis == -1:
                others = [(t2, s2) for (t2, _), s2 in zip(operands, shapes) if t2 != t and s2 is not None and s2.rank]
                if others:
                    t2, s2 = others[0]
                    return None, (
                        f"`{t}` has depth {depth} but `{t2}` has {s2.dims[-1]} channels "
                        f"({s} vs {s2}): they do not broadcast"
                    )
        sizes = " vs ".join(
            str(s.dims[axis]) for s in shapes if s is not None and s.rank >= -axis
        )
        return None, f"{described}: they do not broadcast (axis {axis}: {sizes})"
    assert result.shape is not None
    if result.shape.dims.count(BATCH) >= 2 and all(d == BATCH or d == 1 for d in result.shape.dims[:2]):
        tail = f"the {word} broadcasts to {result.shape}"
    else:
        tail = f"the {word} broadcasts to {result.shape}: their batch axes do not line up"
    return result.shape, f"{described}: {tail}"


# -- handlers ----------------------------------------------------------------------------------


def _tensor(shape: Shape | None, origin: str | None = None, lead: Dim | None = None) -> Tensor:
    return Tensor(shape, origin, lead if shape is None else None)


def lead_of(value: Value) -> Dim | None:
    """What axis 0 of ``value`` is (see ``Tensor.lead``), or None."""
    return value.axis0 if isinstance(value, Tensor) else None


def common_lead(values: list[Value]) -> Dim | None:
    """Axis 0 of an element-wise result: the batch when every tensor operand has it on axis 0.

    Broadcasting aligns on the right, but the result's axis 0 comes from the highest-rank
    operand; if every tensor operand starts with B, so does the result. Scalars are neutral;
    anything unknown makes the answer unknown.
    """
    leads = set()
    for v in values:
        if isinstance(v, Tensor):
            if v.shape is not None and v.shape.rank == 0:
                continue
            leads.add(v.axis0)
        elif isinstance(v, (Const, DimValue)) and tensor_shape(v) == SCALAR:
            continue
        else:
            return None
    return BATCH if leads == {BATCH} else None


def _keep_origin(value: Value) -> str | None:
    if isinstance(value, Tensor) and value.origin in ("y_true", "y_pred"):
        return value.origin
    return None


def h_unary(call: OpCall) -> Value:
    x = call.arg("x")
    shape = tensor_shape(x)
    if call.opt("keeps_origin"):
        return _tensor(shape, _keep_origin(x), lead_of(x))
    return _tensor(shape, lead=lead_of(x))


def h_to_tensor(call: OpCall) -> Value:
    """tf.constant / convert_to_tensor / np.asarray: shape of the value; a Python int stays a constant."""
    x = call.arg("x")
    if isinstance(x, Tensor):
        return Tensor(x.shape, _keep_origin(x), x.lead)
    return _tensor(tensor_shape(x))


def h_binary(call: OpCall) -> Value:
    operands = [(lambda: call.text("x"), call.arg("x")), (lambda: call.text("y"), call.arg("y"))]
    shape, message = broadcast_message(operands, OP_WORDS.get(call.opt("word", ""), "result"))
    if message:
        call.problem(message)
    return _tensor(shape, lead=common_lead([v for _, v in operands]))


def h_where(call: OpCall) -> Value:
    if not (call.has("x") and call.has("y")):
        return UNKNOWN  # one-argument where returns indices: data dependent
    operands = [((lambda n=n: call.text(n)), call.arg(n)) for n in ("cond", "x", "y")]
    shape, message = broadcast_message(operands, "result of `where`")
    if message:
        call.problem(message)
    return _tensor(shape, lead=common_lead([v for _, v in operands]))


def h_clip(call: OpCall) -> Value:
    x = call.arg("x")
    xs = tensor_shape(x)
    bounds = [tensor_shape(call.arg(n, Const(None))) for n in ("lo", "hi")]
    if xs is None:
        return _tensor(None, lead=lead_of(x))
    if all(b == SCALAR or b is None and isinstance(call.arg(n, Const(None)), Const) for b, n in zip(bounds, ("lo", "hi"))):
        return _tensor(xs, _keep_origin(x))
    if any(b is None for b in bounds):
        return _tensor(None)
    result = broadcast(xs, *[b for b in bounds if b is not None])
    return _tensor(result.shape if result.status == "ok" and result.shape == xs else None)


def _axis_arg(call: OpCall, name: str = "axis") -> tuple[bool, Any]:
    """(known?, axis) where axis is None, an int or a tuple of ints."""
    if not call.has(name):
        return True, call.opt("default_axis")
    value = call.arg(name)
    if isinstance(value, Const) and value.value is None:
        return True, call.opt("none_axis", None)
    if isinstance(value, Seq):
        axes = as_int_tuple(value)
        return (axes is not None), axes
    n = as_int(value)
    return (n is not None), n


def _bool_arg(call: OpCall, name: str, default: bool = False) -> bool | None:
    if not call.has(name):
        return default
    value = call.arg(name)
    if isinstance(value, Const) and isinstance(value.value, (bool, type(None))):
        return bool(value.value)
    return None


def h_reduce(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    axis_value = call.arg("axis", Const(None))
    if call.opt("tuple_axes") and isinstance(axis_value, Seq) and axis_value.kind == "list":
        call.problem(f"`{call.label}` takes a tuple of axes, not a list: `axis={call.text('axis')}` raises a TypeError")
        return _tensor(None)
    known, axis = _axis_arg(call)
    keepdims = _bool_arg(call, "keepdims") if call.opt("has_keepdims", True) else False
    if shape is None and known and keepdims is not None:
        if axis is None and not keepdims:
            return _tensor(SCALAR)  # every axis reduced: a scalar, whatever the rank was
        axes = (axis,) if isinstance(axis, int) else axis
        lead = lead_of(call.arg("x"))
        if axes and all(a > 0 for a in axes):
            return _tensor(None, lead=lead)
        return _tensor(None)
    if shape is None or not known or keepdims is None:
        return _tensor(None)
    try:
        return _tensor(sf.reduce_shape(shape, axis, keepdims))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return _tensor(None)


def h_expand_dims(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    known, axis = _axis_arg(call)
    if shape is None and known and isinstance(axis, int) and axis >= 0:
        return _tensor(None, lead=1 if axis == 0 else lead_of(call.arg("x")))
    if shape is None or not known or not isinstance(axis, int):
        return _tensor(None)
    try:
        return _tensor(sf.expand_dims_shape(shape, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return _tensor(None)


def h_squeeze(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    known, axis = _axis_arg(call)
    if shape is None or not known:
        return _tensor(None)
    try:
        return _tensor(sf.squeeze_shape(shape, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return _tensor(None)


def _tensor_list(value: Value) -> list[Shape] | None:
    if not isinstance(value, Seq):
        return None
    shapes = [tensor_shape(v) for v in value.items]
    if any(s is None for s in shapes):
        return None
    return shapes  # type: ignore[return-value]


def _items(value: Value) -> list[Value] | None:
    return list(value.items) if isinstance(value, Seq) else None


def h_concat(call: OpCall) -> Value:
    shapes = _tensor_list(call.arg("values"))
    known, axis = _axis_arg(call)
    items = _items(call.arg("values"))
    if shapes is None and known and isinstance(axis, int) and axis > 0 and items:
        return _tensor(None, lead=common_lead(items))
    if shapes is None or not known or not isinstance(axis, int):
        return _tensor(None)
    try:
        return _tensor(sf.concat_shape(shapes, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of {', '.join(str(s) for s in shapes)} on axis {axis}: {err}")
        return _tensor(None)


def h_stack(call: OpCall) -> Value:
    shapes = _tensor_list(call.arg("values"))
    known, axis = _axis_arg(call)
    items = _items(call.arg("values"))
    if shapes is None and known and isinstance(axis, int) and axis >= 0 and items:
        # axis 0 of a stack is the number of stacked values, never the batch
        return _tensor(None, lead=len(items) if axis == 0 else common_lead(items))
    if shapes is None or not known or not isinstance(axis, int):
        return _tensor(None)
    try:
        return _tensor(sf.stack_shape(shapes, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of {', '.join(str(s) for s in shapes)}: {err}")
        return _tensor(None)


def _dims_arg(value: Value) -> list | None:
    n = as_dim(value)
    if n is not None:
        return [n]
    if isinstance(value, ShapeOf):
        return list(value.shape.dims)
    if isinstance(value, Seq):
        out = []
        for item in value.items:
            d = as_dim(item)
            if d is None:
                return None
            out.append(d)
        return out
    return None


def h_reshape(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    target = _dims_arg(call.arg("shape"))
    if shape is None or target is None:
        return _tensor(None)
    try:
        return _tensor(sf.reshape_shape(shape, target))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of `{call.text('x')}` {shape}: {err}")
        return _tensor(None)


def h_transpose(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    perm_value = call.arg("perm", Const(None))
    if isinstance(perm_value, Const) and perm_value.value is None:
        perm = None
    else:
        perm = as_int_tuple(perm_value)
        if perm is None:
            return _tensor(None)
    if shape is None:
        return _tensor(None)
    try:
        return _tensor(sf.transpose_shape(shape, perm))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of `{call.text('x')}` {shape}: {err}")
        return _tensor(None)


def h_matmul(call: OpCall) -> Value:
    a, b = tensor_shape(call.arg("x")), tensor_shape(call.arg("y"))
    ta, tb = _bool_arg(call, "transpose_a"), _bool_arg(call, "transpose_b")
    if a is None or b is None or ta is None or tb is None:
        return _tensor(None)
    try:
        return _tensor(sf.matmul_shape(a, b, ta, tb))
    except sf.ShapeError as err:
        call.problem(f"`{call.text('x')}` is {a} and `{call.text('y')}` is {b}: matmul fails, {err}")
        return _tensor(None)


def h_gather(call: OpCall) -> Value:
    params = tensor_shape(call.arg("x"))
    indices_value = call.arg("indices")
    indices = tensor_shape(indices_value)
    known, axis = _axis_arg(call)
    if call.has("batch_dims") and as_int(call.arg("batch_dims")) != 0:
        return _tensor(None)
    if params is None or indices is None or not known or not (axis is None or isinstance(axis, int)):
        return _tensor(None)
    values = as_int_tuple(indices_value) if isinstance(indices_value, (Const, Seq)) else None
    if values is not None and any(v < 0 for v in values):
        return _tensor(None)  # negative indices: NumPy wraps, TF fails; stay silent
    try:
        return _tensor(sf.gather_shape(params, indices, axis, values))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {params}: {err}")
        return _tensor(None)


def h_one_hot(call: OpCall) -> Value:
    indices = tensor_shape(call.arg("x"))
    depth = as_dim(call.arg("depth"))
    axis_known, axis = _axis_arg(call)
    if indices is None and axis_known and axis == -1:
        return _tensor(None, lead=lead_of(call.arg("x")))
    if indices is None or depth is None or not axis_known or not isinstance(axis, int):
        return _tensor(None)
    if call.opt("squeeze_last") and indices.rank > 1 and indices.dims[-1] == 1:
        indices = Shape(indices.dims[:-1])  # to_categorical drops a trailing 1
    try:
        shape = sf.one_hot_shape(indices, depth, axis)
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {indices}: {err}")
        return _tensor(None)
    origin = f"one_hot:{depth}" if isinstance(depth, int) and axis == -1 else None
    return _tensor(shape, origin)


def h_number(call: OpCall) -> Value:
    """A function returning a Python number (``K.epsilon()``): a scalar constant."""
    return Const(float(call.opt("value", 0.0)))


def h_constructor(call: OpCall) -> Value:
    """tf.ones(shape) / np.zeros(shape) / tf.fill(dims, v): a tensor of the given shape."""
    dims = _dims_arg(call.arg("shape"))
    if dims is None or any(isinstance(d, int) and d < 0 for d in dims):
        return _tensor(None)
    return _tensor(Shape(tuple(dims)))


def h_shape(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    return ShapeOf(shape) if shape is not None else UNKNOWN


def _squeeze_or_expand(a: Shape, b: Shape) -> tuple[Shape, Shape]:
    """keras.src.losses.loss.squeeze_or_expand_to_same_rank (Keras 3)."""
    if a.rank == b.rank + 1 and a.dims[-1] == 1:
        if b.rank == 1:
            b = Shape(b.dims + (1,))
        else:
            a = Shape(a.dims[:-1])
    elif b.rank == a.rank + 1 and b.dims[-1] == 1:
        if a.rank == 1:
            a = Shape(a.dims + (1,))
        else:
            b = Shape(b.dims[:-1])
    return a, b


def _different(a: Shape, b: Shape) -> bool:
    return a.rank != b.rank or any(isinstance(x, int) and isinstance(y, int) and x != y for x, y in zip(a.dims, b.dims))


def _merge_same(a: Shape, b: Shape) -> Shape:
    return Shape(tuple(sf._join_dim(x, y) for x, y in zip(a.dims, b.dims)))


def loss_shape(
    fn: str, family: str, yt: Shape | None, yp: Shape | None, texts: tuple[str, str], *, wrapper: bool, problems: list[str]
) -> Shape | None:
    """The per-position result of keras.losses.<fn>(y_true, y_pred) (None if unknown)."""
    info = LOSS_FUNCTIONS.get(fn)
    if info is None or yt is None or yp is None:
        return None
    kind = info
    if kind == "sparse":
        if yt.rank == yp.rank and yt.rank and yt.dims[-1] == 1:
            yt = Shape(yt.dims[:-1])
        if yt.rank + 1 != yp.rank or yp.rank == 0:
            return None
        return Shape(yp.dims[:-1])
    if kind == "crossentropy" or kind == "elementwise_ce":
        a, b = _squeeze_or_expand(yt, yp) if wrapper else (yt, yp)
        if _different(a, b):
            problems.append(
                f"`{texts[0]}` is {yt} and `{texts[1]}` is {yp}: {fn} needs operands of the same shape"
            )
            return None
        merged = _merge_same(a, b)
        if kind == "elementwise_ce":
            return merged
        return Shape(merged.dims[:-1]) if merged.rank else None
    if kind == "reduce_all":
        return None  # dice/tversky default axis=None: depends on arguments; not modelled
    # regression-style: Keras 3 squeezes/expands first (Keras 2 does not), then broadcasts
    if yt.rank != yp.rank:
        if family != "keras.losses" and not wrapper:
            return None  # tf.keras may be Keras 2 (no squeeze) or Keras 3: do not guess
        yt, yp = _squeeze_or_expand(yt, yp)
    result = broadcast(yt, yp)
    if result.status == "incompatible":
        problems.append(f"`{texts[0]}` is {yt} and `{texts[1]}` is {yp}: {fn} cannot broadcast them")
        return None
    if result.shape is None or result.shape.rank == 0:
        return None
    return Shape(result.shape.dims[:-1])


def h_loss_fn(call: OpCall) -> Value:
    yt, yp = tensor_shape(call.arg("y_true")), tensor_shape(call.arg("y_pred"))
    known, axis = _axis_arg(call)
    if not known or axis not in (None, -1) or (call.has("axis") and axis is None):
        return _tensor(None)
    fn = call.opt("fn")
    shape = loss_shape(
        fn, call.opt("family"), yt, yp, (call.text("y_true"), call.text("y_pred")), wrapper=False, problems=call.problems
    )
    return _tensor(shape)


def h_nn_ce(call: OpCall) -> Value:
    """tf.nn.*_cross_entropy_with_logits and keras.ops/backend crossentropies (no squeeze)."""
    return h_loss_fn(call)


def h_loss_class(call: OpCall) -> Value:
    reduction: str | None = "sum_over_batch_size"
    if call.opt("positional", 0) > 3:
        reduction = "?"  # reduction passed by position: not read
    if call.has("reduction"):
        r = call.arg("reduction")
        reduction = r.value if isinstance(r, Const) and isinstance(r.value, (str, type(None))) else "?"
        if reduction is None:
            reduction = "none"
    kwargs = tuple((k, v) for k, v in call.args.items() if k != "reduction")
    axis = dict(kwargs).get("axis")
    if axis is not None and as_int(axis) != -1:
        reduction = "?"  # a non-default axis: not modelled
    return LossObj(call.opt("fn"), call.opt("family"), reduction, kwargs)


HANDLERS: dict[str, Callable[[OpCall], Value]] = {
    "unary": h_unary,
    "to_tensor": h_to_tensor,
    "binary": h_binary,
    "where": h_where,
    "clip": h_clip,
    "reduce": h_reduce,
    "expand_dims": h_expand_dims,
    "squeeze": h_squeeze,
    "concat": h_concat,
    "stack": h_stack,
    "reshape": h_reshape,
    "transpose": h_transpose,
    "matmul": h_matmul,
    "gather": h_gather,
    "one_hot": h_one_hot,
    "shape": h_shape,
    "constructor": h_constructor,
    "number": h_number,
    "loss_fn": h_loss_fn,
    "nn_ce": h_nn_ce,
    "loss_class": h_loss_class,
}


def call_loss_object(obj: LossObj, yt: Value, yp: Value, texts: tuple[str, str], problems: list[str]) -> Value:
    """``LossClass(...)(y_true, y_pred)``: per-position values reduced per ``reduction``."""
    a, b = tensor_shape(yt), tensor_shape(yp)
    shape = loss_shape(obj.fn, obj.family, a, b, texts, wrapper=True, problems=problems)
    if obj.reduction in ("sum_over_batch_size", "sum", "mean", "auto"):
        return _tensor(SCALAR)
    if obj.reduction == "none":
        return _tensor(shape)
    return _tensor(None)


# -- the table --------------------------------------------------------------------------------

TABLE: dict[tuple[str, str], OpSpec] = {}

TF = "tensorflow"
KOPS = "keras.ops"
KB = ("keras.backend", "tf.keras.backend")
NP = "numpy"


def _add(families: str | tuple[str, ...], names: str, kind: str, params: tuple[str, ...], **options: Any) -> None:
    fams = (families,) if isinstance(families, str) else families
    for family in fams:
        for name in names.split():
            TABLE[(family, name)] = OpSpec(kind, params, dict(options))


# element-wise, one tensor in, same shape out
_UNARY_TF = (
    "abs square sqrt rsqrt exp expm1 log log1p sigmoid tanh relu relu6 elu selu gelu silu swish softplus "
    "softsign softmax log_softmax negative sign round floor ceil reciprocal stop_gradient identity ones_like "
    "zeros_like is_nan is_inf is_finite logical_not l2_normalize erf sin cos cosh sinh lgamma digamma"
)
_add(TF, _UNARY_TF, "unary", ("x",))
_add(TF, "cast dtypes.cast saturate_cast stop_gradient identity", "unary", ("x",), keeps_origin=True)
_add(TF, "clip_by_value", "clip", ("x", "lo", "hi"))
_add(TF, "constant convert_to_tensor", "to_tensor", ("x",))
_UNARY_KOPS = (
    "abs absolute square sqrt exp expm1 log log1p sigmoid tanh relu relu6 elu selu gelu silu softplus softsign "
    "softmax log_softmax negative sign round floor ceil reciprocal stop_gradient ones_like zeros_like isnan "
    "isinf isfinite logical_not erf sin cos cosh sinh copy nan_to_num hard_sigmoid normalize"
)
_add(KOPS, _UNARY_KOPS, "unary", ("x",))
_add(KOPS, "cast stop_gradient", "unary", ("x",), keeps_origin=True)
_add(KOPS, "convert_to_tensor", "to_tensor", ("x",))
_add(KOPS, "clip", "clip", ("x", "lo", "hi"))
_add(
    KB,
    "abs square sqrt exp log sigmoid tanh relu elu softplus softsign softmax sign round ones_like "
    "zeros_like hard_sigmoid l2_normalize",
    "unary",
    ("x",),
)
_add(KB, "cast cast_to_floatx stop_gradient identity", "unary", ("x",), keeps_origin=True)
_add(KB, "clip", "clip", ("x", "lo", "hi"))
_add(KB, "constant", "to_tensor", ("x",))
_add(
    NP,
    "abs absolute square sqrt exp expm1 log log1p tanh negative sign round floor ceil reciprocal ones_like "
    "zeros_like isnan isinf isfinite logical_not sin cos copy nan_to_num",
    "unary",
    ("x",),
)
_add(NP, "asarray array", "to_tensor", ("x",))
_add(NP, "clip", "clip", ("x", "lo", "hi"))

# element-wise binary with broadcasting
for word, tf_names, kops_names, np_names in (
    ("add", "add add_v2", "add", "add"),
    ("subtract", "subtract squared_difference", "subtract", "subtract"),
    ("multiply", "multiply multiply_no_nan xlogy", "multiply", "multiply"),
    (
        "divide",
        "divide truediv realdiv divide_no_nan xdivy floordiv floormod mod",
        "divide true_divide divide_no_nan floor_divide mod",
        "divide true_divide floor_divide mod",
    ),
    ("power", "pow", "power", "power"),
    ("compare", "equal not_equal greater greater_equal less less_equal logical_and logical_or logical_xor maximum minimum",
     "equal not_equal greater greater_equal less less_equal logical_and logical_or logical_xor maximum minimum",
     "equal not_equal greater greater_equal less less_equal logical_and logical_or fmax fmin maximum minimum"),
):
    _add(TF, tf_names, "binary", ("x", "y"), word=word)
    _add(KOPS, kops_names, "binary", ("x", "y"), word=word)
    _add(NP, np_names, "binary", ("x", "y"), word=word)
_add(KB, "maximum minimum equal not_equal greater greater_equal less less_equal", "binary", ("x", "y"), word="compare")
_add(KB, "pow", "binary", ("x", "y"), word="power")

_add(TF, "where where_v2", "where", ("cond", "x", "y"))
_add(KOPS, "where", "where", ("cond", "x", "y"))
_add(NP, "where", "where", ("cond", "x", "y"))

# reductions
_add(
    TF,
    "reduce_mean reduce_sum reduce_max reduce_min reduce_prod reduce_any reduce_all reduce_logsumexp "
    "reduce_std reduce_variance reduce_euclidean_norm count_nonzero",
    "reduce",
    ("x", "axis", "keepdims"),
)
_add(TF, "argmax argmin", "reduce", ("x", "axis"), default_axis=0, none_axis=0, has_keepdims=False)
_add(KOPS, "mean sum max min prod any all logsumexp std var amax amin", "reduce", ("x", "axis", "keepdims"))
_add(KOPS, "count_nonzero", "reduce", ("x", "axis"), has_keepdims=False)
_add(KOPS, "argmax argmin", "reduce", ("x", "axis", "keepdims"))
_add(KB, "mean sum max min prod any all std var logsumexp", "reduce", ("x", "axis", "keepdims"))
_add(KB, "argmax argmin", "reduce", ("x", "axis"), default_axis=-1, has_keepdims=False)
# NumPy: keepdims is keyword-only in practice (its position differs between functions)
_add(NP, "mean sum max min prod any all std var amax amin nanmean nansum nanmax nanmin average", "reduce", ("x", "axis"))
_add(NP, "argmax argmin", "reduce", ("x", "axis"))
for _key, _spec in list(TABLE.items()):
    if _key[0] == NP and _spec.kind == "reduce":  # NumPy refuses a list of axes (TypeError)
        TABLE[_key] = OpSpec(_spec.kind, _spec.params, {**_spec.options, "tuple_axes": True})

# structure
_add(TF, "expand_dims", "expand_dims", ("x", "axis"))
_add(KOPS, "expand_dims", "expand_dims", ("x", "axis"))
_add(KB, "expand_dims", "expand_dims", ("x", "axis"), default_axis=-1)
_add(NP, "expand_dims", "expand_dims", ("x", "axis"))
_add(TF, "squeeze", "squeeze", ("x", "axis"))
_add(KOPS, "squeeze", "squeeze", ("x", "axis"))
_add(KB, "squeeze", "squeeze", ("x", "axis"))
_add(NP, "squeeze", "squeeze", ("x", "axis"))
_add(TF, "concat", "concat", ("values", "axis"))
_add(KOPS, "concatenate", "concat", ("values", "axis"), default_axis=0)
_add(KB, "concatenate", "concat", ("values", "axis"), default_axis=-1)
_add(NP, "concatenate", "concat", ("values", "axis"), default_axis=0)
_add(TF, "stack", "stack", ("values", "axis"), default_axis=0)
_add(KOPS, "stack", "stack", ("values", "axis"), default_axis=0)
_add(KB, "stack", "stack", ("values", "axis"), default_axis=0)
_add(NP, "stack", "stack", ("values", "axis"), default_axis=0)
_add(TF, "reshape", "reshape", ("x", "shape"))
_add(KOPS, "reshape", "reshape", ("x", "shape"))
_add(KB, "reshape", "reshape", ("x", "shape"))
_add(NP, "reshape", "reshape", ("x", "shape"))
_add(TF, "transpose", "transpose", ("x", "perm"))
_add(KOPS, "transpose", "transpose", ("x", "perm"))
_add(KB, "transpose", "transpose", ("x",))
_add(KB, "permute_dimensions", "transpose", ("x", "perm"))
_add(NP, "transpose", "transpose", ("x", "perm"))
_add(TF, "matmul", "matmul", ("x", "y", "transpose_a", "transpose_b"))
_add(KOPS, "matmul", "matmul", ("x", "y"))
_add(NP, "matmul", "matmul", ("x", "y"))
_add(TF, "gather", "gather", ("x", "indices", "validate_indices", "axis", "batch_dims"), default_axis=0, none_axis=0)
_add(KOPS, "take", "gather", ("x", "indices", "axis"))
_add(NP, "take", "gather", ("x", "indices", "axis"))
_add(KB, "gather", "gather", ("x", "indices"), default_axis=0)
_add(TF, "one_hot", "one_hot", ("x", "depth", "on_value", "off_value", "axis"), default_axis=-1, none_axis=-1)
_add(KOPS, "one_hot", "one_hot", ("x", "depth", "axis"), default_axis=-1)
_add(KB, "one_hot", "one_hot", ("x", "depth"), default_axis=-1)
for fam in ("keras", "tf.keras"):
    _add(fam, "utils.to_categorical", "one_hot", ("x", "depth"), default_axis=-1, squeeze_last=True)
_add(KB, "epsilon", "number", (), value=1e-7)
_add("keras", "config.epsilon backend.epsilon", "number", (), value=1e-7)
_add((TF, KOPS, NP) + KB, "ones zeros", "constructor", ("shape",))
_add(TF, "fill", "constructor", ("shape", "value"))
_add(TF, "shape", "shape", ("x",))
_add(KOPS, "shape", "shape", ("x",))
_add(KB, "int_shape shape", "shape", ("x",))
_add(NP, "shape", "shape", ("x",))

# losses: keras.losses functions, what kind of shape rule each follows
LOSS_FUNCTIONS: dict[str, str] = {
    "binary_crossentropy": "crossentropy",
    "categorical_crossentropy": "crossentropy",
    "binary_focal_crossentropy": "crossentropy",
    "categorical_focal_crossentropy": "crossentropy",
    "sparse_categorical_crossentropy": "sparse",
    "kl_divergence": "crossentropy",
    "poisson": "crossentropy",
    "mean_squared_error": "regression",
    "mean_absolute_error": "regression",
    "mean_absolute_percentage_error": "regression",
    "mean_squared_logarithmic_error": "regression",
    "huber": "regression",
    "log_cosh": "regression",
    "cosine_similarity": "regression",
    "hinge": "regression",
    "squared_hinge": "regression",
    "categorical_hinge": "regression",
    "dice": "reduce_all",
    "tversky": "reduce_all",
    "elementwise_ce": "elementwise_ce",
}
_LOSS_ALIASES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error", "logcosh": "log_cosh", "kld": "kl_divergence",
    "KLD": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
}
_LOSS_CLASSES = {
    "BinaryCrossentropy": "binary_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy", "KLDivergence": "kl_divergence",
    "Poisson": "poisson", "MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error", "Huber": "huber", "LogCosh": "log_cosh",
    "CosineSimilarity": "cosine_similarity", "Hinge": "hinge", "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge", "Dice": "dice", "Tversky": "tversky",
}
for fam in ("keras.losses", "tf.keras.losses"):
    for name in list(LOSS_FUNCTIONS) + list(_LOSS_ALIASES):
        if name == "elementwise_ce":
            continue
        fn = _LOSS_ALIASES.get(name, name)
        TABLE[(fam, name)] = OpSpec("loss_fn", ("y_true", "y_pred"), {"fn": fn, "family": fam})
    for cls, fn in _LOSS_CLASSES.items():
        TABLE[(fam, cls)] = OpSpec("loss_class", (), {"fn": fn, "family": fam, "all_keywords": True})
# keras.ops / backend crossentropies: same-shape operands; binary is element-wise (no reduction)
TABLE[(KOPS, "binary_crossentropy")] = OpSpec("nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": KOPS})
TABLE[(KOPS, "categorical_crossentropy")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "categorical_crossentropy", "family": KOPS}
)
TABLE[(KOPS, "sparse_categorical_crossentropy")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "sparse_categorical_crossentropy", "family": KOPS}
)
for fam in KB:
    TABLE[(fam, "binary_crossentropy")] = OpSpec("nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": fam})
    TABLE[(fam, "categorical_crossentropy")] = OpSpec(
        "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "categorical_crossentropy", "family": fam}
    )
    TABLE[(fam, "sparse_categorical_crossentropy")] = OpSpec(
        "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "sparse_categorical_crossentropy", "family": fam}
    )
TABLE[(TF, "sigmoid_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
TABLE[(TF, "softmax_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "axis"), {"fn": "categorical_crossentropy", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
TABLE[(TF, "sparse_softmax_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred"), {"fn": "sparse_categorical_crossentropy", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
# Parameter names people pass by keyword, per family, mapped onto the table's names.
KEYWORD_ALIASES: dict[str, str] = {
    "input_tensor": "x", "input": "x", "a": "x", "tensor": "x", "params": "x", "reference": "x",
    "x1": "x", "x2": "y", "b": "y", "condition": "cond", "values": "values", "xs": "values",
    "tensors": "values", "arrays": "values", "newshape": "shape", "axes": "perm", "pattern": "perm",
    "num_classes": "depth", "clip_value_min": "lo", "clip_value_max": "hi", "x_min": "lo", "x_max": "hi",
    "min_value": "lo", "max_value": "hi", "a_min": "lo", "a_max": "hi", "target": "y_true", "output": "y_pred",
    "keep_dims": "keepdims", "indices": "indices", "y": "x", "dim": "axis", "dims": "shape",
    "labels": "y_true", "logits": "y_pred",
}


def lookup(family: str, name: str) -> OpSpec | None:
    if family in ("tf.keras", "keras") and name.startswith("ops."):
        family, name = KOPS, name[4:]
    elif family in ("tf.keras", "keras") and name.startswith("backend."):
        family, name = "tf.keras.backend", name[len("backend.") :]
    elif family == "tf.keras" and name.startswith("losses."):
        family, name = "tf.keras.losses", name[len("losses.") :]
    elif family == "keras" and name.startswith("losses."):
        family, name = "keras.losses", name[len("losses.") :]
    elif family == TF and name.startswith("losses."):  # tf.losses.* are the tf.keras.losses functions
        family, name = "tf.keras.losses", name[len("losses.") :]
    if family in ("keras.metrics", "tf.keras.metrics") and name[:1].islower():
        # metric *functions* compute the same per-example values as the loss functions
        family = family.replace("metrics", "losses")
    return TABLE.get((family, name))
