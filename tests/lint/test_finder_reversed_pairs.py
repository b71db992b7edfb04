"""The prediction first: `partial_losses(predict, target)` is a custom loop's loss."""

from __future__ import annotations

import textwrap

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finder import find_loss_functions
from losscheck.lint.loss_roles import is_custom_loop_style


def found(source: str) -> list[tuple[str, str | None, str | None, bool]]:
    source = textwrap.dedent(source)
    ctx = FileContext("losses.py", source, cst.parse_module(source))
    return [(f.name, f.y_true, f.y_pred, is_custom_loop_style(f)) for f in find_loss_functions(ctx)]


def test_prediction_first_in_a_function_named_like_a_loss() -> None:
    assert found(
        """
        import tensorflow as tf

        def partial_losses(predict, target):
            return tf.reduce_mean(tf.square(predict - target))

        def seg_loss(logits, labels):
            return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        """
    ) == [("partial_losses", "target", "predict", True), ("seg_loss", "labels", "logits", True)]


def test_prediction_first_needs_a_loss_name() -> None:
    # `blend(pred, target)` could be anything: not loss code by its signature alone
    assert found(
        """
        import tensorflow as tf

        def blend(pred, target):
            return 0.5 * (pred + target)
        """
    ) == []


def test_target_first_is_keras_style() -> None:
    assert found(
        """
        import tensorflow as tf

        def dice_loss(target, pred):
            return 1.0 - tf.reduce_sum(target * pred, axis=-1)
        """
    ) == [("dice_loss", "target", "pred", False)]
