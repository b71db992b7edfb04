"""The abstract domain of shape inference: dimensions, shapes and broadcasting.

A dimension is one of
- a known integer (``3``),
- a named symbol (``Sym("H")``); ``BATCH`` (``Sym("B")``) is axis 0 of ``y_true``/``y_pred``;
  two dimensions with the same name are equal, two different names may or may not be,
- ``ANY`` (printed ``?``): a size we know nothing about, not even equal to another ``?``.

A :class:`Shape` is a tuple of dimensions; a value whose rank we do not know has no Shape at all
(``None`` everywhere in this package), because every rule must stay silent on it.

Broadcasting returns a :class:`Broadcast` whose ``status`` says whether the operands are
``"ok"``, ``"incompatible"`` (two known sizes that NumPy/TF/Keras reject) or ``"suspicious"``
(the batch axes of the two operands land on different axes, as in ``(B,)`` with ``(B, 1)``,
which silently gives ``(B, B)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Sym:
    """A named dimension whose size is not known statically."""

    name: str

    def __str__(self) -> str:
        return self.name


class _Any:
    """A dimension we know nothing about (singleton ``ANY``)."""

    _instance: _Any | None = None

    def __new__(cls) -> _Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __str__(self) -> str:
        return "?"


ANY = _Any()
BATCH = Sym("B")
Dim = int | Sym | _Any


def dim_str(dim: Dim) -> str:
    return str(dim)


def same_dim(a: Dim, b: Dim) -> bool:
    """True only when ``a`` and ``b`` are certainly the same size."""
    if a is ANY or b is ANY:
        return False
    return a == b


@dataclass(frozen=True)
class Shape:
    """A tensor shape: known sizes, the batch, symbols and unknown dimensions."""

    dims: tuple[Dim, ...]

    @staticmethod
    def of(*dims: Dim) -> Shape:
        return Shape(tuple(dims))

    @property
    def rank(self) -> int:
        return len(self.dims)

    def __str__(self) -> str:
        inner = ", ".join(dim_str(d) for d in self.dims)
        return f"({inner},)" if len(self.dims) == 1 else f"({inner})"

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, i: int) -> Dim:
        return self.dims[i]

    def size(self) -> int | None:
        """The number of elements when every dimension is a known integer."""
        total = 1
        for d in self.dims:
            if not isinstance(d, int):
                return None
            total *= d
        return total


SCALAR = Shape(())

Status = Literal["ok", "incompatible", "suspicious"]


@dataclass(frozen=True)
class Broadcast:
    """The result of broadcasting operands together.

    ``shape`` is the result (None when a rank is unknown); for ``incompatible`` it is None too.
    ``axis`` is the (negative, right-aligned) axis the problem is on, for messages.
    """

    shape: Shape | None
    status: Status = "ok"
    axis: int | None = None


def _merge_dim(a: Dim, b: Dim) -> tuple[Dim, bool]:
    """Broadcast two dimensions: (result, incompatible?)."""
    if a == 1:
        return b, False
    if b == 1:
        return a, False
    if isinstance(a, int) and isinstance(b, int):
        return (a, False) if a == b else (ANY, True)
    if same_dim(a, b):
        return a, False
    # A symbol or ANY against anything else: the program is right when the sizes agree
    # (or one of them is 1 at run time); we cannot say which, so the size is unknown.
    return ANY, False


def _batch_axis(shape: Shape) -> int | None:
    """The batch axis of a batch-major value, right-aligned (negative), else None.

    Only a value whose axis 0 is the batch and that has no other batch axis counts: a
    deliberately moved batch axis (``y[None, :]`` in a pairwise loss) is not "batch-major".
    """
    if shape.rank >= 1 and shape.dims[0] == BATCH and BATCH not in shape.dims[1:]:
        return -shape.rank
    return None


def broadcast(*shapes: Shape | None) -> Broadcast:
    """Broadcast any number of shapes (NumPy rules: align on the right)."""
    known = [s for s in shapes if s is not None]
    if len(known) != len(shapes):
        return Broadcast(None)
    if not known:
        return Broadcast(SCALAR)
    # The (B,) vs (B, 1) case: two batch-major operands whose batch axes do not line up.
    batch_axes = {_batch_axis(s) for s in known if _batch_axis(s) is not None}
    suspicious_axis = min(batch_axes) if len(batch_axes) > 1 else None
    rank = max(s.rank for s in known)
    out: list[Dim] = []
    for axis in range(-rank, 0):
        dim: Dim = 1
        for s in known:
            if -axis <= s.rank:
                dim, bad = _merge_dim(dim, s.dims[axis])
                if bad:
                    return Broadcast(None, "incompatible", axis)
        out.append(dim)
    result = Shape(tuple(out))
    if suspicious_axis is not None:
        return Broadcast(result, "suspicious", suspicious_axis)
    return Broadcast(result)


def normalize_axis(axis: int, rank: int) -> int | None:
    """A non-negative axis for ``rank``, or None when out of range."""
    if -rank <= axis < rank:
        return axis % rank if rank else None
    return None
