"""Static shape inference for loss code.

``infer(ctx, fn)`` runs the abstract interpreter (``interp.py``) over one loss function, with
the shapes of ``y_true``/``y_pred`` taken from the layout, shape comments or jaxtyping
annotations (``sources.py``), and returns :class:`ShapeFacts`, memoised per (file, function).
Rules reach it through ``ctx.shapes(fn)``. Nothing here imports TensorFlow, Keras or NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import int_value
from losscheck.lint.facts import fact
from losscheck.shapes.domain import (
    ANY,
    BATCH,
    SCALAR,
    Broadcast,
    Dim,
    Shape,
    Sym,
    broadcast,
)
from losscheck.shapes.interp import Interpreter, Note
from losscheck.shapes.sources import Declared, Sources, find_sources
from losscheck.shapes.values import UNKNOWN, Const, LossObj, Tensor, Value

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction

__all__ = [
    "ANY", "BATCH", "SCALAR", "Broadcast", "Dim", "Shape", "ShapeFacts", "Sym", "broadcast", "has_declared_shapes",
    "infer",
]



@dataclass
class ShapeFacts:
    """What shape inference knows about one loss function."""

    declared: dict[str, Declared] = field(default_factory=dict)  # param -> its declared shape
    values: dict[cst.CSTNode, Value] = field(default_factory=dict)
    problems: list[Note] = field(default_factory=list)
    gaps: list[Note] = field(default_factory=list)
    returns: list[tuple[cst.CSTNode, Value]] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """True when some parameter's shape is known (otherwise nothing was interpreted)."""
        return bool(self.declared)

    def value_of(self, node: cst.CSTNode) -> Value:
        return self.values.get(node, UNKNOWN)

    def shape_of(self, node: cst.CSTNode) -> Shape | None:
        value = self.values.get(node)
        return value.shape if isinstance(value, Tensor) else None

    def return_shapes(self) -> list[Shape | None]:
        return [v.shape if isinstance(v, Tensor) else None for _, v in self.returns]


@fact()
def module_constants(ctx: FileContext) -> dict[str, Value]:
    """Module-level ``NAME = <int>`` (``NUM_CLASSES = 3``) and ``NAME = keras.losses.SomeLoss(...)``,
    each the one definition of its name in the module and its one binding (the scope index's: no
    re-binding in a branch, a class body or a function that declares it ``global``)."""
    from losscheck.lint.scope_index import scope_index

    module = scope_index(ctx).module
    values: dict[str, Value] = {}
    for name, defs in module.defs.items():
        if len(defs) != 1 or len(module.assignments.get(name, ())) != 1:
            continue
        (definition,) = defs
        value = definition.value
        if definition.conditional or definition.operator is not None or definition.target is None \
                or module.assignments[name][0].node is not definition.target:
            continue
        if type(value) is cst.Integer:
            values[name] = Const(int_value(value))
        elif type(value) is cst.Call:
            loss_obj = _module_loss_object(ctx, value)
            if loss_obj is not None:
                values[name] = loss_obj  # bce = keras.losses.BinaryCrossentropy()
    return values


def _bound_in(ctx: FileContext, function: cst.CSTNode, statement: cst.CSTNode) -> set[str]:
    """The names ``statement`` of ``function`` may bind: the function frame's definitions inside
    it (nested defs and classes by their names only, as Python binds them)."""
    from losscheck.lint.scope_index import scope_index

    frame = scope_index(ctx).scope_of(function)
    if frame is None:
        return set()
    return {name for name, defs in frame.defs.items() if any(statement in d.context for d in defs)}


def _module_loss_object(ctx: FileContext, call: cst.Call) -> Value | None:
    """A module-level ``keras.losses.SomeLoss(...)`` as a LossObj (its arguments must be constants)."""
    found = ctx.imports.api(call.func)
    if found is None or found.family not in ("keras.losses", "tf.keras.losses") or not found.name[:1].isupper():
        return None
    interp = Interpreter(ctx.module, ctx.imports, {})
    value = interp.eval(call)
    return value if isinstance(value, LossObj) else None


class _LazyConstants(dict):
    """Module constants, computed on the first lookup of a free name (most functions need none)."""

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._loaded = False

    def get(self, key, default=None):  # type: ignore[override]
        if not self._loaded:
            self.update(module_constants(self._ctx))
            self._loaded = True
        return super().get(key, default)


@fact()
def _declared_memo(ctx: FileContext) -> dict[int, bool]:
    return {}  # memo: loss function -> whether a source declares its shapes


@fact()
def _shapes_memo(ctx: FileContext) -> dict[int, "ShapeFacts"]:
    return {}  # memo: loss function -> its shape facts


def has_declared_shapes(ctx: FileContext, fn: LossFunction) -> bool:
    """Cheap test (no interpretation): does any source declare a shape for ``fn``'s y_true/y_pred?

    Rules that only report on declared shapes (shape-mismatch, inference-gap) skip the other
    functions; the axis rules still get the batch-axis facts through ``infer`` on demand.
    """
    cache = _declared_memo(ctx)
    key = id(fn.node)
    if key not in cache:
        try:
            cache[key] = bool(find_sources(ctx, fn).shapes)
        except RecursionError:
            cache[key] = False
    return cache[key]


def infer(ctx: FileContext, fn: LossFunction) -> ShapeFacts:
    """Shape facts for ``fn`` (memoised on ``ctx``)."""
    cache = _shapes_memo(ctx)
    key = id(fn.node)
    if key in cache:
        return cache[key]
    try:
        facts = _infer(ctx, fn)
    except RecursionError:
        # absurdly deep expressions (libcst's codegen and this interpreter recurse): say
        # nothing rather than crash every rule that asks for shapes
        facts = ShapeFacts()
    cache[key] = facts
    return facts


def _infer(ctx: FileContext, fn: LossFunction) -> ShapeFacts:
    sources: Sources = find_sources(ctx, fn)
    facts = ShapeFacts(declared=dict(sources.shapes))
    env: dict[str, Value] = {}
    params = fn.node.params
    for param in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
        env[param.name.value] = UNKNOWN
        # Keras calls fn(y_true, y_pred): other parameters keep their defaults, and a number
        # default (smooth=1.0, gamma=2.0) is a scalar hyperparameter.
        default = param.default
        if type(default) is cst.UnaryOperation and type(default.operator) is cst.Minus:
            default = default.expression
        if type(default) in (cst.Integer, cst.Float):
            env[param.name.value] = Tensor(SCALAR)  # a scalar of unknown value
    for param, role in ((fn.y_true, "y_true"), (fn.y_pred, "y_pred")):
        if param:
            declared = sources.shapes.get(param)
            # undeclared: rank unknown, but Keras always passes the batch on axis 0
            env[param] = Tensor(declared.shape, role) if declared else Tensor(None, role, BATCH)
    interp = Interpreter(
        ctx.module, ctx.imports, env, constants=_LazyConstants(ctx), channels=sources.channels,
        bound_in=lambda node: _bound_in(ctx, fn.node, node),
    )
    result = interp.run_function(fn.node)
    facts.values = result.values
    facts.problems = result.problems
    # a gap is where a declared shape was lost: without declarations nothing was being tracked
    facts.gaps = result.gaps if sources.shapes else []
    facts.returns = result.returns
    return facts
