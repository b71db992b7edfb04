"""Where y_true/y_pred shapes come from: shape comments, docstrings, jaxtyping annotations, the layout."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.context import FileContext
from losscheck.shapes.sources import parse_dims, shapes_in_text


def declared(source: str, name: str = "loss", options: dict | None = None) -> dict[str, str]:
    source = textwrap.dedent(source)
    ctx = FileContext("t.py", source, cst.parse_module(source), options=options or {})
    (fn,) = [f for f in ctx.functions if f.name == name]
    return {param: str(d.shape) for param, d in ctx.shapes(fn).declared.items()}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("batch_size, height, width, 2", "(B, height, width, 2)"),
        ("None, 4", "(B, 4)"),
        ("bs, 4", "(B, 4)"),
        ("N, 4", "(B, 4)"),  # axis 0 of y_true/y_pred is the batch, whatever its name
        ("B,", "(B,)"),
        ("", "()"),
        ("B, H*W", "(B, ?)"),
        ("B, None", "(B, ?)"),
        ("B, ...", None),
        ("*batch, 4", None),
    ],
)
def test_parse_dims(text, expected):
    shape = parse_dims(text)
    assert (str(shape) if shape is not None else None) == expected


@pytest.mark.parametrize(
    "comment",
    [
        "# y_true shape: (batch_size, 4)",
        "# y_true.shape == (batch_size, 4)",
        "# y_true: tensor of shape (batch_size, 4)",
        "# y_true has shape [batch_size, 4]",
        "# shape check -- y_true shape = (batch_size, 4)",
    ],
)
def test_comment_forms(comment):
    assert shapes_in_text(comment, ["y_true", "y_pred"]) == {"y_true": parse_dims("batch_size, 4")}


def test_a_comment_naming_both_parameters_is_not_read_for_the_first():
    assert shapes_in_text("# y_true and y_pred shape: (B, 4)", ["y_true", "y_pred"]) == {
        "y_pred": parse_dims("B, 4")
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 512), st.sampled_from(["H", "W", "C", "height"])), max_size=4))
def test_comment_round_trip(dims):
    text = ", ".join(["batch_size"] + [str(d) for d in dims])
    found = shapes_in_text(f"# y_pred shape: ({text})", ["y_true", "y_pred"])
    assert str(found["y_pred"]) == "(" + ", ".join(["B"] + [str(d) for d in dims]) + ("," if not dims else "") + ")"


def test_comments_in_body_docstring_and_above_the_def():
    assert declared(
        '''
        # y_true shape: (batch_size, 3)
        def loss(y_true, y_pred):
            """Per-example loss.

            y_pred: tensor of shape (batch, 3)
            """
            return y_true - y_pred
        '''
    ) == {"y_true": "(B, 3)", "y_pred": "(B, 3)"}


def test_two_different_declarations_cancel_out():
    assert declared(
        """
        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 3)
            # y_true shape: (batch_size, 4)
            return y_true - y_pred
        """
    ) == {}


def test_jaxtyping_annotations():
    assert declared(
        """
        from jaxtyping import Float, Int
        import tensorflow as tf

        def loss(y_true: Int[tf.Tensor, "batch"], y_pred: Float[tf.Tensor, "b c"]):
            return y_pred
        """
    ) == {"y_true": "(B,)", "y_pred": "(B, c)"}


def test_variadic_jaxtyping_dims_give_no_shape():
    assert declared(
        """
        from jaxtyping import Float
        def loss(y_true: Float[Tensor, "*batch 4"], y_pred: Float[Tensor, "batch ... 4"]):
            # y_true shape: (batch_size, 4)
            return y_pred
        """
    ) == {}


def test_annotations_that_are_not_jaxtyping_are_ignored():
    assert declared(
        """
        from typing import Annotated
        def loss(y_true: Annotated[Tensor, "b 4"], y_pred: tf.Tensor):
            return y_pred
        """
    ) == {}


LAYOUT = {
    "version": 1,
    "outputs": [
        {
            "name": "seg",
            "spatial": [64, None],
            "tasks": [
                {"name": "mask", "type": "binary", "units": 1},
                {"name": "lesion", "type": "categorical", "units": 3, "targets": "sparse"},
                {"name": "size", "type": "regression", "units": 2},
            ],
        },
        {
            "name": "cls",
            "channel_axis": 1,
            "spatial": [8],
            "tasks": [{"name": "kind", "type": "categorical", "units": 4}],
        },
    ],
}


@pytest.fixture()
def layout_path(tmp_path: Path) -> str:
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(LAYOUT))
    return str(path)


def test_layout_binding_through_compile_names(layout_path):
    source = """
        import keras

        def seg_loss(y_true, y_pred):
            return y_pred

        def cls_loss(y_true, y_pred):
            return y_pred

        model = keras.Model()
        model.compile(loss={"seg": seg_loss, "cls": cls_loss})
    """
    options = {"layout_path": layout_path}
    assert declared(source, "seg_loss", options) == {"y_true": "(B, 64, seg_s2, 4)", "y_pred": "(B, 64, seg_s2, 6)"}
    assert declared(source, "cls_loss", options) == {"y_true": "(B, 4, 8)", "y_pred": "(B, 4, 8)"}


def test_layout_binding_through_a_comment_and_through_the_config(layout_path):
    source = """
        def seg_loss(y_true, y_pred):  # losscheck: output=seg
            return y_pred

        def other(y_true, y_pred):
            return y_pred
    """
    assert declared(source, "seg_loss", {"layout_path": layout_path})["y_pred"] == "(B, 64, seg_s2, 6)"
    assert declared(source, "other", {"layout_path": layout_path}) == {}
    assert declared(source, "other", {"layout_path": layout_path, "outputs": {"other": "cls"}}) == {
        "y_true": "(B, 4, 8)",
        "y_pred": "(B, 4, 8)",
    }


def test_a_comment_wins_over_the_layout(layout_path):
    source = """
        def seg_loss(y_true, y_pred):  # losscheck: output=seg
            # y_pred shape: (batch_size, 6)
            return y_pred
    """
    assert declared(source, "seg_loss", {"layout_path": layout_path}) == {
        "y_true": "(B, 64, seg_s2, 4)",
        "y_pred": "(B, 6)",
    }
