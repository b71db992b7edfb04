"""Shape mistakes that hold whatever the shapes of ``y_true`` and ``y_pred`` are.

Shape inference (``losscheck.shapes``) needs declared shapes to say anything. These need none:
they follow from how Keras calls a loss (a batch of unknown size) and from what an operation does
to any tensor.

- an *empty slice* of a tensor from ``y_true``/``y_pred`` (``y_pred[:, :, :0]``, ``x[..., 2:2]``);
- the *static batch size* (``y_true.shape[0]``, ``K.int_shape(y)[0]``, ``y.get_shape()[0]``)
  used in arithmetic or as a size: it is ``None`` while Keras traces the loss with an unknown
  batch size;
- a *fixed batch size*: ``for i in range(32)`` indexing ``y_true[i]``, which assumes every batch
  has exactly 32 examples;
- a *matrix product of vectors*: ``K.dot``/``tf.matmul`` of a flattened (rank-1) tensor, which
  both require rank 2 or more;
- a *product across examples*: ``K.dot(y_true, K.transpose(y_pred))``. A transpose without axes
  reverses every axis, so the batch axis of one operand meets the batch axis of the other: for
  2-D tensors a ``(B, B)`` matrix that pairs every example's labels with every example's
  prediction, for images a contraction of the channels against a spatial axis, which fails.
  Only labels against predictions: a Gram matrix of one tensor with itself (``y_pred`` against
  ``y_pred``, the pairwise similarities of metric learning) is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import libcst as cst

from losscheck.lint.api.value_ops import SHAPE_QUERIES
from losscheck.lint.astutil import get_arg, literal_int
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import FunctionFacts, function_facts
from losscheck.lint.loss_objects import module_assigns
from losscheck.lint.scope_index import values_reaching
from losscheck.lint.syntax_index import syntax_index


@dataclass(frozen=True)
class ShapeProblem:
    """A shape mismatch found in a loss's structure, at the node to report."""

    node: cst.CSTNode
    message: str


_STATIC_SHAPE_CALLS = frozenset({"keras.backend.int_shape", "tensorflow.keras.backend.int_shape"})
_MATMULS = frozenset({
    "keras.backend.dot", "tensorflow.keras.backend.dot", "tensorflow.matmul", "tensorflow.linalg.matmul",
})
# transposes that reverse every axis when given no permutation
_FULL_TRANSPOSES = frozenset({
    "keras.backend.transpose", "tensorflow.keras.backend.transpose", "tensorflow.transpose", "keras.ops.transpose",
})
_FLATTENS = frozenset({"keras.backend.flatten", "tensorflow.keras.backend.flatten"})
_RESHAPES = frozenset({"tensorflow.reshape", "keras.ops.reshape", "keras.backend.reshape",
                       "tensorflow.keras.backend.reshape"})
_SLICES = frozenset({"tensorflow.slice", "keras.ops.slice"})
_SIZE_CALLS = frozenset({"range", "zeros", "ones", "reshape", "fill", "tile", "broadcast_to"})


def problems(ctx: FileContext, fn: LossFunction, *, keras_called: bool) -> Iterator[ShapeProblem]:
    """``keras_called``: ``fn`` surely receives a batch from Keras (``loss_roles.is_keras_called``);
    the batch-size checks need that (a custom training loop may know its batch size)."""
    facts = function_facts(ctx, fn)
    for node in facts.nodes:
        if type(node) is cst.Subscript:
            yield from _empty_slice(ctx, facts, node)
            if keras_called:
                yield from _static_batch_size(ctx, facts, node)
        elif type(node) is cst.For and keras_called:
            yield from _fixed_batch_loop(ctx, facts, node)
        elif type(node) is cst.Call:
            yield from _vector_matmul(ctx, facts, node)
            yield from _cross_example_product(ctx, facts, node)
            if keras_called:
                yield from _len_of_tensor(ctx, facts, node)
                yield from _configured_batch_size(ctx, facts, node)


# -- empty slices ----------------------------------------------------------------------------
def _empty_slice(ctx: FileContext, facts: FunctionFacts, node: cst.Subscript) -> Iterator[ShapeProblem]:
    if not facts.derives(node.value):
        return
    for element in node.slice:
        part = element.slice
        if type(part) is not cst.Slice or part.step is not None:
            continue
        lower = 0 if part.lower is None else literal_int(part.lower)
        upper = literal_int(part.upper) if part.upper is not None else None
        if lower is None or upper is None:
            continue
        if (lower >= 0 and upper >= 0 and upper <= lower) or (lower < 0 and upper < 0 and upper <= lower):
            yield ShapeProblem(
                element,
                f"`{ctx.code_for(node)}` takes an empty slice (`{ctx.code_for(part)}` selects no element of "
                "that axis): everything computed from it is empty, so its loss term is 0 or NaN and trains "
                "nothing. Check the slice bounds against the channels the model emits.",
            )


# -- the static batch size -------------------------------------------------------------------
def _static_batch_size(ctx: FileContext, facts: FunctionFacts, node: cst.Subscript) -> Iterator[ShapeProblem]:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return
    if literal_int(node.slice[0].slice.value) != 0:
        return
    tensor = _static_shape_of(ctx, node.value)
    if tensor is None or not facts.derives(tensor):
        return
    used_as_number = _used_as_number(facts, node)
    parent = facts.parent(node)
    if not used_as_number and type(parent) is cst.Assign and len(parent.targets) == 1 \
            and type(parent.targets[0].target) is cst.Name and facts.single_value(parent.targets[0].target.value):
        # `batch_num = y_pred.shape.as_list()[0]`, then `range(batch_num)`: the name is the number
        name = parent.targets[0].target.value
        used_as_number = any(type(n) is cst.Name and n.value == name and _used_as_number(facts, n) for n in facts.nodes)
    if not used_as_number or _checked_for_none(ctx, facts, tensor):
        return
    name = ctx.code_for(tensor)
    yield ShapeProblem(
        node,
        f"`{ctx.code_for(node)}` is the static batch size, which is None while Keras traces the loss "
        "with a batch size it does not know yet (tf.keras always does; Keras 3 does when the batch size "
        "changes, as on the last batch): the arithmetic raises a TypeError there. Use the dynamic size, "
        f"`tf.shape({name})[0]` or `keras.ops.shape({name})[0]`.",
    )


def _checked_for_none(ctx: FileContext, facts: FunctionFacts, tensor: cst.BaseExpression) -> bool:
    """The function tests ``tensor``'s static batch size against None (``if x.shape[0] is None:
    return ...``): it knows the size may be unknown and takes another way then."""
    written = ctx.code_for(tensor)
    for node in facts.nodes:
        if type(node) is not cst.Comparison:
            continue
        operands = [node.left, *(c.comparator for c in node.comparisons)]
        if not any(type(o) is cst.Name and o.value == "None" for o in operands):
            continue
        for operand in operands:
            if type(operand) is cst.Subscript and len(operand.slice) == 1 \
                    and type(operand.slice[0].slice) is cst.Index and literal_int(operand.slice[0].slice.value) == 0:
                shaped = _static_shape_of(ctx, operand.value)
                if shaped is not None and ctx.code_for(shaped) == written:
                    return True
    return False


def _used_as_number(facts: FunctionFacts, node: cst.CSTNode) -> bool:
    """``node`` is an operand of arithmetic or a size (``range(n)``, ``tf.zeros((n, 3))``)."""
    parent = facts.parent(node)
    if type(parent) is cst.BinaryOperation or (type(parent) is cst.Arg and _is_size_call(facts.parent(parent))):
        return True
    if isinstance(parent, cst.Element) and isinstance(facts.parent(parent), (cst.List, cst.Tuple)):
        holder = facts.parent(facts.parent(parent))
        return type(holder) is cst.Arg and _is_size_call(facts.parent(holder))
    return False


def _static_shape_of(ctx: FileContext, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """``x`` for ``x.shape``, ``x.get_shape()``, ``x.shape.as_list()``, ``K.int_shape(x)``."""
    if type(expr) is cst.Attribute and expr.attr.value == "shape":
        return expr.value
    if type(expr) is cst.Call:
        func = expr.func
        if type(func) is cst.Attribute and not expr.args:
            if func.attr.value == "get_shape":
                return func.value
            if func.attr.value == "as_list":
                return _static_shape_of(ctx, func.value)
        if ctx.imports.qualname(func) in _STATIC_SHAPE_CALLS:
            return get_arg(expr, "x", 0)
    return None


def _is_size_call(node: cst.CSTNode | None) -> bool:
    if type(node) is not cst.Call:
        return False
    func = node.func
    name = func.value if type(func) is cst.Name else func.attr.value if type(func) is cst.Attribute else ""
    return name in _SIZE_CALLS


# -- a fixed batch size -----------------------------------------------------------------------
# the shapes a call builds, and where its shape argument is: the first entry is the batch axis
_SHAPE_ARGUMENTS = {"reshape": ("shape", 1), "tile": ("multiples", 1), "broadcast_to": ("shape", 1),
                    "zeros": ("shape", 0), "ones": ("shape", 0), "fill": ("dims", 0)}


def _configured_batch_size(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[ShapeProblem]:
    """``tf.reshape(y_pred, [batch_size, -1])``, ``tf.tile(grid, [self.batch_size, 1, 1])``: a
    hyperparameter named the batch size as the batch axis of a shape the loss builds."""
    func = call.func
    short = func.value if type(func) is cst.Name else func.attr.value if type(func) is cst.Attribute else ""
    where = _SHAPE_ARGUMENTS.get(short)
    if where is None or ctx.imports.qualname(func) is None:
        return
    shape = get_arg(call, *where)
    if type(shape) not in (cst.List, cst.Tuple) or len(shape.elements) < 2:  # type: ignore[union-attr]
        return
    first = shape.elements[0].value  # type: ignore[union-attr]
    named = first.value if type(first) is cst.Name else first.attr.value if type(first) is cst.Attribute \
        and type(first.value) is cst.Name and first.value.value == "self" else None
    if named is None or not _names_the_batch_size(named) or facts.derives(first):
        return
    yield ShapeProblem(
        first,
        f"`{ctx.code_for(first)}` is the configured batch size, built into the shape of `{ctx.code_for(func)}(...)`: "
        "Keras passes batches of other sizes too (the last batch of an epoch, `evaluate`/`predict` with "
        "their own batch size), and then the shapes no longer fit. Use the batch size of the tensors, "
        "`tf.shape(y_pred)[0]` (or `-1` in a reshape).",
    )


# spellings of "the batch size" besides those containing it (`batch_size`, `BATCHSIZE`, `train_batch_size`)
_BATCH_SIZE_NAMES = frozenset({"batch", "nbatch", "numbatch", "batchnum", "bs", "bsz", "batchsz"})


def _names_the_batch_size(name: str) -> bool:
    plain = name.lower().replace("_", "")
    return "batchsize" in plain or plain in _BATCH_SIZE_NAMES


def _fixed_batch_loop(ctx: FileContext, facts: FunctionFacts, loop: cst.For) -> Iterator[ShapeProblem]:
    if not (type(loop.target) is cst.Name and type(loop.iter) is cst.Call):
        return
    call = loop.iter
    if not (type(call.func) is cst.Name and call.func.value == "range" and len(call.args) in (1, 2)):
        return
    if len(call.args) == 2 and literal_int(call.args[0].value) != 0:
        return
    size = _int_value(ctx, facts, call.args[-1].value)
    if size is None or size < 2:
        return
    index = loop.target.value
    read = next(_per_sample_reads(ctx, facts, loop.body, index), None)  # the first read says it
    if read is not None:
        sliced = type(read) is cst.Subscript and type(read.slice[0].slice) is cst.Slice
        smaller = "gets short or empty slices" if sliced else "fails with an index error"
        yield ShapeProblem(
            call,
            f"`for {index} in {ctx.code_for(call)}` reads `{ctx.code_for(read)}` as if every batch held "
            f"exactly {size} examples{' (or groups of rows)' if sliced else ''}: a smaller batch (the last one) "
            f"{smaller} and a larger one silently leaves examples out. Loop over `tf.shape(...)[0]`, or better, "
            "compute on the whole batch at once (`tf.map_fn`, vectorized ops).",
        )


def _int_value(ctx: FileContext, facts: FunctionFacts, expr: cst.BaseExpression) -> int | None:
    """An int literal, or a name bound to one: locally, at module level, or as the default of a
    parameter of the enclosing factory (``def make_loss(batch=8): def loss(...): range(batch)``)."""
    value = literal_int(expr)
    if value is not None or type(expr) is not cst.Name:
        return value
    name = expr.value
    local = facts.single_value(name)
    if local is not None:
        return literal_int(local)
    if facts.is_bound_locally(name) or name in facts.params:
        return None
    node = facts.fn.node
    parent = syntax_index(ctx).where.get(node, (None, None))[1] if type(node) is cst.FunctionDef else None
    if parent is not None:
        for param in (*parent.params.params, *parent.params.kwonly_params):
            if param.name.value == name:
                return literal_int(param.default) if param.default is not None else None
    values = module_assigns(ctx).get(name, [])
    return literal_int(values[0]) if len(values) == 1 else None


def _per_sample_reads(ctx: FileContext, facts: FunctionFacts, body: cst.CSTNode, index: str) -> Iterator[cst.CSTNode]:
    """``y_true[i]`` (a parameter indexed by the loop variable first), and ``tf.slice(x, [i, ...], ...)``
    of a tensor from ``y_true``/``y_pred``."""
    stack: list[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if type(node) is cst.Subscript and node.slice:
            first = node.slice[0].slice
            if (type(first) is cst.Index and type(first.value) is cst.Name and first.value.value == index
                    and type(node.value) is cst.Name and node.value.value in facts.params):
                yield node
            elif (type(first) is cst.Slice and first.step is None and _mentions(first.lower, index)
                  and type(node.value) is cst.Name and _spans_batch(ctx, facts, node.value)):
                yield node  # `y[i * n:(i + 1) * n]`: the i-th group of rows of the batch, or of it flattened
        elif type(node) is cst.Call and ctx.imports.qualname(node.func) in _SLICES:
            tensor, begin = get_arg(node, "input_", 0), get_arg(node, "begin", 1)
            if (tensor is not None and facts.derives(tensor) and type(begin) in (cst.List, cst.Tuple)
                    and begin.elements and isinstance(begin.elements[0].value, cst.Name)
                    and begin.elements[0].value.value == index):
                yield node
        if type(node) not in (cst.FunctionDef, cst.Lambda, cst.ClassDef):
            stack.extend(node.children)


def _mentions(expr: cst.BaseExpression | None, name: str) -> bool:
    """``expr`` is ``name`` or arithmetic on it (``i * n``, ``n * i + 1``)."""
    if type(expr) is cst.Name:
        return expr.value == name
    if type(expr) is cst.BinaryOperation:
        return _mentions(expr.left, name) or _mentions(expr.right, name)
    return False


def _spans_batch(ctx: FileContext, facts: FunctionFacts, tensor: cst.Name) -> bool:
    """Axis 0 of ``tensor`` is the batch, or the batch flattened with the rest (``tf.reshape(y, [-1])``)."""
    from losscheck.lint.reductions import axis0_is_batch  # reductions reads shapes through this module

    if axis0_is_batch(ctx, facts, tensor):
        return True
    reaching = values_reaching(ctx, tensor)
    return bool(reaching) and all(_flattens_a_batch(ctx, facts, value) for _operator, value in reaching)  # type: ignore[arg-type]


def _flattens_a_batch(ctx: FileContext, facts: FunctionFacts, value: cst.BaseExpression) -> bool:
    """``K.flatten(y)`` / ``tf.reshape(y, [-1])`` of a batch-first ``y`` (not of ``tf.transpose(y)``)."""
    from losscheck.lint.reductions import axis0_is_batch

    if not _is_vector_value(ctx, value):
        return False
    inner = get_arg(value, "x", 0) or get_arg(value, "tensor", 0)  # type: ignore[arg-type]
    if type(inner) is cst.Name and facts.is_param(inner.value) and not values_reaching(ctx, inner):
        return True  # the parameter as Keras passed it
    return inner is not None and axis0_is_batch(ctx, facts, inner)


# -- matrix products of vectors ---------------------------------------------------------------
def _vector_matmul(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[ShapeProblem]:
    if ctx.imports.qualname(call.func) not in _MATMULS:
        return
    for position, keyword in ((0, "a"), (1, "b")):
        arg = get_arg(call, keyword, position) or get_arg(call, "x" if position == 0 else "y", position)
        if arg is not None and is_flattened(ctx, facts, arg):
            yield ShapeProblem(
                call,
                f"`{ctx.code_for(call.func)}` is a matrix product: it needs tensors of rank 2 or more, and "
                f"`{ctx.code_for(arg)}` is flattened to rank 1, so the call fails when Keras traces the loss. "
                "For the sum of element-wise products use `tf.reduce_sum(a * b)` (per example: keep the batch "
                "axis and reduce the others).",
            )
            return


def _cross_example_product(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[ShapeProblem]:
    from losscheck.lint.reductions import axis0_is_batch

    if ctx.imports.qualname(call.func) not in _MATMULS or any(
        arg.keyword is not None and arg.keyword.value.startswith(("transpose", "adjoint")) for arg in call.args
    ):
        return
    # `a @ transpose(b)` only: `transpose(a) @ b` contracts the batch axes (a confusion matrix)
    plain, flipped = get_arg(call, "a", 0) or get_arg(call, "x", 0), get_arg(call, "b", 1) or get_arg(call, "y", 1)
    inner = _fully_transposed(ctx, flipped)
    if plain is None or inner is None:
        return
    sides = facts.sources(plain), facts.sources(inner)
    if len(sides[0]) != 1 or len(sides[1]) != 1 or sides[0] == sides[1]:
        return  # one tensor with itself, or a mix: not labels against predictions
    if axis0_is_batch(ctx, facts, plain) and axis0_is_batch(ctx, facts, inner):
        yield ShapeProblem(
            call,
            f"`{ctx.code_for(call)}` multiplies across examples: `{ctx.code_for(flipped)}` reverses every "
            f"axis, so the batch axis of `{ctx.code_for(inner)}` meets the batch axis of "
            f"`{ctx.code_for(plain)}`. For 2-D tensors the result is a (batch, batch) matrix that pairs each "
            "example's labels with every example's prediction; for images it contracts the channels "
            "against a spatial axis and fails. For a per-example overlap use "
            "`tf.reduce_sum(y_true * y_pred, axis=-1)` (or over every axis but the first).",
        )


def _fully_transposed(ctx: FileContext, expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """``x`` of ``K.transpose(x)`` / ``tf.transpose(x)`` without a permutation, else None."""
    if type(expr) is not cst.Call or ctx.imports.qualname(expr.func) not in _FULL_TRANSPOSES:
        return None
    if len(expr.args) != 1 or expr.args[0].keyword is not None and expr.args[0].keyword.value not in ("x", "a"):
        return None
    return expr.args[0].value


def is_flattened(ctx: FileContext, facts: FunctionFacts, expr: cst.BaseExpression) -> bool:
    """``expr`` is surely rank 1: ``K.flatten(x)``, ``tf.reshape(x, [-1])``, or a name bound to one."""
    if type(expr) is cst.Name:
        reaching = values_reaching(ctx, expr)
        return bool(reaching) and all(_is_vector_value(ctx, v) for _operator, v in reaching)  # type: ignore[union-attr]
    return _is_vector_value(ctx, expr)


def _is_vector_value(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    if type(expr) is not cst.Call:
        return False
    qualname = ctx.imports.qualname(expr.func)
    if qualname in _FLATTENS:
        return True
    if qualname in _RESHAPES:
        shape = get_arg(expr, "shape", 1) or get_arg(expr, "newshape", 1)
        if type(shape) in (cst.List, cst.Tuple) and len(shape.elements) == 1:
            return literal_int(shape.elements[0].value) == -1
    return False


# -- len() of a tensor ---------------------------------------------------------------------------
_LIST_MAKERS = frozenset({"unstack", "split", "shape_n", "meshgrid", "dynamic_partition"})
_TENSOR_OP_MODULES = frozenset({
    "tensorflow", "tensorflow.math", "tensorflow.nn", "tensorflow.image", "tensorflow.linalg",
    "keras.ops", "keras.backend", "tensorflow.keras.backend",
})


def _len_of_tensor(ctx: FileContext, facts: FunctionFacts, call: cst.Call) -> Iterator[ShapeProblem]:
    """``len(x)`` where ``x`` is a tensor op's result made from ``y_true``/``y_pred``: its first
    dimension follows the batch and is None while Keras traces the loss (``len(y_pred)`` itself
    is output-indexing's to report)."""
    if not (type(call.func) is cst.Name and call.func.value == "len" and len(call.args) == 1):
        return
    arg = call.args[0].value
    value = facts.single_value(arg.value) if type(arg) is cst.Name else arg
    if type(value) is not cst.Call or not facts.derives(value):
        return
    qualname = ctx.imports.qualname(value.func) or ""
    module, _, name = qualname.rpartition(".")
    if module not in _TENSOR_OP_MODULES or name in _LIST_MAKERS or name in SHAPE_QUERIES:
        return  # `len(ops.shape(y))` is the rank; `tree.flatten(...)` a list
    yield ShapeProblem(
        call,
        f"`{ctx.code_for(call)}` asks for the static length of a tensor made from the batch, which is None "
        "while Keras traces the loss (TypeError). Use `tf.shape(x)[0]` or `keras.ops.shape(x)[0]`.",
    )
