"""When indexing axis 0 of ``y_true``/``y_pred`` picks a sample on purpose.

``y_true[0]`` in a loss Keras calls is the first sample of the batch, almost always where the
first output or channel was meant; ``wrong-axis`` (LCK102) reports it. These are the cases where
the sample is what the code wants, which the rule leaves alone:

- a loop over the samples: ``for i in range(batch_size)``, ``range(tf.shape(y_true)[0])``,
  ``range(len(y_pred))``; a loop over anything else (``range(3)``) indexes the batch by mistake;
- a question about one sample's shape: ``tf.shape(y_true[0])``, ``y_pred[0].shape``, ``len(y_true[0])``;
- a pass-through loss, whose model outputs its own loss terms and which only adds up
  ``y_pred[0] + y_pred[1]``.
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.api.value_ops import SHAPE_QUERIES
from losscheck.lint.astutil import walk
from losscheck.lint.context import FileContext
from losscheck.lint.dataflow import FunctionFacts

_SAMPLE_WORDS = ("batch", "sample", "shape", "len", "size", "bs", "n_examples", "num_examples")


def is_range_loop_var(facts: FunctionFacts, name: str) -> bool:
    """``name`` is only ever the variable of ``for name in range(...)`` loops, none of them over the
    samples: indexing with it picks samples where the loop meant something else."""
    iters = facts.loop_vars.get(name, [])
    if not iters or name in facts.assigns or name in facts.aug_assigns:
        return False
    return all(
        type(it) is cst.Call
        and type(it.func) is cst.Name
        and it.func.value == "range"
        and not _loops_over_samples(it)
        for it in iters
    )


def only_for_shape(ctx: FileContext, facts: FunctionFacts, node: cst.Subscript) -> bool:
    """`tf.shape(y_true[0])`, `y_pred[0].shape`: asking one sample's shape is fine."""
    parent = facts.parent(node)
    if type(parent) is cst.Attribute and parent.attr.value in {"shape", "dtype", "ndim"}:
        return True
    if type(parent) is cst.Arg:
        call = facts.parent(parent)
        if type(call) is cst.Call:
            found = ctx.imports.api(call.func)
            if found is not None and found.name.rsplit(".", 1)[-1] in SHAPE_QUERIES:
                return True
            if type(call.func) is cst.Name and call.func.value == "len":
                return True
    return False


def sums_output_terms(facts: FunctionFacts) -> bool:
    """A pass-through loss: the model computes its own loss terms and outputs them
    (`tf.stack([l1, l2])`), and the loss only adds up `y_pred[0] + y_pred[1]`. It never reads
    y_true, calls nothing, and only adds: a loss that compares `y_pred[0]` with `y_pred[1]`
    (a triplet loss over "anchor, positive, negative") is the batch-indexing mistake."""
    fn = facts.fn
    if fn.y_true is None:
        return False
    for node in facts.nodes:
        if type(node) is cst.Name and node.value == fn.y_true:
            return False
        if type(node) is cst.Call:
            return False
        if type(node) in (cst.BinaryOperation, cst.AugAssign) and type(node.operator) not in (cst.Add, cst.AddAssign):
            return False
    return True


def _loops_over_samples(range_call: cst.Call) -> bool:
    """`range(batch_size)`, `range(tf.shape(y_true)[0])`, `range(len(y_pred))`: a deliberate loop
    over the samples, so `y_pred[i]` is meant to be sample i."""
    for arg in range_call.args:
        for node in walk(arg.value):
            if type(node) is cst.Name and any(word in node.value.lower() for word in _SAMPLE_WORDS):
                return True
            if type(node) is cst.Subscript:
                return True  # `shape[0]`-like bounds
    return False
