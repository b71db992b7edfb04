"""What a name in model code can be bound to, and the facts the model analysis records.

``ModelInfo`` (one model construction), ``ModelCall`` (``compile``/``fit``/... on a known model) and
``ModuleModels`` (all of a file's) are what rules read; ``KerasTensor``, ``Layer``, ``LiteralValue``,
``BuiltDict`` and ``Builder`` are the other values a name can hold while the analysis follows a
scope (``UNKNOWN`` when it cannot say). ``Resolver`` answers "which Keras name is this expression?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from losscheck.lint.imports import ImportMap, dotted_name
from losscheck.lint.model_syntax import assigned_names_of_statement

# Roots under which a qualified name is Keras's public (or private) API.
_KERAS_PREFIXES = (
    "tensorflow.compat.v1.keras.",
    "tensorflow.compat.v2.keras.",
    "tensorflow.python.keras.",
    "tensorflow.keras.",
    "keras.src.",
    "keras.api.",
    "tf_keras.",
    "keras.",
)

# Methods that take ``(x, y, ...)``: y is the second positional argument or ``y=`` in all of them
# (Keras 3 and tf.keras alike).
FIT_METHODS = ("fit", "evaluate", "train_on_batch", "test_on_batch")


def keras_path(qualname: str | None) -> str | None:
    """``"tensorflow.keras.layers.Dense"`` -> ``"layers.Dense"``; None when not Keras."""
    if not qualname:
        return None
    for prefix in _KERAS_PREFIXES:
        if qualname.startswith(prefix):
            return qualname[len(prefix):]
    return None


class Resolver:
    """Qualified names through the file's :class:`ImportMap`, minus names the module re-binds.

    ``from keras import Sequential`` then ``Sequential = my_wrapper(Sequential)`` at module level:
    ``Sequential`` is no longer Keras's, and we cannot say what it is.
    """

    def __init__(self, imports: ImportMap, module: cst.Module) -> None:
        self.imports = imports
        self.rebound: set[str] = set()
        for stmt in module.body:
            if is_alias_assignment(stmt):
                continue  # `Dense = layers.Dense`: an alias, which ImportMap resolves
            for target in assigned_names_of_statement(stmt):
                if imports.resolve_name(target) is not None:
                    self.rebound.add(target)

    def qualname(self, expr: cst.BaseExpression) -> str | None:
        head = expr
        while type(head) is cst.Attribute:
            head = head.value
        if type(head) is cst.Name and head.value in self.rebound:
            return None
        return self.imports.qualname(expr)


def is_alias_assignment(stmt: cst.CSTNode) -> bool:
    if type(stmt) is not cst.SimpleStatementLine or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    return type(small) is cst.Assign and len(small.targets) == 1 \
        and isinstance(small.targets[0].target, cst.Name) and dotted_name(small.value) is not None


ModelKind = Literal["sequential", "functional", "subclassed"]
OutputsForm = Literal["dict", "list", "single", "unknown"]


@dataclass(eq=False)
class ModelInfo:
    """One model construction (``Sequential(...)``, ``Model(...)``, ``MyModel(...)``)."""

    kind: ModelKind
    node: cst.Call = field(repr=False)
    outputs_form: OutputsForm = "unknown"
    # Dict outputs: the names in the order written (None when a key is not a string literal).
    output_names: tuple[str, ...] | None = None
    outputs_node: cst.BaseExpression | None = field(default=None, repr=False)


@dataclass(eq=False)
class ModelCall:
    """``var.compile(...)``/``var.fit(...)``... where ``var`` is bound to ``model`` at that point."""

    method: str
    node: cst.Call = field(repr=False)
    receiver: str  # the variable the method is called on, e.g. "model"
    model: ModelInfo
    # Arguments that are names bound to a list/tuple/dict literal at the call: name node -> literal.
    literals: dict[cst.CSTNode, cst.BaseExpression] = field(default_factory=dict)

    def literal(self, expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
        """``expr`` itself, or the list/tuple/dict literal the name ``expr`` is bound to."""
        if expr is None:
            return None
        return self.literals.get(expr, expr)

    def arg(self, position: int | None, keyword: str) -> cst.BaseExpression | None:
        """The argument passed as ``keyword=`` or at ``position`` (None: absent or behind ``*args``)."""
        positional = 0
        for arg in self.node.args:
            if arg.star:
                if position is not None and arg.star == "*" and positional <= position:
                    return None  # position hidden behind *args: unknown
                continue
            if arg.keyword is not None:
                if arg.keyword.value == keyword:
                    return arg.value
                continue
            if position is not None and positional == position:
                return arg.value
            positional += 1
        return None

    def y(self) -> cst.BaseExpression | None:
        return self.arg(1, "y") if self.method in FIT_METHODS else None


@dataclass(frozen=True)
class KerasTensor:
    """A symbolic layer output of a functional model."""

    node: cst.CSTNode  # the expression that produced it


@dataclass(frozen=True)
class Layer:
    """A Keras layer object."""

    node: cst.CSTNode


@dataclass(frozen=True)
class LiteralValue:
    """A dict/list/tuple literal bound to a name (e.g. ``outputs = {"a": ..., "b": ...}``)."""

    node: cst.BaseExpression


@dataclass(frozen=True)
class BuiltDict:
    """A dict filled key by key: ``outputs = {}``, ``outputs["seg"] = ...``; names in insertion order."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Builder:
    """A user function whose every ``return`` returns a model of one known shape."""

    model: ModelInfo


UNKNOWN = None
Binding = ModelInfo | KerasTensor | Layer | LiteralValue | BuiltDict | Builder | None


@dataclass
class ModuleModels:
    """The models a module builds and calls, and the names bound to their symbolic tensors."""

    models: list[ModelInfo] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    # Name nodes (assignment targets) bound to a KerasTensor, with the producing expression.
    keras_tensor_targets: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    # Name nodes (assignment targets) bound to a model construction.
    model_targets: dict[cst.CSTNode, ModelInfo] = field(default_factory=dict)
    # Calls of user functions/classes with a KerasTensor argument (``make_loss(z_mean)``):
    # callee name -> [(the call, positional index or keyword, the argument's name)].
    keras_tensor_args: dict[str, list[tuple[cst.Call, int | str, str]]] = field(default_factory=dict)
    aliases: Resolver | None = None
