"""The shape handlers of the op table's kinds (``HANDLERS``: kind -> handler), and the loss
functions and Loss objects of Keras as shape functions of ``(y_true, y_pred)``.

Each handler gets an :class:`~losscheck.shapes.op_call.OpCall` and returns an abstract value; a
handler that finds a certain problem calls ``call.problem(message)``. Anything a handler cannot
decide gives ``UNKNOWN`` (or a tensor of unknown shape): it never guesses.
"""

from __future__ import annotations

from collections.abc import Callable

from losscheck.shapes import shapefns as sf
from losscheck.shapes.domain import SCALAR, Shape, broadcast
from losscheck.shapes.op_call import (
    OP_WORDS,
    OpCall,
    axis_arg,
    bool_arg,
    broadcast_message,
    common_lead,
    dims_arg,
    items_of,
    keep_origin,
    lead_of,
    make_tensor,
    tensor_list,
)
from losscheck.shapes.ops import LOSS_FUNCTIONS
from losscheck.shapes.values import (
    UNKNOWN,
    Const,
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



def h_unary(call: OpCall) -> Value:
    x = call.arg("x")
    shape = tensor_shape(x)
    if call.opt("keeps_origin"):
        return make_tensor(shape, keep_origin(x), lead_of(x))
    return make_tensor(shape, lead=lead_of(x))


def h_to_tensor(call: OpCall) -> Value:
    """tf.constant / convert_to_tensor / np.asarray: shape of the value; a Python int stays a constant."""
    x = call.arg("x")
    if isinstance(x, Tensor):
        return Tensor(x.shape, keep_origin(x), x.lead)
    return make_tensor(tensor_shape(x))


def h_binary(call: OpCall) -> Value:
    operands = [(lambda: call.text("x"), call.arg("x")), (lambda: call.text("y"), call.arg("y"))]
    shape, message = broadcast_message(operands, OP_WORDS.get(call.opt("word", ""), "result"))
    if message:
        call.problem(message)
    return make_tensor(shape, lead=common_lead([v for _, v in operands]))


def h_where(call: OpCall) -> Value:
    if not (call.has("x") and call.has("y")):
        return UNKNOWN  # one-argument where returns indices: data dependent
    operands = [((lambda n=n: call.text(n)), call.arg(n)) for n in ("cond", "x", "y")]
    shape, message = broadcast_message(operands, "result of `where`")
    if message:
        call.problem(message)
    return make_tensor(shape, lead=common_lead([v for _, v in operands]))


def h_clip(call: OpCall) -> Value:
    x = call.arg("x")
    xs = tensor_shape(x)
    bounds = [tensor_shape(call.arg(n, Const(None))) for n in ("lo", "hi")]
    if xs is None:
        return make_tensor(None, lead=lead_of(x))
    if all(b == SCALAR or b is None and isinstance(call.arg(n, Const(None)), Const) for b, n in zip(bounds, ("lo", "hi"))):
        return make_tensor(xs, keep_origin(x))
    if any(b is None for b in bounds):
        return make_tensor(None)
    result = broadcast(xs, *[b for b in bounds if b is not None])
    return make_tensor(result.shape if result.status == "ok" and result.shape == xs else None)


def h_reduce(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    axis_value = call.arg("axis", Const(None))
    if call.opt("tuple_axes") and isinstance(axis_value, Seq) and axis_value.kind == "list":
        call.problem(f"`{call.label}` takes a tuple of axes, not a list: `axis={call.text('axis')}` raises a TypeError")
        return make_tensor(None)
    known, axis = axis_arg(call)
    keepdims = bool_arg(call, "keepdims") if call.opt("has_keepdims", True) else False
    if shape is None and known and keepdims is not None:
        if axis is None and not keepdims:
            return make_tensor(SCALAR)  # every axis reduced: a scalar, whatever the rank was
        axes = (axis,) if isinstance(axis, int) else axis
        lead = lead_of(call.arg("x"))
        if axes and all(a > 0 for a in axes):
            return make_tensor(None, lead=lead)
        return make_tensor(None)
    if shape is None or not known or keepdims is None:
        return make_tensor(None)
    try:
        return make_tensor(sf.reduce_shape(shape, axis, keepdims))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return make_tensor(None)


def h_expand_dims(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    known, axis = axis_arg(call)
    if shape is None and known and isinstance(axis, int) and axis >= 0:
        return make_tensor(None, lead=1 if axis == 0 else lead_of(call.arg("x")))
    if shape is None or not known or not isinstance(axis, int):
        return make_tensor(None)
    try:
        return make_tensor(sf.expand_dims_shape(shape, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return make_tensor(None)


def h_squeeze(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    known, axis = axis_arg(call)
    if shape is None or not known:
        return make_tensor(None)
    try:
        return make_tensor(sf.squeeze_shape(shape, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {shape}: {err}")
        return make_tensor(None)


def h_concat(call: OpCall) -> Value:
    shapes = tensor_list(call.arg("values"))
    known, axis = axis_arg(call)
    items = items_of(call.arg("values"))
    if shapes is None and known and isinstance(axis, int) and axis > 0 and items:
        return make_tensor(None, lead=common_lead(items))
    if shapes is None or not known or not isinstance(axis, int):
        return make_tensor(None)
    try:
        return make_tensor(sf.concat_shape(shapes, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of {', '.join(str(s) for s in shapes)} on axis {axis}: {err}")
        return make_tensor(None)


def h_stack(call: OpCall) -> Value:
    shapes = tensor_list(call.arg("values"))
    known, axis = axis_arg(call)
    items = items_of(call.arg("values"))
    if shapes is None and known and isinstance(axis, int) and axis >= 0 and items:
        # axis 0 of a stack is the number of stacked values, never the batch
        return make_tensor(None, lead=len(items) if axis == 0 else common_lead(items))
    if shapes is None or not known or not isinstance(axis, int):
        return make_tensor(None)
    try:
        return make_tensor(sf.stack_shape(shapes, axis))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of {', '.join(str(s) for s in shapes)}: {err}")
        return make_tensor(None)


def h_reshape(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    target = dims_arg(call.arg("shape"))
    if shape is None or target is None:
        return make_tensor(None)
    try:
        return make_tensor(sf.reshape_shape(shape, target))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of `{call.text('x')}` {shape}: {err}")
        return make_tensor(None)


def h_transpose(call: OpCall) -> Value:
    shape = tensor_shape(call.arg("x"))
    perm_value = call.arg("perm", Const(None))
    if isinstance(perm_value, Const) and perm_value.value is None:
        perm = None
    else:
        perm = as_int_tuple(perm_value)
        if perm is None:
            return make_tensor(None)
    if shape is None:
        return make_tensor(None)
    try:
        return make_tensor(sf.transpose_shape(shape, perm))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` of `{call.text('x')}` {shape}: {err}")
        return make_tensor(None)


def h_matmul(call: OpCall) -> Value:
    a, b = tensor_shape(call.arg("x")), tensor_shape(call.arg("y"))
    ta, tb = bool_arg(call, "transpose_a"), bool_arg(call, "transpose_b")
    if a is None or b is None or ta is None or tb is None:
        return make_tensor(None)
    try:
        return make_tensor(sf.matmul_shape(a, b, ta, tb))
    except sf.ShapeError as err:
        call.problem(f"`{call.text('x')}` is {a} and `{call.text('y')}` is {b}: matmul fails, {err}")
        return make_tensor(None)


def h_gather(call: OpCall) -> Value:
    params = tensor_shape(call.arg("x"))
    indices_value = call.arg("indices")
    indices = tensor_shape(indices_value)
    known, axis = axis_arg(call)
    if call.has("batch_dims") and as_int(call.arg("batch_dims")) != 0:
        return make_tensor(None)
    if params is None or indices is None or not known or not (axis is None or isinstance(axis, int)):
        return make_tensor(None)
    values = as_int_tuple(indices_value) if isinstance(indices_value, (Const, Seq)) else None
    if values is not None and any(v < 0 for v in values):
        return make_tensor(None)  # negative indices: NumPy wraps, TF fails; stay silent
    try:
        return make_tensor(sf.gather_shape(params, indices, axis, values))
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {params}: {err}")
        return make_tensor(None)


def h_one_hot(call: OpCall) -> Value:
    indices = tensor_shape(call.arg("x"))
    depth = as_dim(call.arg("depth"))
    axis_known, axis = axis_arg(call)
    if indices is None and axis_known and axis == -1:
        return make_tensor(None, lead=lead_of(call.arg("x")))
    if indices is None or depth is None or not axis_known or not isinstance(axis, int):
        return make_tensor(None)
    if call.opt("squeeze_last") and indices.rank > 1 and indices.dims[-1] == 1:
        indices = Shape(indices.dims[:-1])  # to_categorical drops a trailing 1
    try:
        shape = sf.one_hot_shape(indices, depth, axis)
    except sf.ShapeError as err:
        call.problem(f"`{call.label}` on `{call.text('x')}` {indices}: {err}")
        return make_tensor(None)
    origin = f"one_hot:{depth}" if isinstance(depth, int) and axis == -1 else None
    return make_tensor(shape, origin)


def h_number(call: OpCall) -> Value:
    """A function returning a Python number (``K.epsilon()``): a scalar constant."""
    return Const(float(call.opt("value", 0.0)))


def h_constructor(call: OpCall) -> Value:
    """tf.ones(shape) / np.zeros(shape) / tf.fill(dims, v): a tensor of the given shape."""
    dims = dims_arg(call.arg("shape"))
    if dims is None or any(isinstance(d, int) and d < 0 for d in dims):
        return make_tensor(None)
    return make_tensor(Shape(tuple(dims)))


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
    known, axis = axis_arg(call)
    if not known or axis not in (None, -1) or (call.has("axis") and axis is None):
        return make_tensor(None)
    fn = call.opt("fn")
    shape = loss_shape(
        fn, call.opt("family"), yt, yp, (call.text("y_true"), call.text("y_pred")), wrapper=False, problems=call.problems
    )
    return make_tensor(shape)


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
        return make_tensor(SCALAR)
    if obj.reduction == "none":
        return make_tensor(shape)
    return make_tensor(None)
