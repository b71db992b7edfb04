"""LTH102 / LTH103: an activation applied before a loss that applies it itself."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finding import Finding
from losscheck.lint.rule import Invalid
from losscheck_torch._facts import torch_facts
from losscheck_torch._losscalls import LossCall, Resolver
from losscheck_torch.rules._base import ACTIVATION_TRIGGER, TorchRule

PLUGIN_API = 1

# loss -> (activation it already applies, or expects already applied, -> what is wrong)
_DOUBLE = {
    ("cross_entropy", "softmax"): "`{loss}` applies log_softmax itself, so softmax before it is applied twice: "
    "the loss flattens and its gradients all but vanish; pass the raw logits",
    ("binary_cross_entropy_with_logits", "sigmoid"): "`{loss}` applies the sigmoid itself, so sigmoid before it "
    "is applied twice; pass the raw logits (or use binary_cross_entropy on probabilities)",
    ("nll_loss", "softmax"): "`{loss}` expects log-probabilities, but softmax gives probabilities; "
    "use log_softmax (or cross_entropy on the raw logits)",
}


def _activation_before_loss(ctx: FileContext) -> Iterable[tuple[LossCall, str, cst.Call, bool]]:
    """(loss call, activation name, activation call, whether the activation is written inline)."""
    facts = torch_facts(ctx)
    for scope in facts.scopes:
        resolver: Resolver | None = None
        for call in scope.calls:
            resolver = resolver or facts.resolver(scope)
            loss = resolver.loss_call(call)
            if loss is None or loss.input is None:
                continue
            found = resolver.activation(loss.input)
            if found is not None:
                name, act = found
                yield loss, name, act, act is loss.input


class SoftmaxBeforeCrossEntropy(TorchRule):
    """Softmax before `F.cross_entropy`, sigmoid before a `*_with_logits` loss, softmax before `nll_loss`.

    ## What it does
    Finds PyTorch losses whose input already went through the activation that the loss applies
    itself: `F.cross_entropy` / `nn.CrossEntropyLoss` on softmax outputs, `F.binary_cross_entropy_with_logits`
    / `nn.BCEWithLogitsLoss` on sigmoid outputs, and `F.nll_loss` / `nn.NLLLoss` on softmax (not log_softmax)
    outputs. The input is followed through one-time local assignments (`probs = F.softmax(logits, 1)`).

    ## Why is this bad?
    Nothing fails: the model trains, slowly and badly. A double softmax squeezes every probability
    towards uniform, so the loss barely moves and its gradients nearly vanish; `nll_loss` on
    probabilities instead of log-probabilities optimises the wrong quantity. This is the PyTorch
    form of Keras's `from_logits` mistake.

    ## Example
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        return F.cross_entropy(F.softmax(logits, dim=1), target)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        return F.cross_entropy(logits, target)
    ```
    """

    code = "LTH102"
    name = "softmax-before-cross-entropy"
    summary = "Softmax/sigmoid applied before a loss that applies it itself (or expects log-probabilities)"
    severity = "error"
    trigger_checks = (ACTIVATION_TRIGGER,)

    VALID = [
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            return F.cross_entropy(logits, target)
        """,
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            return F.nll_loss(F.log_softmax(logits, dim=1), target)
        """,
        """
        import torch
        import torch.nn.functional as F

        def loss_fn(logits, target):
            probs = torch.sigmoid(logits)
            return F.binary_cross_entropy(probs, target)
        """,
        # the name is reassigned: we cannot tell which value reaches the loss, so we stay quiet
        """
        import torch.nn.functional as F

        def loss_fn(logits, target, raw):
            x = F.softmax(logits, dim=1)
            if raw:
                x = logits
            return F.cross_entropy(x, target)
        """,
        # not PyTorch: a local function that happens to be called softmax
        """
        def softmax(x):
            return x

        def cross_entropy(x, y):
            return x

        def loss_fn(logits, target):
            return cross_entropy(softmax(logits), target)
        """,
    ]
    INVALID = [
        Invalid(
            """
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.cross_entropy(F.softmax(logits, dim=1), target)
            """,
            message="applies log_softmax itself",
            line=5,
            fixed="""
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.cross_entropy(logits, target)
            """,
        ),
        Invalid(
            """
            import torch
            from torch import nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.criterion = nn.CrossEntropyLoss()

                def forward(self, logits, target):
                    probs = logits.softmax(dim=-1)
                    return self.criterion(probs, target)
            """,
            message="`nn.CrossEntropyLoss` applies log_softmax itself",
            line=12,
        ),
        Invalid(
            """
            import torch
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target)
            """,
            message="applies the sigmoid itself",
            fixed="""
            import torch
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.binary_cross_entropy_with_logits(logits, target)
            """,
        ),
        Invalid(
            """
            from torch.nn.functional import nll_loss, softmax

            def loss_fn(logits, target):
                return nll_loss(softmax(logits, dim=1), target)
            """,
            message="expects log-probabilities",
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.nll_loss(F.softmax(logits, dim=1), target)
            """,
            message="use log_softmax",
            fixed="""
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.nll_loss(F.log_softmax(logits, dim=1), target)
            """,
        ),
        Invalid(
            """
            import torch.nn.functional as F
            from torch import nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.act = nn.Softmax(dim=1)

                def forward(self, logits, target):
                    return F.cross_entropy(self.act(logits), target)
            """,
            message="applies log_softmax itself",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

            def train_step(model, x, y):
                out = nn.Softmax(dim=1)(model(x))
                loss = criterion(out, y)
                return loss
            """,
            message="softmax",
            line=9,
        ),
    ]

    def check(self, ctx: FileContext) -> Iterable[Finding] | None:
        for loss, activation, act_call, inline in _activation_before_loss(ctx):
            template = _DOUBLE.get((loss.functional, activation))
            if template is None:
                continue
            fix = None
            if inline and activation == "softmax" and loss.functional == "nll_loss":
                fix = _rename_fix(ctx, act_call, "log_softmax", "use log_softmax")
            elif inline:
                fix = _unwrap_fix(ctx, act_call, f"pass the raw logits, without the {activation}")
            ctx.report(self, loss.call, template.format(loss=loss.label), fix=fix)
        return None


class LogSoftmaxBeforeCrossEntropy(TorchRule):
    """`log_softmax` before `F.cross_entropy`: the loss applies it already.

    ## What it does
    Finds `F.cross_entropy` / `nn.CrossEntropyLoss` called on log_softmax outputs.

    ## Why is this bad?
    `cross_entropy` is `nll_loss(log_softmax(x))`. log_softmax of log-probabilities gives them back
    unchanged, so the value is right, but the code says something else than it does: a reader (or the
    next edit) takes the input for logits, and the extra pass costs time and memory. Either call
    `nll_loss` on the log-probabilities, or `cross_entropy` on the logits.

    ## Example
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        return F.cross_entropy(F.log_softmax(logits, dim=1), target)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    def loss_fn(logits, target):
        return F.cross_entropy(logits, target)
    ```
    """

    code = "LTH103"
    name = "log-softmax-before-cross-entropy"
    summary = "A log_softmax before cross_entropy, which applies it itself (redundant)"
    severity = "warning"
    trigger_checks = (ACTIVATION_TRIGGER,)

    VALID = [
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            return F.nll_loss(F.log_softmax(logits, dim=1), target)
        """,
        """
        import torch.nn.functional as F

        def loss_fn(logits, target):
            return F.cross_entropy(logits, target)
        """,
    ]
    INVALID = [
        Invalid(
            """
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.cross_entropy(F.log_softmax(logits, dim=1), target)
            """,
            message="redundant",
            fixed="""
            import torch.nn.functional as F

            def loss_fn(logits, target):
                return F.cross_entropy(logits, target)
            """,
        ),
        Invalid(
            """
            import torch

            def loss_fn(logits, target):
                logp = torch.log_softmax(logits, 1)
                return torch.nn.functional.cross_entropy(logp, target, reduction="none")
            """,
            line=6,
        ),
    ]

    def check(self, ctx: FileContext) -> Iterable[Finding] | None:
        for loss, activation, act_call, inline in _activation_before_loss(ctx):
            if loss.functional == "cross_entropy" and activation == "log_softmax":
                fix = (
                    _unwrap_fix(ctx, act_call, "pass the logits; cross_entropy applies log_softmax", safe=True)
                    if inline
                    else None
                )
                ctx.report(
                    self,
                    loss.call,
                    f"`{loss.label}` applies log_softmax itself; log_softmax before it is redundant "
                    "(same value, extra work): pass the logits, or use nll_loss on log-probabilities",
                    fix=fix,
                )
        return None


def _unwrap_fix(ctx: FileContext, act_call: cst.Call, description: str, safe: bool = False):
    # method form `x.softmax(dim=1)`: the input is the receiver
    func = act_call.func
    if isinstance(func, cst.Attribute) and (
        func.attr.value not in {"softmax", "log_softmax", "sigmoid"}
        or (isinstance(func.value, cst.Name) and func.value.value == "self")
    ):
        return None  # self.act(x) / self.softmax(x): a module attribute, leave it to the user
    if isinstance(func, cst.Attribute) and torch_facts(ctx).imports.qualname(func.value) is None:
        inner: cst.BaseExpression | None = func.value
    elif isinstance(func, cst.Call):
        return None  # nn.Softmax(dim=1)(x): leave it to the user
    else:
        inner = act_call.args[0].value if act_call.args and act_call.args[0].keyword is None else None
    if inner is None:
        return None
    return ctx.replace_fix(act_call, ctx.code_for(inner), safe=safe, description=description)


def _rename_fix(ctx: FileContext, act_call: cst.Call, new_name: str, description: str):
    func = act_call.func
    if not isinstance(func, cst.Attribute):
        return None  # a bare imported name: the new name would need an import too
    new = func.with_changes(attr=cst.Name(new_name))
    return ctx.replace_fix(func, ctx.code_for(new), safe=False, description=description)
