"""The shape domain: broadcasting statuses, and the pure shape functions against NumPy on concrete shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.shapes import shapefns as sf
from losscheck.shapes.domain import ANY, BATCH, SCALAR, Shape, Sym, broadcast

concrete = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@settings(max_examples=300, deadline=None)
@given(st.lists(concrete, min_size=1, max_size=3))
def test_broadcast_agrees_with_numpy_on_concrete_shapes(shapes):
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        expected = None
    result = broadcast(*[Shape(s) for s in shapes])
    if expected is None:
        assert result.status == "incompatible"
    else:
        assert result.status == "ok"
        assert result.shape == Shape(tuple(expected))


@pytest.mark.parametrize(
    "a,b,status,result",
    [
        ((BATCH,), (BATCH, 1), "suspicious", "(B, B)"),
        ((BATCH, 1), (BATCH,), "suspicious", "(B, B)"),
        ((BATCH, 3), (BATCH, 1), "ok", "(B, 3)"),
        ((BATCH, 3), (3,), "ok", "(B, 3)"),
        ((BATCH, 3), (), "ok", "(B, 3)"),
        ((BATCH, 2), (BATCH, 3), "incompatible", None),
        ((BATCH, Sym("H")), (BATCH, Sym("W")), "ok", "(B, ?)"),
        ((BATCH, Sym("H")), (BATCH, Sym("H")), "ok", "(B, H)"),
        ((BATCH, ANY), (BATCH, 3), "ok", "(B, ?)"),
        ((BATCH, 1), (1, BATCH), "ok", "(B, B)"),  # a deliberate pairwise matrix: not batch-major
        ((BATCH, Sym("H"), Sym("W")), (BATCH, Sym("H"), Sym("W"), 1), "suspicious", None),
    ],
)
def test_broadcast_statuses(a, b, status, result):
    out = broadcast(Shape(a), Shape(b))
    assert out.status == status
    if result is not None:
        assert str(out.shape) == result


def test_unknown_rank_gives_unknown_result():
    assert broadcast(Shape((BATCH,)), None).shape is None
    assert broadcast(Shape((BATCH,)), None).status == "ok"


def test_shape_printing():
    assert str(Shape((BATCH,))) == "(B,)"
    assert str(SCALAR) == "()"
    assert str(Shape((BATCH, Sym("H"), ANY, 3))) == "(B, H, ?, 3)"


@settings(max_examples=200, deadline=None)
@given(concrete.filter(bool), st.data())
def test_reshape_with_minus_one_agrees_with_numpy(shape, data):
    target = list(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    target[data.draw(st.integers(0, len(target) - 1))] = -1
    try:
        expected = np.zeros(shape).reshape(target).shape
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(sf.ShapeError):
            sf.reshape_shape(Shape(shape), target)
    else:
        assert sf.reshape_shape(Shape(shape), target) == Shape(expected)


def test_symbolic_reshape_keeps_the_batch():
    assert str(sf.reshape_shape(Shape((BATCH, 4, 4)), [-1, 16])) == "(B, 16)"
    assert str(sf.reshape_shape(Shape((BATCH, 4, 4)), [BATCH, -1])) == "(B, 16)"
    assert str(sf.reshape_shape(Shape((BATCH, 4, 4)), [-1, 8])) == "(?, 8)"


def test_squeeze_does_not_guess_symbolic_sizes():
    assert sf.squeeze_shape(Shape((BATCH, 1)), None) is None
    assert str(sf.squeeze_shape(Shape((BATCH, 1)), -1)) == "(B,)"
    with pytest.raises(sf.ShapeError):
        sf.squeeze_shape(Shape((BATCH, 3)), -1)
