"""Pure shape functions: what each kind of op does to shapes (NumPy/TensorFlow semantics).

Each function takes :class:`Shape` values and plain Python ints and returns the result Shape,
``None`` when the result cannot be known without guessing, or raises :class:`ShapeError`
when the op certainly fails at run time (an axis out of range, sizes that cannot match).
Slicing past the end of a known axis does not fail at run time (it silently clips), so
:func:`index_shape` reports it through the ``warnings`` list instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

from losscheck.shapes.domain import (
    ANY,
    SCALAR,
    Dim,
    Shape,
    Sym,
    normalize_axis,
    same_dim,
)


class ShapeError(Exception):
    """The op certainly fails (or certainly computes garbage) with these shapes."""


# -- reductions -------------------------------------------------------------------------------


def _axes(axis: int | Sequence[int], rank: int) -> list[int]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        n = normalize_axis(a, rank)
        if n is None:
            raise ShapeError(f"axis {a} is out of range for rank {rank}")
        out.append(n)
    return out


def reduce_shape(shape: Shape, axis: int | Sequence[int] | None, keepdims: bool) -> Shape | None:
    if axis is None:
        return Shape((1,) * shape.rank) if keepdims else SCALAR
    axes = _axes(axis, shape.rank)
    if len(set(axes)) != len(axes):
        return None  # duplicate axes: NumPy refuses, TF accepts; do not claim either
    if keepdims:
        return Shape(tuple(1 if i in axes else d for i, d in enumerate(shape.dims)))
    return Shape(tuple(d for i, d in enumerate(shape.dims) if i not in axes))


# -- axis insertion / removal -----------------------------------------------------------------


def expand_dims_shape(shape: Shape, axis: int) -> Shape:
    rank = shape.rank
    if not -rank - 1 <= axis <= rank:
        raise ShapeError(f"axis {axis} is out of range for expand_dims on rank {rank}")
    pos = axis if axis >= 0 else axis + rank + 1
    dims = list(shape.dims)
    dims.insert(pos, 1)
    return Shape(tuple(dims))


def squeeze_shape(shape: Shape, axis: int | Sequence[int] | None) -> Shape | None:
    if axis is None:
        if any(not isinstance(d, int) for d in shape.dims):
            return None  # a symbolic size may be 1 at run time and be squeezed too
        return Shape(tuple(d for d in shape.dims if d != 1))
    axes = _axes(axis, shape.rank)
    for a in axes:
        d = shape.dims[a]
        if isinstance(d, int) and d != 1:
            raise ShapeError(f"cannot squeeze axis {a} of size {d}")
    return Shape(tuple(d for i, d in enumerate(shape.dims) if i not in axes))


# -- joining ----------------------------------------------------------------------------------


def _join_dim(a: Dim, b: Dim) -> Dim:
    """Two sizes that must be equal for the op to run: the better-known one, or an error."""
    if isinstance(a, int) and isinstance(b, int):
        if a != b:
            raise ShapeError(f"{a} vs {b}")
        return a
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return a if same_dim(a, b) else ANY


def concat_shape(shapes: Sequence[Shape], axis: int) -> Shape:
    if not shapes:
        raise ShapeError("nothing to concatenate")
    rank = shapes[0].rank
    if any(s.rank != rank for s in shapes):
        raise ShapeError("operands of different ranks: " + ", ".join(str(s) for s in shapes))
    if rank == 0:
        raise ShapeError("cannot concatenate scalars")
    ax = normalize_axis(axis, rank)
    if ax is None:
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    dims: list[Dim] = []
    for i in range(rank):
        column = [s.dims[i] for s in shapes]
        if i == ax:
            dims.append(sum(column) if all(isinstance(d, int) for d in column) else ANY)  # type: ignore[arg-type]
            continue
        d = column[0]
        for other in column[1:]:
            try:
                d = _join_dim(d, other)
            except ShapeError:
                raise ShapeError(
                    f"axis {i} differs ({', '.join(str(s) for s in shapes)})"
                ) from None
        dims.append(d)
    return Shape(tuple(dims))


def stack_shape(shapes: Sequence[Shape], axis: int) -> Shape:
    if not shapes:
        raise ShapeError("nothing to stack")
    rank = shapes[0].rank
    if any(s.rank != rank for s in shapes):
        raise ShapeError("operands of different ranks: " + ", ".join(str(s) for s in shapes))
    dims: list[Dim] = []
    for i in range(rank):
        d = shapes[0].dims[i]
        for s in shapes[1:]:
            try:
                d = _join_dim(d, s.dims[i])
            except ShapeError:
                raise ShapeError("operands of different shapes: " + ", ".join(str(s) for s in shapes)) from None
        dims.append(d)
    if not -rank - 1 <= axis <= rank:
        raise ShapeError(f"axis {axis} is out of range for stack on rank {rank}")
    pos = axis if axis >= 0 else axis + rank + 1
    dims.insert(pos, len(shapes))
    return Shape(tuple(dims))


# -- reshape / transpose / matmul -------------------------------------------------------------


def _factor(dims: Sequence[Dim]) -> tuple[int, list[Dim]] | None:
    """(product of the known ints, symbolic dims); None when a dim is ANY."""
    const, syms = 1, []
    for d in dims:
        if isinstance(d, int):
            const *= d
        elif isinstance(d, Sym):
            syms.append(d)
        else:
            return None
    return const, syms


def reshape_shape(shape: Shape, target: Sequence[Dim]) -> Shape | None:
    ints = [d for d in target if isinstance(d, int)]
    if sum(1 for d in ints if d == -1) > 1:
        raise ShapeError("more than one -1 in the new shape")
    if any(d < -1 for d in ints):
        raise ShapeError(f"negative size in the new shape {tuple(target)}")
    known_target = [d for d in target if d != -1]
    source = _factor(shape.dims)
    dest = _factor(known_target)
    has_wild = -1 in ints
    if source is None or dest is None:
        return Shape(tuple(ANY if d == -1 else d for d in target)) if has_wild else Shape(tuple(target))
    (s_const, s_syms), (t_const, t_syms) = source, dest
    remaining = list(s_syms)
    for sym in t_syms:
        if sym in remaining:
            remaining.remove(sym)
        else:
            remaining = None  # the target names a size the source does not have: give up
            break
    if not has_wild:
        if remaining == [] and s_const != t_const:
            raise ShapeError(f"cannot reshape {shape} ({s_const} elements) into {Shape(tuple(target))}")
        return Shape(tuple(target))
    if remaining is None:
        wild: Dim = ANY
    elif t_const == 0:
        wild = ANY
    elif s_const % t_const != 0:
        if not remaining:
            raise ShapeError(f"cannot reshape {shape} ({s_const} elements) into {Shape(tuple(target))}")
        wild = ANY
    elif not remaining:
        wild = s_const // t_const
    elif len(remaining) == 1 and s_const == t_const:
        wild = remaining[0]
    else:
        wild = ANY
    return Shape(tuple(wild if d == -1 else d for d in target))


def transpose_shape(shape: Shape, perm: Sequence[int] | None) -> Shape:
    if perm is None:
        return Shape(tuple(reversed(shape.dims)))
    if len(perm) != shape.rank:
        raise ShapeError(f"permutation {tuple(perm)} does not match rank {shape.rank}")
    norm = []
    for p in perm:
        n = normalize_axis(p, shape.rank)
        if n is None:
            raise ShapeError(f"permutation {tuple(perm)} is out of range for rank {shape.rank}")
        norm.append(n)
    if sorted(norm) != list(range(shape.rank)):
        raise ShapeError(f"{tuple(perm)} is not a permutation")
    return Shape(tuple(shape.dims[p] for p in norm))


def matmul_shape(a: Shape, b: Shape, transpose_a: bool = False, transpose_b: bool = False) -> Shape | None:
    from losscheck.shapes.domain import broadcast

    if a.rank < 2 or b.rank < 2:
        return None  # 1-D operands: NumPy and TF disagree; stay silent
    m, k1 = (a.dims[-1], a.dims[-2]) if transpose_a else (a.dims[-2], a.dims[-1])
    k2, n = (b.dims[-1], b.dims[-2]) if transpose_b else (b.dims[-2], b.dims[-1])
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ShapeError(f"inner sizes differ: {k1} vs {k2}")
    batch = broadcast(Shape(a.dims[:-2]), Shape(b.dims[:-2]))
    if batch.status == "incompatible":
        raise ShapeError(f"batch axes do not broadcast: {Shape(a.dims[:-2])} vs {Shape(b.dims[:-2])}")
    if batch.shape is None:
        return None
    return Shape(batch.shape.dims + (m, n))


# -- gather / one_hot -------------------------------------------------------------------------


def gather_shape(params: Shape, indices: Shape, axis: int | None, index_values: Sequence[int] | None = None) -> Shape:
    if axis is None:  # NumPy/keras take: the flattened array
        return indices
    ax = normalize_axis(axis, params.rank)
    if ax is None:
        raise ShapeError(f"axis {axis} is out of range for rank {params.rank}")
    size = params.dims[ax]
    if index_values is not None and isinstance(size, int):
        for i in index_values:
            if not 0 <= i < size:
                raise ShapeError(f"index {i} is out of range for axis {ax} of size {size}")
    return Shape(params.dims[:ax] + indices.dims + params.dims[ax + 1 :])


def one_hot_shape(indices: Shape, depth: Dim, axis: int = -1) -> Shape:
    rank = indices.rank
    if not -1 <= axis <= rank:
        raise ShapeError(f"axis {axis} is out of range for one_hot on rank {rank}")
    dims = list(indices.dims)
    dims.insert(rank if axis == -1 else axis, depth)
    return Shape(tuple(dims))


# -- indexing and slicing ---------------------------------------------------------------------


@dataclass(frozen=True)
class IntIndex:
    """An integer index into an axis."""

    value: int


@dataclass(frozen=True)
class SliceIndex:
    """A slice of an axis."""

    start: int | None
    stop: int | None
    step: int | None
    known: bool = True  # False: a bound is not a known int (the size is then unknown)


@dataclass(frozen=True)
class NewAxis:
    """``None``/``tf.newaxis`` in an index: a new axis of size 1."""

    pass


@dataclass(frozen=True)
class EllipsisIndex:
    """``...`` in an index."""

    pass


@dataclass(frozen=True)
class OpaqueIndex:
    """A tensor or unknown value used as an index: the result is not known."""


IndexItem = Union[IntIndex, SliceIndex, NewAxis, EllipsisIndex, OpaqueIndex]


@dataclass
class IndexWarning:
    """An index or slice that goes past the end of a known axis."""

    axis: int
    size: int
    text: str  # what went past the end, e.g. "0:5" or "4"


@dataclass
class IndexResult:
    """The shape an index gives, with its warnings and the slices taken."""

    shape: Shape | None
    warnings: list[IndexWarning] = field(default_factory=list)
    # (axis in the input, slice) for every known slice on a known axis: used for layout checks
    slices: list[tuple[int, SliceIndex]] = field(default_factory=list)


def _is_full(s: SliceIndex) -> bool:
    return s.known and s.start in (None, 0) and s.stop is None and s.step in (None, 1)


def index_shape(shape: Shape, items: Sequence[IndexItem]) -> IndexResult:
    if any(isinstance(i, OpaqueIndex) for i in items):
        return IndexResult(None)
    ellipses = sum(1 for i in items if isinstance(i, EllipsisIndex))
    if ellipses > 1:
        raise ShapeError("an index can only have a single ellipsis")
    consumed = sum(1 for i in items if isinstance(i, (IntIndex, SliceIndex)))
    if consumed > shape.rank:
        raise ShapeError(f"too many indices ({consumed}) for {shape}, of rank {shape.rank}")
    expanded: list[IndexItem] = []
    for item in items:
        if isinstance(item, EllipsisIndex):
            expanded.extend(SliceIndex(None, None, None) for _ in range(shape.rank - consumed))
        else:
            expanded.append(item)
    if not ellipses:
        expanded.extend(SliceIndex(None, None, None) for _ in range(shape.rank - consumed))
    out: list[Dim] = []
    result = IndexResult(None)
    axis = 0
    for item in expanded:
        if isinstance(item, NewAxis):
            out.append(1)
            continue
        dim = shape.dims[axis]
        if isinstance(item, IntIndex):
            if isinstance(dim, int) and not -dim <= item.value < dim:
                raise ShapeError(f"index {item.value} is out of range for axis {axis} of size {dim}")
        elif isinstance(item, SliceIndex):
            if item.known and item.step == 0:
                raise ShapeError("slice step cannot be zero")
            if _is_full(item):
                out.append(dim)
            elif isinstance(dim, int) and item.known:
                length = len(range(dim)[slice(item.start, item.stop, item.step)])
                out.append(length)
                result.slices.append((axis, item))
                step = item.step or 1
                past = (
                    step > 0
                    and (
                        (item.stop is not None and item.stop > dim)
                        or (item.start is not None and item.start >= dim)
                    )
                )
                if past:
                    text = f"{'' if item.start is None else item.start}:{'' if item.stop is None else item.stop}"
                    result.warnings.append(IndexWarning(axis, dim, text))
            elif item.known and item.start is None and item.stop is None and item.step in (1, -1):
                out.append(dim)  # x[::-1] keeps the size
            else:
                out.append(ANY)
        axis += 1
    result.shape = Shape(tuple(out))
    return result
