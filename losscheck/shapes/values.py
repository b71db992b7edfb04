"""Abstract values the interpreter assigns to expressions.

- :class:`Tensor`: a tensor (or array) whose shape is a :class:`Shape`, or None when its rank
  is unknown; ``origin`` is "y_true"/"y_pred" while the value is still that parameter itself
  (renamed or cast), so rules can relate a slice to the output layout.
- :class:`Const`: a Python constant the code computes with (ints for axes, depths, slices...).
- :class:`Seq`: a tuple/list display whose items are abstract values (``[a, b]`` for concat).
- :class:`ShapeOf`: ``x.shape`` / ``tf.shape(x)`` / ``keras.ops.shape(x)``; indexing it gives dims.
- :class:`DimValue`: one dimension taken out of a ShapeOf when it is not a known integer.
- :class:`LossObj`: an instance of a Keras ``Loss`` class (``BinaryCrossentropy()``).
- ``UNKNOWN``: anything else. Rules say nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from losscheck.shapes.domain import SCALAR, Dim, Shape


@dataclass(frozen=True)
class Tensor:
    """A tensor value: its shape when known, and where it came from."""

    shape: Shape | None
    origin: str | None = None  # "y_true" / "y_pred" while this is still the parameter itself
    # When the rank is unknown: what axis 0 is, if known (the batch B for y_true/y_pred, the
    # number of stacked values after tf.stack). Lets "is axis 0 the batch?" be answered for
    # losses whose shapes nobody declared.
    lead: Dim | None = None

    @property
    def axis0(self) -> Dim | None:
        if self.shape is not None:
            return self.shape.dims[0] if self.shape.rank else None
        return self.lead


@dataclass(frozen=True)
class Const:
    """A Python constant."""

    value: Any  # int, float, bool, str, None, Ellipsis, slice


@dataclass(frozen=True)
class Seq:
    """A tuple or list of values."""

    items: tuple[Value, ...]
    kind: str = "tuple"  # "tuple" | "list"


@dataclass(frozen=True)
class ShapeOf:
    """The value of ``x.shape``."""

    shape: Shape


@dataclass(frozen=True)
class DimValue:
    """One dimension of a shape used as a number (``x.shape[0]``)."""

    dim: Dim


@dataclass(frozen=True)
class LossObj:
    """A Keras ``Loss`` object, with the function it wraps and its reduction."""

    fn: str  # the keras.losses function the class wraps, e.g. "binary_crossentropy"
    family: str  # "keras.losses" | "tf.keras.losses"
    reduction: str | None  # "sum_over_batch_size" (default), "none", ... ; None: unknown
    kwargs: tuple[tuple[str, Value], ...] = ()


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()

Value = Union[Tensor, Const, Seq, ShapeOf, DimValue, LossObj, _Unknown]


def is_number(value: Value) -> bool:
    return isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool)


def as_int(value: Value) -> int | None:
    if isinstance(value, Const) and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def as_dim(value: Value) -> Dim | None:
    """A value used as a size (a depth, a reshape entry): an int or a symbolic dim."""
    n = as_int(value)
    if n is not None:
        return n
    if isinstance(value, DimValue):
        return value.dim
    return None


def as_int_tuple(value: Value) -> tuple[int, ...] | None:
    """``1`` -> (1,), ``[1, 2]`` / ``(1, 2)`` -> (1, 2); None when anything is not a known int."""
    n = as_int(value)
    if n is not None:
        return (n,)
    if isinstance(value, Seq):
        out = []
        for item in value.items:
            k = as_int(item)
            if k is None:
                return None
            out.append(k)
        return tuple(out)
    return None


def tensor_shape(value: Value) -> Shape | None:
    """The shape ``value`` has when an op converts it to a tensor, or None when unknown."""
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, Const):
        if isinstance(value.value, (int, float, bool)):
            return SCALAR
        return None
    if isinstance(value, DimValue):
        return SCALAR
    if isinstance(value, Seq):
        # A nested list of numbers: rectangular -> its shape (what tf.constant/np.array give).
        if not value.items:
            return Shape((0,))
        inner = [tensor_shape(item) for item in value.items]
        if any(s is None for s in inner):
            return None
        # Only plain numbers or nested displays: a list of tensors is stacked by TF too, but
        # NumPy may refuse, so stay silent on those.
        if not all(isinstance(item, (Const, Seq)) for item in value.items):
            return None
        first = inner[0]
        if any(s != first for s in inner):
            return None
        return Shape((len(value.items),) + first.dims)  # type: ignore[union-attr]
    return None
