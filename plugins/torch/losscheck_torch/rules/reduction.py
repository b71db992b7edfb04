"""LTH101: a per-sample PyTorch loss that reduces over the batch."""

from __future__ import annotations

from typing import Iterable, Iterator

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finding import Finding
from losscheck.lint.rule import Invalid
from losscheck_torch._facts import TorchLoss, keyword, names_in, positional, torch_facts
from losscheck_torch._losscalls import Resolver
from losscheck.lint.astutil import own_nodes
from losscheck_torch.rules._base import TorchRule

PLUGIN_API = 1

SAMPLE_WEIGHT_NAMES = frozenset(
    {
        "sample_weight",
        "sample_weights",
        "per_sample_weight",
        "per_sample_weights",
        "instance_weight",
        "instance_weights",
        "example_weight",
        "example_weights",
    }
)
# Methods that keep a scalar a scalar: we look through them to the reduction underneath.
_PASS_THROUGH = frozenset({"float", "double", "half", "to", "type", "clone", "contiguous", "squeeze", "unsqueeze"})


def _assignments(fn: cst.FunctionDef) -> dict[str, list[cst.BaseExpression]]:
    """Every value assigned to each plain name in the function's own code (augmented ones too)."""
    found: dict[str, list[cst.BaseExpression]] = {}
    for node in own_nodes(fn):
        kind = type(node)
        if kind is cst.Assign:
            for t in node.targets:
                if type(t.target) is cst.Name:
                    found.setdefault(t.target.value, []).append(node.value)
        elif (
            (kind is cst.AnnAssign or kind is cst.AugAssign)
            and type(node.target) is cst.Name
            and node.value is not None
        ):
            found.setdefault(node.target.value, []).append(node.value)
    return found


def returned_values(fn: cst.FunctionDef) -> list[cst.BaseExpression]:
    """What the function returns (the first element of a returned tuple: the loss, by convention)."""
    found: list[cst.BaseExpression] = []
    for node in own_nodes(fn):
        if type(node) is cst.Return and node.value is not None:
            value = node.value
            if isinstance(value, cst.Tuple) and value.elements:
                value = value.elements[0].value
            found.append(value)
    return found


def value_terms(
    expr: cst.BaseExpression, assigns: dict[str, list[cst.BaseExpression]], seen: set[str] | None = None
) -> Iterator[cst.Call]:
    """The calls whose results make up ``expr`` arithmetically: through + - * /, unary minus,
    local names (every value assigned to them) and dtype/device casts. Calls are not opened."""
    seen = set() if seen is None else seen
    if isinstance(expr, cst.BinaryOperation):
        yield from value_terms(expr.left, assigns, seen)
        yield from value_terms(expr.right, assigns, seen)
    elif isinstance(expr, cst.UnaryOperation):
        yield from value_terms(expr.expression, assigns, seen)
    elif isinstance(expr, cst.Name):
        if expr.value not in seen:
            seen.add(expr.value)
            for value in assigns.get(expr.value, []):
                yield from value_terms(value, assigns, seen)
    elif isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _PASS_THROUGH:
            yield from value_terms(expr.func.value, assigns, seen)
        else:
            yield expr


def batch_reduction(call: cst.Call, resolver: Resolver) -> str | None:
    """Why ``call`` returns one value for the whole batch, or None if it does not (or we cannot tell)."""
    loss = resolver.loss_call(call)
    if loss is not None:
        if loss.reduction == "mean" and not loss.explicit:
            return f'`{loss.label}` averages over the batch by default (reduction="mean")'
        if loss.reduction in {"mean", "sum", "batchmean"}:
            verb = "sums" if loss.reduction == "sum" else "averages"
            return f'`{loss.label}` with reduction="{loss.reduction}" {verb} over the batch'
        return None
    func = call.func
    qual = resolver.qualname(func)
    if qual in {"torch.mean", "torch.sum"}:
        target = positional(call, 0)
        dim = keyword(call, "dim") or positional(call, 1)
        what = f"`{qual}(...)`"
    elif (
        isinstance(func, cst.Attribute) and func.attr.value in {"mean", "sum"} and resolver.qualname(func.value) is None
    ):
        target = func.value
        dim = keyword(call, "dim") or positional(call, 0)
        what = f"`.{func.attr.value}()`"
    else:
        return None
    if target is None or keyword(call, "axis") is not None:
        return None  # NumPy-style spelling or an odd call: not ours to judge
    if dim is None:
        return f"{what} with no dim reduces over every axis, the batch included"
    if isinstance(dim.value, cst.Integer) and dim.value.evaluated_value == 0:
        return f"{what} over dim 0 reduces over the batch"
    return None


class PerSampleBatchReduction(TorchRule):
    """A per-sample PyTorch loss that returns one value for the whole batch.

    ## What it does
    Finds loss functions that promise one value per sample and reduce over the batch anyway:
    - functions whose name says per-sample (`per_sample_loss`, `PerExampleFocalLoss.forward`,
      `unreduced_ce`, `elementwise_loss`...) that return a `torch.nn.functional` loss or an
      `nn.*Loss` object with the default `reduction="mean"` (or `"sum"`), or `.mean()` / `.sum()` with
      no `dim` (or `dim=0`);
    - losses that multiply such a batch-reduced value by a `sample_weight` parameter.

    ## Why is this bad?
    Every `torch.nn.functional` loss averages over the batch unless told `reduction="none"`. A
    per-sample loss that does so returns a single number: weighting it by `sample_weight` scales the
    batch mean instead of weighting each sample, hard-example mining and per-sample logging see the
    same number for every sample, and nothing fails. This is the PyTorch form of Keras's batch-mean
    loss (losscheck's LCK101).

    ## Example
    ```python
    import torch.nn.functional as F

    def per_sample_loss(logits, target):
        return F.binary_cross_entropy_with_logits(logits, target)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    def per_sample_loss(logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)
    ```
    """

    code = "LTH101"
    name = "torch-batch-reduction"
    summary = 'A per-sample PyTorch loss reduces over the batch (reduction="mean", .mean() without dim)'
    severity = "error"
    losses_only = True

    VALID = [
        """
        import torch.nn.functional as F

        def per_sample_loss(logits, target):
            return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)
        """,
        # an ordinary batch loss: reducing over the batch is what it is for
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            return F.cross_entropy(logits, target)
        """,
        """
        import torch
        import torch.nn.functional as F

        def weighted_loss(pred, target, sample_weight):
            per_sample = F.mse_loss(pred, target, reduction="none").mean(dim=1)
            return (per_sample * sample_weight).mean()
        """,
        # the reduction is a variable: we cannot tell, so we stay quiet
        """
        import torch.nn.functional as F

        class PerSampleLoss:
            def __init__(self, reduction):
                self.reduction = reduction

            def forward(self, logits, target):
                return F.cross_entropy(logits, target, reduction=self.reduction)
        """,
        """
        import torch

        def per_pixel_loss(pred, target):
            return ((pred - target) ** 2).mean(dim=1)
        """,
    ]
    INVALID = [
        Invalid(
            """
            import torch.nn.functional as F

            def per_sample_loss(logits, target):
                return F.binary_cross_entropy_with_logits(logits, target)
            """,
            message='averages over the batch by default (reduction="mean")',
            line=5,
        ),
        Invalid(
            """
            import torch
            from torch import nn

            class PerExampleFocalLoss(nn.Module):
                def forward(self, logits, target):
                    p = torch.sigmoid(logits)
                    loss = -(target * (1 - p) ** 2 * torch.log(p))
                    return loss.mean()
            """,
            message="`.mean()` with no dim",
            line=9,
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def weighted_loss(pred, target, sample_weight):
                return F.mse_loss(pred, target) * sample_weight
            """,
            message="scales the batch mean",
        ),
        Invalid(
            """
            from torch import nn

            class PerSampleCE(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.ce = nn.CrossEntropyLoss(label_smoothing=0.1)

                def forward(self, logits, target):
                    loss = self.ce(logits, target)
                    return loss
            """,
            message="`nn.CrossEntropyLoss` averages over the batch by default",
            line=10,
        ),
        Invalid(
            """
            import torch

            def unreduced_mse(pred, target):
                return torch.sum((pred - target) ** 2, dim=0)
            """,
            message="over dim 0",
        ),
    ]

    def check(self, ctx: FileContext) -> Iterable[Finding] | None:
        facts = torch_facts(ctx)
        for fn in facts.losses:
            weights = [p for p in fn.params if p in SAMPLE_WEIGHT_NAMES]
            if not (fn.per_sample or weights) or _configurable(fn):
                continue
            resolver = facts.resolver(facts.scope_of(fn.node))
            assigns = _assignments(fn.node)
            reported: set[int] = set()
            if fn.per_sample:
                # every return must reduce the batch: a function with one per-sample return path
                # is one whose reduction depends on its caller, and we cannot judge that
                per_return = [
                    [(call, why) for call in value_terms(value, assigns) if (why := batch_reduction(call, resolver))]
                    for value in returned_values(fn.node)
                ]
                if per_return and all(per_return):
                    for terms in per_return:
                        for call, why in terms:
                            if id(call) not in reported:
                                reported.add(id(call))
                                ctx.report(self, call, _per_sample_message(fn, why))
            for weight in weights:
                for call in _weighted_terms(fn, assigns, weight):
                    why = batch_reduction(call, resolver)
                    if why and id(call) not in reported:
                        reported.add(id(call))
                        ctx.report(
                            self,
                            call,
                            f"{why}, so multiplying it by `{weight}` scales the batch mean instead of weighting "
                            f'each sample: use reduction="none", reduce the non-batch dims, then weight',
                        )
        return None


def _configurable(fn: TorchLoss) -> bool:
    """The function reads a ``reduction``/``reduce`` setting (``self.reduction``, a parameter):
    what it returns is the caller's choice, not a mistake we can see."""
    keywords = {id(fn.node.name)}  # the function's own name (`unreduced_mse`) is not a setting
    for node in own_nodes(fn.node):
        kind = type(node)
        if kind is cst.Arg and node.keyword is not None:
            keywords.add(id(node.keyword))
        elif kind is cst.Name and "reduc" in node.value and id(node) not in keywords:
            return True
        elif kind is cst.Attribute and "reduc" in node.attr.value:
            return True
    return any("reduc" in p for p in fn.params)


def _per_sample_message(fn: TorchLoss, why: str) -> str:
    return (
        f"`{fn.name}` is a per-sample loss (its name says so) but {why}: it returns one value for the "
        'whole batch; use reduction="none" and reduce only the non-batch dims (e.g. `.flatten(1).mean(1)`)'
    )


def _weighted_terms(fn: TorchLoss, assigns: dict[str, list[cst.BaseExpression]], weight: str) -> Iterator[cst.Call]:
    """Batch-level terms multiplied by the sample weight on the way to the returned value."""
    products: list[cst.BinaryOperation] = []

    def collect(expr: cst.BaseExpression, seen: set[str]) -> None:
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Multiply):
                products.append(expr)
            collect(expr.left, seen)
            collect(expr.right, seen)
        elif isinstance(expr, cst.UnaryOperation):
            collect(expr.expression, seen)
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            collect(expr.func.value, seen)  # (loss * w).mean(): the product is inside
        elif isinstance(expr, cst.Name) and expr.value not in seen:
            seen.add(expr.value)
            for value in assigns.get(expr.value, []):
                collect(value, seen)

    for value in returned_values(fn.node):
        collect(value, set())
    for product in products:
        for side, other in ((product.left, product.right), (product.right, product.left)):
            # `w`, `w[:, None]`, `w.view(-1, 1)`: the weight itself, reshaped at most
            weight_like = isinstance(side, (cst.Name, cst.Subscript, cst.Call)) and weight in names_in(side)
            if weight_like and weight not in names_in(other):
                yield from value_terms(other, assigns)
