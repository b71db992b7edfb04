"""What a call in PyTorch code really is: a ``torch.nn.functional`` loss, a loss object, an activation.

Shared by the rules of this pack. Names are followed through imports (``F`` ->
``torch.nn.functional``), through one-time local assignments (``probs = F.softmax(x, 1)``) and
through ``self.criterion = nn.CrossEntropyLoss()`` in the same class; anything less certain is
"unknown", and the rules stay quiet on unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from losscheck.lint.imports import ImportMap
from losscheck_torch._facts import keyword, positional, string_value

FUNCTIONAL = "torch.nn.functional"
# torch.nn.functional loss -> the nn.Module class computing the same loss
LOSS_CLASSES: dict[str, str] = {
    "l1_loss": "L1Loss",
    "mse_loss": "MSELoss",
    "cross_entropy": "CrossEntropyLoss",
    "nll_loss": "NLLLoss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "smooth_l1_loss": "SmoothL1Loss",
    "huber_loss": "HuberLoss",
    "kl_div": "KLDivLoss",
    "poisson_nll_loss": "PoissonNLLLoss",
    "gaussian_nll_loss": "GaussianNLLLoss",
    "soft_margin_loss": "SoftMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "multilabel_margin_loss": "MultiLabelMarginLoss",
    "multi_margin_loss": "MultiMarginLoss",
    "hinge_embedding_loss": "HingeEmbeddingLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
    "margin_ranking_loss": "MarginRankingLoss",
    "triplet_margin_loss": "TripletMarginLoss",
    "ctc_loss": "CTCLoss",
}
CLASS_TO_FUNCTIONAL = {cls: fn for fn, cls in LOSS_CLASSES.items()}
UNKNOWN = "<unknown>"


@dataclass(frozen=True)
class LossCall:
    """A call that computes a built-in PyTorch loss."""

    call: cst.Call
    functional: str  # "cross_entropy", whichever way it was called
    label: str  # how to name it in a message: "F.cross_entropy", "nn.CrossEntropyLoss"
    reduction: str  # "mean" (the default), "sum", "none", or UNKNOWN
    explicit: bool  # the reduction was written in the code
    ctor: cst.Call | None = None  # the nn.*Loss(...) construction, for loss objects

    @property
    def input(self) -> cst.BaseExpression | None:
        arg = keyword(self.call, "input") or positional(self.call, 0)
        return arg.value if arg is not None else None

    @property
    def target(self) -> cst.BaseExpression | None:
        arg = keyword(self.call, "target") or positional(self.call, 1)
        return arg.value if arg is not None else None


class Resolver:
    """Resolves callees in one scope (a function, or the module)."""

    def __init__(
        self,
        imports: ImportMap,
        local: dict[str, cst.BaseExpression],
        local_names: set[str],
        module_level: dict[str, cst.BaseExpression],
        self_attrs: dict[str, cst.BaseExpression] | None = None,
    ) -> None:
        self.imports = imports
        self.local = local  # names assigned once in this scope, with their value
        self.local_names = local_names  # every name bound in this scope (params included)
        self.module_level = module_level
        self.self_attrs = self_attrs or {}

    def value_of(self, expr: cst.BaseExpression, hops: int = 3) -> cst.BaseExpression:
        """Follow a name (or ``self.attr``) to the one value it was assigned, if there is exactly one."""
        for _ in range(hops):
            nxt: cst.BaseExpression | None = None
            if isinstance(expr, cst.Name):
                if expr.value in self.local_names:
                    nxt = self.local.get(expr.value)
                else:
                    nxt = self.module_level.get(expr.value)
            elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
                nxt = self.self_attrs.get(expr.attr.value)
            if nxt is None:
                return expr
            expr = nxt
        return expr

    def qualname(self, expr: cst.BaseExpression) -> str | None:
        return self.imports.qualname(expr)

    def loss_call(self, call: cst.Call) -> LossCall | None:
        qual = self.qualname(call.func)
        if qual and qual.startswith(FUNCTIONAL + "."):
            fn = qual[len(FUNCTIONAL) + 1 :]
            if fn in LOSS_CLASSES:
                reduction, explicit = _reduction(call, positional_limit=2)
                return LossCall(call, fn, f"F.{fn}", reduction, explicit)
            return None
        # a loss object: nn.CrossEntropyLoss()(x, y), or a name / self.attr bound to one
        ctor = call.func if isinstance(call.func, cst.Call) else self.value_of(call.func)
        if isinstance(ctor, cst.Call):
            cls = self.loss_class(ctor)
            if cls is not None:
                reduction, explicit = _reduction(ctor, positional_limit=0)
                return LossCall(call, CLASS_TO_FUNCTIONAL[cls], f"nn.{cls}", reduction, explicit, ctor)
        return None

    def loss_class(self, ctor: cst.Call) -> str | None:
        qual = self.qualname(ctor.func)
        if not qual:
            return None
        for prefix in ("torch.nn.", "torch.nn.modules.loss."):
            if qual.startswith(prefix) and qual[len(prefix) :] in CLASS_TO_FUNCTIONAL:
                return qual[len(prefix) :]
        return None

    def activation(self, expr: cst.BaseExpression) -> tuple[str, cst.Call] | None:
        """``F.softmax(x, 1)``, ``torch.sigmoid(x)``, ``x.log_softmax(1)``, ``nn.Softmax(1)(x)``:
        returns ("softmax" | "log_softmax" | "sigmoid", the call), following one-time assignments."""
        value = self.value_of(expr)
        if not isinstance(value, cst.Call):
            return None
        qual = self.qualname(value.func)
        names = {"softmax", "log_softmax", "sigmoid"}
        if qual:
            for prefix in ("torch.nn.functional.", "torch.", "torch.special."):
                rest = qual[len(prefix) :] if qual.startswith(prefix) else None
                if rest in names:
                    return rest, value
                if rest == "expit":  # torch.special.expit is the sigmoid
                    return "sigmoid", value
            return None
        # a tensor method: x.softmax(dim=1); only when the receiver is not an imported module,
        # and not `self` (self.softmax is a module attribute: we follow it to its constructor)
        if isinstance(value.func, cst.Attribute) and value.func.attr.value in names:
            receiver = value.func.value
            if isinstance(receiver, cst.Name) and receiver.value == "self":
                ctor = self.value_of(value.func)
                if isinstance(ctor, cst.Call):
                    return self._module_activation(ctor, value)
                return None
            if self.qualname(receiver) is None:
                return value.func.attr.value, value
        # nn.Softmax(dim=1)(x), or act(x) / self.act(x) with act = nn.Softmax(dim=1)
        ctor = value.func if isinstance(value.func, cst.Call) else self.value_of(value.func)
        if isinstance(ctor, cst.Call):
            return self._module_activation(ctor, value)
        return None

    def _module_activation(self, ctor: cst.Call, call: cst.Call) -> tuple[str, cst.Call] | None:
        mapping = {"torch.nn.Softmax": "softmax", "torch.nn.LogSoftmax": "log_softmax", "torch.nn.Sigmoid": "sigmoid"}
        name = mapping.get(self.qualname(ctor.func) or "")
        return (name, call) if name else None


def _reduction(call: cst.Call, positional_limit: int) -> tuple[str, bool]:
    """The reduction a loss call or constructor asks for. Deprecated ``reduce=False`` means "none"."""
    reduce_arg = keyword(call, "reduce")
    if reduce_arg is not None:
        if isinstance(reduce_arg.value, cst.Name) and reduce_arg.value.value == "False":
            return "none", True
        return UNKNOWN, True
    if keyword(call, "size_average") is not None:
        return UNKNOWN, True
    arg = keyword(call, "reduction")
    if arg is None:
        # positional reduction (rare) or **kwargs: we cannot tell
        if any(a.star for a in call.args) or len([a for a in call.args if a.keyword is None]) > positional_limit:
            return UNKNOWN, False
        return "mean", False
    value = string_value(arg.value)
    return (value if value in {"mean", "sum", "none", "batchmean"} else UNKNOWN), True
