"""LTH201: ``.item()``, ``.numpy()``, ``float()`` or NumPy on the prediction inside loss code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.finding import Finding
from losscheck.lint.rule import Invalid
from losscheck.lint.imports import ImportMap
from losscheck_torch._facts import (
    LOGGING_CALL,
    TorchLoss,
    names_in,
    torch_facts,
)
from losscheck.lint.astutil import children, own_nodes, walk
from losscheck_torch.rules._base import TorchRule

PLUGIN_API = 1

_TO_PYTHON = frozenset({"item", "tolist", "numpy"})
# What carries no gradient, whatever tensor it is taken from.
_NO_GRAD_ATTRS = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "requires_grad", "layout"})
_NO_GRAD_METHODS = frozenset(
    {
        "size",
        "dim",
        "numel",
        "detach",
        "argmax",
        "argmin",
        "long",
        "int",
        "bool",
        "nonzero",
        "eq",
        "ne",
        "gt",
        "lt",
        "ge",
        "le",
        "sign",
        "round",
        "floor",
        "ceil",
        "isnan",
        "isinf",
        "isfinite",
        "data_ptr",
        "element_size",
    }
)
_NO_GRAD_BUILTINS = frozenset({"len", "int", "bool", "isinstance", "type", "id", "str", "repr"})
# Values made for humans (metric dicts, f-strings) or deferred (lambdas): not part of the loss.
_HUMAN_TYPES = (cst.Dict, cst.FormattedString, cst.Lambda)


@dataclass
class _Flow:
    """Which local names carry the prediction's gradient, and which hold a detached copy of it."""

    imports: ImportMap
    grad: set[str]
    detached: dict[str, cst.Call] = field(default_factory=dict)  # name -> the call that detached it

    def detach_points(self, expr: cst.CSTNode) -> list[tuple[cst.Call, str]]:
        """Calls in ``expr`` that turn a gradient-carrying tensor into Python or NumPy values,
        with why; calls inside logging, dicts and f-strings are for humans and are skipped."""
        found: list[tuple[cst.Call, str]] = []
        stack: list[cst.CSTNode] = [expr]
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind in _HUMAN_TYPES:
                continue
            if kind is cst.Call:
                why = self.why_detached(node)
                if why is not None:
                    found.append((node, why))
                    continue
                if _is_logging(node):
                    continue
            stack.extend(reversed(children(node)))
        return found

    def carries_grad(self, expr: cst.CSTNode) -> bool:
        """Does ``expr`` carry the prediction's gradient? Sizes, dtypes, comparisons, argmax and
        explicit ``.detach()`` carry none (``float(pred.size(0))`` is not a lost gradient)."""
        stack: list[cst.CSTNode] = [expr]
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is cst.Name:
                if node.value in self.grad:
                    return True
                continue
            if kind is cst.Comparison:
                continue
            if kind is cst.Attribute:
                if node.attr.value not in _NO_GRAD_ATTRS:
                    stack.append(node.value)
                continue
            if kind is cst.Call:
                func = node.func
                if type(func) is cst.Attribute and func.attr.value in _NO_GRAD_METHODS:
                    continue
                if type(func) is cst.Name and func.value in _NO_GRAD_BUILTINS:
                    continue
            if kind is cst.Arg:
                stack.append(node.value)
                continue
            stack.extend(children(node))
        return False

    def why_detached(self, call: cst.Call) -> str | None:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TO_PYTHON and not call.args:
            if self.imports.qualname(func.value) is None and self.carries_grad(func.value):
                return f"`.{func.attr.value}()` leaves autograd"
        if (
            isinstance(func, cst.Name)
            and func.value == "float"
            and len(call.args) == 1
            and self.carries_grad(call.args[0].value)
        ):
            return "`float()` leaves autograd"
        qual = self.imports.qualname(func)
        if qual and (qual == "numpy" or qual.startswith("numpy.")):
            if any(self.carries_grad(arg.value) for arg in call.args):
                return f"`{qual.replace('numpy', 'np', 1)}` computes on NumPy arrays, outside autograd"
        return None


def _is_logging(call: cst.Call) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    return bool(LOGGING_CALL.search(name))


def _explicitly_detached(call: cst.Call) -> bool:
    return any(type(n) is cst.Attribute and n.attr.value == "detach" for n in walk(call, into_nested=True))


class ItemOrNumpyInLoss(TorchRule):
    """`.item()`, `.numpy()`, `float()` or NumPy on the prediction, on its way to the returned loss.

    ## What it does
    Follows the prediction (`pred`, `logits`, `outputs`... parameters) through a PyTorch loss
    function and reports where it is turned into a Python number or a NumPy array (`.item()`,
    `.tolist()`, `.numpy()`, `float(...)`, `np.*(...)`) when that value reaches the returned loss, or
    when NumPy is called on it without `.detach()` (which raises). Logging (`print`, `self.log`,
    dicts of metrics, f-strings) is left alone, as are values computed from the target only.

    ## Why is this bad?
    A Python float or NumPy array has no gradient: the part of the loss computed from it does not
    train the model, silently (or the whole loss has no `grad_fn` and `backward()` fails). NumPy on a
    tensor that requires grad raises `RuntimeError: Can't call numpy() on Tensor that requires grad`,
    and on a GPU each `.item()` also waits for the device. This is the PyTorch form of LCK201.

    ## Example
    ```python
    import torch

    def loss_fn(pred, target):
        scale = pred.abs().max().item()
        return ((pred - target) ** 2).mean() * scale
    ```

    ## Use instead
    ```python
    import torch

    def loss_fn(pred, target):
        scale = pred.abs().max()
        return ((pred - target) ** 2).mean() * scale
    ```
    """

    code = "LTH201"
    name = "item-or-numpy-in-loss"
    summary = "Calling .item(), .numpy(), float() or NumPy on the prediction inside loss code (no gradient)"
    severity = "error"
    losses_only = True

    VALID = [
        # logging only: the returned loss keeps its gradient
        """
        import torch
        import torch.nn.functional as F

        def compute_loss(logits, target):
            loss = F.cross_entropy(logits, target)
            acc = (logits.argmax(1) == target).float().mean()
            return loss, {"loss": loss.item(), "acc": acc.item()}
        """,
        # a count from the target is not the prediction: no gradient is lost
        """
        import torch

        def masked_loss(pred, target, mask):
            n = mask.sum().item()
            return ((pred - target) ** 2 * mask).sum() / max(n, 1)
        """,
        """
        import numpy as np
        import torch

        def loss_fn(pred, target):
            weights = torch.as_tensor(np.linspace(0, 1, 4), dtype=pred.dtype)
            return ((pred - target) ** 2 * weights).mean()
        """,
        """
        import torch

        def loss_fn(pred, target):
            loss = ((pred - target) ** 2).mean()
            print(f"loss {loss.item():.3f}")
            return loss
        """,
        # a pytest test about a loss is not loss code: comparing values with .item() is the point
        """
        import torch
        import torch.nn.functional as F

        def test_per_sample_loss_matches_reference():
            pred, target = torch.randn(4, 3), torch.randn(4, 3)
            value = F.mse_loss(pred, target, reduction="none").mean(dim=1)
            assert abs(value.sum().item() - ((pred - target) ** 2).mean(dim=1).sum().item()) < 1e-6
        """,
        # an explicit .detach() says "no gradient here" on purpose; sizes carry no gradient
        """
        import numpy as np
        import torch.nn.functional as F

        def loss_fn(logits, target):
            conf = np.max(F.softmax(logits, dim=1).detach().cpu().numpy(), axis=1)
            n = float(logits.size(0))
            return F.cross_entropy(logits, target, reduction="sum") / n + 0.0 * float(conf.mean())
        """,
    ]
    INVALID = [
        Invalid(
            """
            import torch

            def loss_fn(pred, target):
                scale = pred.abs().max().item()
                return ((pred - target) ** 2).mean() * scale
            """,
            message="`.item()` leaves autograd",
            line=5,
        ),
        Invalid(
            """
            import numpy as np
            import torch

            def loss_fn(pred, target):
                return torch.tensor(np.mean((pred - target) ** 2))
            """,
            message="`np.mean` computes on NumPy arrays",
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def loss_fn(logits, target):
                probs = F.softmax(logits, dim=1)
                confidence = float(probs.max())
                return F.cross_entropy(logits, target) + confidence
            """,
            message="`float()` leaves autograd",
            line=6,
        ),
        Invalid(
            """
            import torch

            class MyLoss(torch.nn.Module):
                def forward(self, pred, target):
                    loss = (pred - target).abs().mean()
                    return loss.item()
            """,
            message="no gradient",
        ),
    ]

    def check(self, ctx: FileContext) -> Iterable[Finding] | None:
        facts = torch_facts(ctx)
        for fn in facts.losses:
            if fn.pred_params:
                self._check_function(ctx, fn, facts.imports)
        return None

    def _check_function(self, ctx: FileContext, fn: TorchLoss, imports: ImportMap) -> None:
        flow = _Flow(imports, set(fn.pred_params))
        reported: set[int] = set()

        def report(call: cst.Call, why: str, consequence: str) -> None:
            if id(call) not in reported:
                reported.add(id(call))
                ctx.report(self, call, f"{why}: {consequence}")

        for stmt in _statements(fn.node):
            if isinstance(stmt, cst.Return):
                if stmt.value is None:
                    continue
                value = (
                    stmt.value.elements[0].value
                    if isinstance(stmt.value, cst.Tuple) and stmt.value.elements
                    else stmt.value
                )
                for call, why in flow.detach_points(value):
                    report(call, why, "the returned loss gets no gradient from this part of the prediction")
                for name in sorted(names_in(value) & flow.detached.keys()):
                    call = flow.detached[name]
                    why = flow.why_detached(call) or "it leaves autograd"
                    report(call, why, f"`{name}` reaches the returned loss without a gradient")
                continue
            targets, value = _assignment(stmt)
            if value is None:
                continue
            points = flow.detach_points(value)
            for call, why in points:
                if why.startswith("`np.") and not _explicitly_detached(call):
                    report(
                        call,
                        why,
                        "on a tensor that requires grad this raises RuntimeError; keep the computation in torch",
                    )
            source = (
                points[0][0]
                if points
                else next((flow.detached[n] for n in sorted(names_in(value)) if n in flow.detached), None)
            )
            for target in targets:
                if source is not None:
                    flow.detached[target] = source
                elif flow.carries_grad(value):
                    flow.grad.add(target)
                    flow.detached.pop(target, None)
                else:
                    flow.grad.discard(target)
                    flow.detached.pop(target, None)


def _assignment(stmt: cst.CSTNode) -> tuple[list[str], cst.BaseExpression | None]:
    if isinstance(stmt, cst.Assign):
        names = [t.target.value for t in stmt.targets if isinstance(t.target, cst.Name)]
        return names, stmt.value
    if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
        return [stmt.target.value], stmt.value
    if isinstance(stmt, cst.AugAssign) and isinstance(stmt.target, cst.Name):
        # x += v: x keeps what it had and gains what v carries
        return [stmt.target.value], cst.BinaryOperation(stmt.target, cst.Add(), stmt.value)
    return [], None


def _statements(fn: cst.FunctionDef) -> list[cst.CSTNode]:
    """Small statements of the function's own code, in source order (compound bodies flattened)."""
    return [
        stmt
        for node in own_nodes(fn)
        if type(node) is cst.SimpleStatementLine or type(node) is cst.SimpleStatementSuite
        for stmt in node.body
    ]
