"""One op call being interpreted (:class:`OpCall`), and what the handlers and the interpreter share:
reading its arguments (axes, flags, dims, lists of tensors), the batch dimension of unknown-shape
tensors, and the messages about broadcasting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from losscheck.shapes.domain import BATCH, SCALAR, Dim, Shape, broadcast
from losscheck.shapes.ops import OpSpec
from losscheck.shapes.values import (
    UNKNOWN,
    Const,
    DimValue,
    Seq,
    ShapeOf,
    Tensor,
    Value,
    as_dim,
    as_int,
    as_int_tuple,
    tensor_shape,
)



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


def one_hot_depth(value: Value) -> int | None:
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
            depth = one_hot_depth(v)
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


def make_tensor(shape: Shape | None, origin: str | None = None, lead: Dim | None = None) -> Tensor:
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


def keep_origin(value: Value) -> str | None:
    if isinstance(value, Tensor) and value.origin in ("y_true", "y_pred"):
        return value.origin
    return None


def axis_arg(call: OpCall, name: str = "axis") -> tuple[bool, Any]:
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


def bool_arg(call: OpCall, name: str, default: bool = False) -> bool | None:
    if not call.has(name):
        return default
    value = call.arg(name)
    if isinstance(value, Const) and isinstance(value.value, (bool, type(None))):
        return bool(value.value)
    return None



def tensor_list(value: Value) -> list[Shape] | None:
    if not isinstance(value, Seq):
        return None
    shapes = [tensor_shape(v) for v in value.items]
    if any(s is None for s in shapes):
        return None
    return shapes  # type: ignore[return-value]


def items_of(value: Value) -> list[Value] | None:
    return list(value.items) if isinstance(value, Seq) else None



def dims_arg(value: Value) -> list | None:
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
