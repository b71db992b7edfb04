"""LCK104 masked-mean follows a masked value through straight-line code: `loss = ...` then
`loss *= mask` then `mean(loss)`, in the function's body, in a `with` block, or in one iteration
of a loop; not across branches, where the mask may not have been applied."""

from __future__ import annotations

import textwrap

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.rules.lck104_masked_mean import MaskedMean

STEP = """\
import tensorflow as tf

loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")


def loss_function(real, pred, padding_mask):
    total = 0.0
    for t in range(real.shape[1]):
{body}
        total += step
    return total
"""


@pytest.mark.parametrize("body,found", [
    ("step = loss_object(real[:, t], pred[:, t])\n"
     "mask = tf.cast(padding_mask[:, t], step.dtype)\n"
     "step *= mask\n"
     "step = tf.reduce_mean(step)", True),
    ("step = loss_object(real[:, t], pred[:, t])\n"
     "mask = tf.cast(padding_mask[:, t], step.dtype)\n"
     "step *= mask\n"
     "step = tf.reduce_sum(step) / tf.maximum(tf.reduce_sum(mask), 1.0)", False),
    ("step = loss_object(real[:, t], pred[:, t])\n"
     "mask = tf.cast(padding_mask[:, t], step.dtype)\n"
     "if t > 0:\n"
     "    step *= mask\n"
     "step = tf.reduce_mean(step)", False),  # masked on some steps only: not one value
])
def test_a_masked_mean_in_one_iteration_of_a_loop(body: str, found: bool) -> None:
    source = STEP.format(body=textwrap.indent(body, " " * 8))
    codes = [f.code for f in lint_source(source, "t.py", rules=[MaskedMean])]
    assert ("LCK104" in codes) is found
