"""LTH104: integer indexing on the batch axis of a loss's tensor (``pred[0]``)."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finding import Finding
from losscheck.lint.rule import Invalid
from losscheck_torch._facts import Scope, TorchLoss, torch_facts
from losscheck_torch._losscalls import Resolver
from losscheck.lint.astutil import own_nodes
from losscheck_torch.rules._base import TorchRule

PLUGIN_API = 1

# Losses whose input and target are (N, C, ...) / (N, ...): axis 0 is the batch, by PyTorch's contract.
_BATCH_FIRST_LOSSES = frozenset({"cross_entropy", "nll_loss", "multi_margin_loss", "multilabel_margin_loss"})
_BATCH_SIZE_NAME = re.compile(r"^(b|bs|n|batch|batch_size|batchsize|n_batch|num_samples|n_samples|nb)$", re.IGNORECASE)
_JAXTYPING_BATCH = re.compile(r"^\s*\.*\*?(b|batch|bs|batch_size|n)\b", re.IGNORECASE)
# The core's wrong-axis rule (LCK102) already covers Keras-named parameters.
_KERAS_NAMES = frozenset({"y_true", "y_pred"})


def _batch_evidence(fn: TorchLoss, scope: Scope, resolver: Resolver) -> dict[str, str]:
    """Parameters whose axis 0 is known to be the batch, with how we know it."""
    evidence: dict[str, str] = {}
    params = set(fn.params) - _KERAS_NAMES - {"self"}
    # 1. passed whole as the input/target of a loss whose axis 0 is N
    for call in scope.calls:
        loss = resolver.loss_call(call)
        if loss is None or loss.functional not in _BATCH_FIRST_LOSSES:
            continue
        for arg in (loss.input, loss.target):
            if isinstance(arg, cst.Name) and arg.value in params:
                evidence.setdefault(arg.value, f"it is passed to `{loss.label}`, whose axis 0 is the batch")
    # 2. `batch_size = pred.shape[0]` / `pred.size(0)` / `len(pred)`
    for stmt in _assign_statements(fn.node):
        target, value = stmt
        if not _BATCH_SIZE_NAME.match(target):
            continue
        source = _size0_of(value)
        if source in params:
            evidence.setdefault(source, f"`{target}` is taken from its axis 0")
    # 3. a jaxtyping annotation whose first dimension is the batch: Float[Tensor, "batch c"]
    for param in [*fn.node.params.params, *fn.node.params.kwonly_params, *fn.node.params.posonly_params]:
        name = param.name.value
        if name in params and param.annotation is not None:
            ann = param.annotation.annotation
            if isinstance(ann, cst.Subscript) and len(ann.slice) == 2:
                dims = ann.slice[1].slice
                if isinstance(dims, cst.Index) and isinstance(dims.value, cst.SimpleString):
                    text = dims.value.evaluated_value
                    if isinstance(text, str) and _JAXTYPING_BATCH.match(text):
                        evidence.setdefault(name, "its annotation names axis 0 the batch")
    return evidence


def _assign_statements(fn: cst.FunctionDef) -> list[tuple[str, cst.BaseExpression]]:
    return [
        (t.target.value, node.value)
        for node in own_nodes(fn)
        if type(node) is cst.Assign
        for t in node.targets
        if type(t.target) is cst.Name
    ]


def _size0_of(value: cst.BaseExpression) -> str | None:
    """``x.shape[0]`` / ``x.size(0)`` / ``len(x)`` -> ``"x"``."""
    if (
        isinstance(value, cst.Subscript)
        and isinstance(value.value, cst.Attribute)
        and value.value.attr.value == "shape"
    ):
        if len(value.slice) == 1 and _int_index(value.slice[0]) == 0 and isinstance(value.value.value, cst.Name):
            return value.value.value.value
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "size":
        if (
            len(value.args) == 1
            and isinstance(value.args[0].value, cst.Integer)
            and value.args[0].value.evaluated_value == 0
        ):
            if isinstance(value.func.value, cst.Name):
                return value.func.value.value
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "len"
        and len(value.args) == 1
    ):
        if isinstance(value.args[0].value, cst.Name):
            return value.args[0].value.value
    return None


def _int_index(element: cst.SubscriptElement) -> int | None:
    index = element.slice
    if not isinstance(index, cst.Index):
        return None
    value = index.value
    if isinstance(value, cst.Integer):
        return int(value.evaluated_value)
    if (
        isinstance(value, cst.UnaryOperation)
        and isinstance(value.operator, cst.Minus)
        and isinstance(value.expression, cst.Integer)
    ):
        return -int(value.expression.evaluated_value)
    return None


class TorchBatchIndexing(TorchRule):
    """Integer indexing on the batch axis of a PyTorch loss's tensor: `pred[0]` is a sample.

    ## What it does
    Finds `pred[0]`, `target[1]`, `logits[-1, ...]` inside loss code when the tensor's axis 0 is known
    to be the batch: it is also passed whole to `F.cross_entropy` / `F.nll_loss` (whose inputs are
    `(N, C, ...)`), its axis 0 is read as the batch size (`batch_size = pred.shape[0]`), or a
    jaxtyping annotation names axis 0 the batch. Without such evidence the rule stays quiet: a loss
    may well receive a tuple of outputs, where `outputs[0]` is right.

    ## Why is this bad?
    `pred[0]` is the first *sample* of the batch, not the first output, head or channel. The loss
    then trains on one sample, or broadcasts one sample's values against the whole batch, and
    nothing fails. Channels are on axis 1 (`pred[:, 0]`) or last (`pred[..., 0]`).

    ## Example
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        ce = F.cross_entropy(logits, target)
        aux = logits[1].pow(2).mean()
        return ce + aux
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        ce = F.cross_entropy(logits, target)
        aux = logits[:, 1].pow(2).mean()
        return ce + aux
    ```
    """

    code = "LTH104"
    name = "torch-batch-indexing"
    summary = "Integer index on the batch axis (pred[0] is a sample, not an output or channel)"
    severity = "error"
    losses_only = True

    VALID = [
        # a tuple of outputs: outputs[0] is the first head, and nothing says axis 0 is the batch
        """
        import torch.nn.functional as F

        def loss_fn(outputs, target):
            seg, cls = outputs[0], outputs[1]
            return F.mse_loss(seg, target)
        """,
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            ce = F.cross_entropy(logits, target)
            return ce + logits[:, 1].pow(2).mean()
        """,
        # a sequence-first tensor: axis 0 is time, and we have no batch evidence for it
        """
        import torch

        def loss_fn(pred, target):
            return (pred[-1] - target).pow(2).mean()
        """,
    ]
    INVALID = [
        Invalid(
            """
            import torch.nn.functional as F

            def loss_fn(logits, target):
                ce = F.cross_entropy(logits, target)
                aux = logits[1].pow(2).mean()
                return ce + aux
            """,
            message="`logits[1]` is sample 1 of the batch",
            line=6,
        ),
        Invalid(
            """
            import torch

            def loss_fn(pred, target):
                batch_size = pred.size(0)
                first = pred[0]
                return ((first - target) ** 2).sum() / batch_size
            """,
            message="`batch_size` is taken from its axis 0",
        ),
        Invalid(
            """
            import torch
            from jaxtyping import Float
            from torch import Tensor

            def loss_fn(pred: Float[Tensor, "batch 4"], target: Float[Tensor, "batch 4"]):
                return (pred[0, :2] - target[0, :2]).abs().mean()
            """,
            count=2,
        ),
    ]

    def check(self, ctx: FileContext) -> Iterable[Finding] | None:
        facts = torch_facts(ctx)
        for fn in facts.losses:
            scope = facts.scope_of(fn.node)
            evidence = _batch_evidence(fn, scope, facts.resolver(scope))
            if not evidence:
                continue
            for sub in _subscripts(fn.node):
                if not isinstance(sub.value, cst.Name) or sub.value.value not in evidence or not sub.slice:
                    continue
                index = _int_index(sub.slice[0])
                if index is None:
                    continue
                name = sub.value.value
                channel = f"{name}[:, {index}]" if len(sub.slice) == 1 else f"{name}[:, {index}, ...]"
                ctx.report(
                    self,
                    sub,
                    f"`{ctx.code_for(sub)}` is sample {index} of the batch, not an output or channel "
                    f"(axis 0 of `{name}` is the batch: {evidence[name]}); a channel is `{channel}`",
                )
        return None


def _subscripts(fn: cst.FunctionDef) -> list[cst.Subscript]:
    """Subscripts read in the function's own code (assignment targets like `x[0] = ...` excluded)."""
    found: list[cst.Subscript] = []
    targets: set[int] = set()
    for node in own_nodes(fn):  # source order: an assignment comes before its target
        if type(node) is cst.AssignTarget and type(node.target) is cst.Subscript:
            targets.add(id(node.target))
        elif type(node) is cst.Subscript and id(node) not in targets:
            found.append(node)
    return found
