"""Facts about PyTorch loss code that the rules of this pack share.

Computed once per file (kept on the core's FileContext) and only with libcst: like the core linter, this pack never
imports torch or NumPy, and never runs the code it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import libcst as cst

from losscheck.lint.astutil import names_in, string_value  # noqa: F401 - the rules read them from here
from losscheck.lint.facts import fact
from losscheck.lint.imports import ImportMap

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext
    from losscheck.lint.scopes import Scope as CoreScope
    from losscheck_torch._losscalls import Resolver

# Parameter names that mean "the model's prediction" in PyTorch code.
PRED_NAMES = frozenset(
    {
        "pred",
        "preds",
        "prediction",
        "predictions",
        "logits",
        "logit",
        "output",
        "outputs",
        "out",
        "input",
        "inputs",
        "y_pred",
        "y_hat",
        "yhat",
        "scores",
        "probs",
        "predicted",
    }
)
# A function whose name says its result is one value per sample (or per element).
PER_SAMPLE_WORDS = (
    r"per_?(?:sample|example|pixel|element|instance|item|image)|unreduced|element_?wise|sample_?wise"
    r"|no_?reduction|reduction_?none"
)
PER_SAMPLE_NAME = re.compile(PER_SAMPLE_WORDS, re.IGNORECASE)
# A function or class is loss code when its name says so (the pre-filter trigger in
# rules/_base.py matches the same words in `def`/`class` lines, so the two must agree).
LOSS_NAME_WORDS = r"loss|criterion"
LOSS_NAME = re.compile(f"{LOSS_NAME_WORDS}|{PER_SAMPLE_WORDS}", re.IGNORECASE)
# Calls whose arguments are for humans (logging), not for the loss value.
LOGGING_CALL = re.compile(r"(^|\.|_)(log\w*|print|info|debug|warning|append|extend|add_scalar\w*|update)$")


def uses_torch(imports: ImportMap) -> bool:
    """The file imports torch (the core's import map: every import, aliases, conventions)."""
    return any(target == "torch" or target.startswith("torch.") for target in imports.names.values())


@dataclass(frozen=True)
class TorchLoss:
    """A function that computes a loss in a file that uses PyTorch."""

    node: cst.FunctionDef
    name: str  # "focal_loss" or "FocalLoss.forward", for messages
    params: tuple[str, ...]
    class_node: cst.ClassDef | None

    @property
    def class_name(self) -> str | None:
        return self.class_node.name.value if self.class_node else None

    @property
    def pred_params(self) -> tuple[str, ...]:
        return tuple(p for p in self.params if p in PRED_NAMES)

    @property
    def per_sample(self) -> bool:
        """The function's own name promises one value per sample (see ``PER_SAMPLE_NAME``)."""
        names = [self.node.name.value] + ([self.class_name] if self.class_name else [])
        return any(PER_SAMPLE_NAME.search(_snake(n)) for n in names)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _params(node: cst.FunctionDef) -> tuple[str, ...]:
    p = node.params
    every = [*p.posonly_params, *p.params, *p.kwonly_params]
    return tuple(param.name.value for param in every)


def _is_loss(node: cst.FunctionDef, class_name: str | None, params: Sequence[str]) -> bool:
    """Loss code by name: ``per_sample_ce``, ``focal_loss``, ``DiceLoss.forward``, but not a
    ``test_*`` function (pytest's tests about losses compare values on purpose). (A pair of
    prediction/target parameters alone is not enough: ``forward(self, input, target)`` is in
    every other PyTorch module, and the pre-filter could not see it cheaply.)"""
    if node.name.value.startswith("test"):
        return False  # a pytest test about a loss checks values (.item(), NumPy): it is not loss code
    if LOSS_NAME.search(node.name.value):
        return True
    return bool(class_name and LOSS_NAME.search(class_name) and node.name.value in {"forward", "__call__"})


@dataclass
class Scope:
    """A function, or the module, as this pack reads it (from the core's scope index): the calls
    in its own code (lambdas in it included) and the names it binds."""

    node: cst.CSTNode
    class_node: cst.ClassDef | None  # the class a method belongs to
    calls: list[cst.Call] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every name bound here, parameters included
    # names bound exactly once here, by a plain ``x = value``: there is no doubt what they hold
    single: dict[str, cst.BaseExpression] = field(default_factory=dict)


@dataclass
class TorchFacts:
    """What the torch rules share about a file: its imports, loss code, scopes and attributes."""

    module: cst.Module
    imports: ImportMap = field(default_factory=ImportMap)  # the core's (ctx.imports)
    losses: list[TorchLoss] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    # class -> {attr: [values]} from `self.attr = value` in its methods
    self_attrs: dict[int, dict[str, list[cst.BaseExpression]]] = field(default_factory=dict)
    _by_node: dict[int, Scope] = field(default_factory=dict, repr=False)

    def scope_of(self, node: cst.CSTNode) -> Scope:
        if len(self._by_node) != len(self.scopes):
            self._by_node = {id(scope.node): scope for scope in self.scopes}
        return self._by_node[id(node)]

    def resolver(self, scope: Scope) -> "Resolver":
        """Callee resolution inside ``scope``."""
        from losscheck_torch._losscalls import Resolver

        attrs: dict[str, cst.BaseExpression] = {}
        if scope.class_node is not None:
            raw = self.self_attrs.get(id(scope.class_node), {})
            attrs = {name: values[0] for name, values in raw.items() if len(values) == 1}
        module_level = self.scopes[0].single
        if scope is self.scopes[0]:
            return Resolver(self.imports, {}, set(), module_level, attrs)
        return Resolver(self.imports, scope.single, scope.names, module_level, attrs)


def _collect(ctx: "FileContext") -> TorchFacts:
    """The file's functions and module as this pack reads them, from the core's scope index (its
    one walk of the file: which names each frame binds, every call and where it sits), and the
    loss functions among them (names resolve through the core's import map)."""
    from losscheck.lint.scope_index import scope_index

    index = scope_index(ctx)
    facts = TorchFacts(ctx.module, ctx.imports)
    views = {}
    for node, frame in index.scopes.items():
        if type(node) is cst.Lambda:
            continue  # a lambda's code is its function's
        class_node = index.classes.get(node) if type(node) is cst.FunctionDef else None  # type: ignore[call-overload]
        view = Scope(node, class_node, names=set(frame.assignments) | set(frame.params),
                     single=_single_assignments(frame))
        views[frame] = view
        facts.scopes.append(view)
        if type(node) is cst.FunctionDef:
            params = _params(node)
            if _is_loss(node, class_node.name.value if class_node else None, params):
                label = f"{class_node.name.value}.{node.name.value}" if class_node else node.name.value
                facts.losses.append(TorchLoss(node, label, params, class_node))
    for call in index.calls:
        frame = index.where[call][0]
        while type(frame.node) is cst.Lambda and frame.parent is not None:
            frame = frame.parent
        views[frame].calls.append(call)
    for (cls, attr), values in index.self_assigns.items():
        facts.self_attrs.setdefault(id(cls), {})[attr] = values
    return facts


def _single_assignments(frame: "CoreScope") -> dict[str, cst.BaseExpression]:
    """Names the frame binds once, by a plain assignment with a value (not unpacked, augmented,
    or bound in a class body or comprehension of the frame)."""
    out = {}
    for name, defs in frame.defs.items():
        bound = frame.assignments.get(name, ())
        if len(defs) == 1 and len(bound) == 1 and defs[0].value is not None and defs[0].operator is None \
                and bound[0].node is defs[0].target:
            out[name] = defs[0].value
    return out


# Methods of torch.Tensor that numpy.ndarray does not have: calling one shows a tensor.
_TENSOR_ONLY_METHODS = frozenset(
    {
        "size",
        "dim",
        "numel",
        "detach",
        "backward",
        "permute",
        "unsqueeze",
        "softmax",
        "log_softmax",
        "sigmoid",
        "to",
        "cpu",
        "cuda",
        "float",
        "long",
        "half",
        "double",
        "int",
        "bool",
        "abs",
        "exp",
        "log",
        "pow",
        "sqrt",
        "clamp",
        "clamp_min",
        "masked_fill",
        "expand",
        "contiguous",
        "requires_grad_",
        "relu",
        "tanh",
        "neg",
        "sub",
        "add",
        "mul",
        "div",
        "gather",
        "index_select",
        "type_as",
        "new_zeros",
        "new_ones",
        "new_tensor",
        "norm",
        "logsumexp",
        "movedim",
        "narrow",
    }
)


def _is_torch_code(fn: TorchLoss, facts: TorchFacts) -> bool:
    """Does the function itself show that it computes with torch? A file that imports torch may
    also hold NumPy or Keras helpers named like losses; those are not ours to judge."""

    def torch_name(expr: cst.BaseExpression | None) -> bool:
        return expr is not None and (facts.imports.qualname(expr) or "").startswith("torch")

    for call in facts.scope_of(fn.node).calls:
        func = call.func
        if torch_name(func):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in _TENSOR_ONLY_METHODS:
            return True  # `pred.size(0)`, `x.abs()`: methods NumPy arrays do not have
    if fn.class_node is not None and any(torch_name(base.value) for base in fn.class_node.bases):
        return True  # a method of an nn.Module (or a torch loss class)
    params = fn.node.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        if param.annotation is not None:
            ann = param.annotation.annotation
            if torch_name(ann) or (
                isinstance(ann, cst.Subscript)
                and any(isinstance(el.slice, cst.Index) and torch_name(el.slice.value) for el in ann.slice)
            ):
                return True  # `pred: torch.Tensor`, `Float[Tensor, "b c"]`
    return False


@fact()
def torch_facts(ctx: "FileContext") -> TorchFacts:
    """The facts of the file, a provider of the core's facts layer (computed once per file, on
    demand). Files that never mention torch cost nothing."""
    if "torch" not in ctx.source:
        return TorchFacts(ctx.module, ctx.imports)
    if not uses_torch(ctx.imports):
        return TorchFacts(ctx.module, ctx.imports)  # not PyTorch code: every rule stays quiet
    facts = _collect(ctx)
    facts.losses = [fn for fn in facts.losses if _is_torch_code(fn, facts)]
    return facts


# -- small helpers over libcst expressions -------------------------------------------------
def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> cst.Arg | None:
    pos = [a for a in call.args if a.keyword is None and not a.star]
    return pos[index] if index < len(pos) else None


