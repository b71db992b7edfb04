"""Who calls a loss, as the finder and the rules need to know it: Keras itself (with one
output's tensors, batch first), or a custom training loop (with whatever it passes, wanting one
value for the batch)."""

from __future__ import annotations

import libcst as cst

from losscheck.lint.api.value_ops import TRAINING_STEP_CALLS
from losscheck.lint.api.loss_names import LOOP_PAIRS, is_strong_pred, is_strong_true
from losscheck.lint.astutil import own_nodes
from losscheck.lint.context import LossFunction


def is_custom_loop_style(fn: LossFunction) -> bool:
    """Called only from a training step in this file (a function that runs a ``GradientTape``,
    ``tape.gradient``, ``minimize`` or ``apply_gradients``), or found only by a pair that custom
    training loops use (``loss_function(real, pred)``, or the prediction first:
    ``partial_losses(predict, target)``): a loss that returns one value for the batch is what the
    loop wants."""
    if fn.origin == "loop":
        return True
    return fn.origin == "signature" and ((fn.y_true, fn.y_pred) in LOOP_PAIRS or _prediction_first(fn))


def _prediction_first(fn: LossFunction) -> bool:
    if type(fn.node) is not cst.FunctionDef or fn.y_pred is None or fn.y_true is None:
        return False
    names = [p.name.value for p in (*fn.node.params.posonly_params, *fn.node.params.params)]
    return fn.y_pred in names and fn.y_true in names and names.index(fn.y_pred) < names.index(fn.y_true)




def is_training_step(scope: cst.CSTNode | None) -> bool:
    """A function that runs a training step: a ``GradientTape``, ``x.gradient(...)``,
    ``optimizer.minimize(...)`` or ``apply_gradients(...)`` in its own body."""
    if type(scope) is not cst.FunctionDef:
        return False
    for node in own_nodes(scope):
        if type(node) is cst.Attribute and node.attr.value == "GradientTape":
            return True
        if type(node) is cst.Name and node.value == "GradientTape":
            return True
        if type(node) is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value in TRAINING_STEP_CALLS:
            return True
    return False


def is_keras_called(fn: LossFunction) -> bool:
    """Is ``fn`` surely called by Keras as ``fn(y_true, y_pred)`` with one output's tensors?

    True for functions passed to ``compile``, ``Loss.call`` methods, and signatures with the
    unmistakable names (``y_true``/``y_pred``...). A weak pair such as ``(targets, outputs)`` may be a
    custom-training-loop helper that receives lists of outputs, so rules about per-output tensors
    skip it.
    """
    if fn.origin == "loop":
        return False  # a training step calls it, with whatever it passes
    if fn.origin != "signature":
        return True
    return is_strong_true(fn.y_true or "") or is_strong_pred(fn.y_pred or "")


def overrides_loss_call(fn: LossFunction, loss_classes: frozenset[str]) -> bool:
    """``__call__`` of a Keras ``Loss`` subclass (``loss_classes``: the file's): ``Loss.__call__``
    returns the value already reduced over the batch (``call`` is what returns one value per
    example), so an override that reduces keeps the contract (a "batchmean" KL divergence that a
    training step calls)."""
    node = fn.node
    return (fn.class_node is not None and fn.class_node.name.value in loss_classes
            and type(node) is cst.FunctionDef and node.name.value == "__call__")
