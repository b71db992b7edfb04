"""Where a loss reduces over the batch, and what that costs, in the words ``batch-mean-reduction``
(LCK101) reports.

``return_verdicts.py`` says whether a loss's returns are reduced over the batch and which node
shows it (a ``mean`` with no axis, a Loss object, a helper that reduces); without such a verdict,
shape inference may still find a returned value that lost the batch axis, or a batch-wide term
added to the per-example loss. This module turns those verdicts into ``(node, message)`` pairs,
one per node, in the order they are found: the message names the mistake (no axis, ``axis=0``,
a flattened tensor, a Loss object, a helper, column slices) and the fix. The rule decides which
functions to ask about (losses, and metrics that another module compiles as losses).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.reductions import as_reduction
from losscheck.lint.return_verdicts import mixed_batch_terms, reduced_returns

_WHY = (
    "so the loss returns one value for the whole batch instead of one per example: Keras then "
    "cannot apply `sample_weight`/`class_weight` per example, and under a distribution strategy "
    "the loss is scaled by the number of replicas"
)


def batch_reductions(ctx: FileContext, fn: LossFunction) -> Iterator[tuple[cst.CSTNode, str]]:
    """(node, message) for each place where ``fn`` reduces over the whole batch."""
    reported: set[int] = set()
    reduced = reduced_returns(ctx, fn)
    if not reduced:  # shape inference: a returned value whose inferred shape lost the batch axis
        from losscheck.shapes.hooks import lost_batch_returns

        for node, what in lost_batch_returns(ctx, fn):
            yield node, f"{what} in the loss `{fn.name}`, {_WHY}."
            reported.add(id(node))
        yield from _mixed(ctx, fn, reported)
    for _expr, verdict in reduced:
        node = verdict.witness
        if node is None or id(node) in reported:
            continue
        reported.add(id(node))
        message = _message(ctx, fn.name, node, verdict.reason, verdict.helper)
        reduction = as_reduction(ctx, node) if type(node) is cst.Call else None
        if reduction is not None:  # shape inference: name the shape when the batch is not on axis 0
            from losscheck.shapes.hooks import batch_axis_note

            message += batch_axis_note(ctx, fn, reduction.operand, reduction.axes())
        yield node, message


def _mixed(ctx: FileContext, fn: LossFunction, reported: set[int]) -> Iterator[tuple[cst.CSTNode, str]]:
    """A batch-wide loss term added to the per-example loss: one value shared by every example."""
    for verdict in mixed_batch_terms(ctx, fn):
        node = verdict.witness
        if type(node) is not cst.Call or id(node) in reported:
            continue
        reported.add(id(node))
        callee = ctx.code_for(node.func)
        what = "returns a value reduced" if verdict.reason == "helper" else "reduces"
        message = (
            f"`{callee}(...)` {what} over the whole batch and is combined with the per-example loss in "
            f"`{fn.name}`: that term is one value shared by every example, so Keras's `sample_weight`/"
            "`class_weight` and its per-example averaging do not apply to it as they do to the rest. "
            "Reduce it over the non-batch axes only (e.g. `axis=-1` or `axis=[1, 2, 3]`)."
        )
        yield node, message


def _message(ctx: FileContext, fn_name: str, node: cst.CSTNode, reason: str, helper: str) -> str:
    assert type(node) is cst.Call
    callee = ctx.code_for(node.func)
    if reason == "helper":
        return (
            f"`{callee}(...)` returns a value reduced over the whole batch, so `{fn_name}` does too, {_WHY}. "
            f"Make `{helper}` reduce only the non-batch axes (e.g. `axis=-1` or `axis=[1, 2, 3]`)."
        )
    if reason == "loss-object":
        return (
            f"`{callee}(...)` calls a Keras Loss object inside the loss `{fn_name}`; a Loss object applies "
            f"its own reduction and returns a scalar, {_WHY}. Call the per-example function "
            "(e.g. `keras.losses.binary_crossentropy(y_true, y_pred)`) or construct the object with "
            "`reduction=None`."
        )
    if reason == "column-slices":
        return (
            f"`{callee}(...)` reduces the last axis of its operands, and the column slices it is given "
            f"(`y[:, k]`, shape (batch,)) have only the batch axis: it returns one value for the whole batch "
            f"in the loss `{fn_name}`, {_WHY}. Keep the column axis (`y[:, k:k + 1]`)."
        )
    reduction = as_reduction(ctx, node)
    op = f"`{callee}(...)`"
    how = {
        "no-axis": "with no axis reduces over the batch axis",
        "flattened": "of a flattened tensor (`flatten`/`reshape(x, [-1])` merged the batch into its one axis) "
        "reduces over the batch axis",
    }.get(reason, "with axis=0 reduces over the batch axis")
    if reason not in ("no-axis", "flattened") and reduction is not None and reduction.axis is not None:
        # shape inference can find the batch on another axis (axis=-1 of a (B,) value): say which
        how = f"with axis={ctx.code_for(reduction.axis)} reduces over the batch axis"
    extra = ""
    if reduction is not None and reduction.api.name == "average":
        extra = " `np.average` also fails on symbolic tensors."
    return (
        f"{op} {how} in the loss `{fn_name}`, {_WHY}. Reduce only the non-batch axes "
        f"(e.g. `axis=-1`, or `axis=[1, 2, 3]` for images) and let Keras average over the batch.{extra}"
    )
