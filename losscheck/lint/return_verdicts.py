"""Does a loss return one value per example? The return classifier.

Each returned expression of a loss is classified (:class:`Kind`): a per-example tensor, a value
reduced over the batch (with the call that did it, the *witness*), a constant, or unknown. The
classifier follows names to their reaching values, helpers (``summaries.py``) and Loss objects,
and notes batch-wide terms added to per-example ones (:func:`mixed_batch_terms`). What counts as
a reduction and whether its axis is the batch is ``reductions.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import libcst as cst

from losscheck.lint.astutil import get_arg, literal_int, literal_ints
from losscheck.lint.context import FileContext, LossFunction
from losscheck.lint.dataflow import function_facts
from losscheck.lint.default_branches import (
    default_values,
    passed_elsewhere,
    runs_under_defaults,
    surely_runs,
)
from losscheck.lint.facts import fact
from losscheck.lint.loss_objects import reducing_loss_object_call
from losscheck.lint.loss_roles import is_keras_called
from losscheck.lint.reductions import as_reduction, axis0_is_batch, reduces_batch
from losscheck.lint.scope_index import values_reaching

# keras.losses functions that reduce the last axis (one value per example for (B, C) inputs).
_LAST_AXIS_LOSSES = frozenset({
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "mean_squared_error", "mse",
    "mean_absolute_error", "mae", "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error",
    "msle", "huber", "log_cosh", "logcosh", "kl_divergence", "kld", "poisson", "hinge", "squared_hinge",
    "categorical_hinge", "cosine_similarity",
})


# -- does the returned value keep one value per example? ---------------------------------------


class Kind(Enum):
    REDUCED = "reduced"  # no batch axis left: one value for the whole batch
    TENSOR = "tensor"  # a batch-derived tensor that (as far as we can tell) keeps the batch axis
    CONST = "const"  # not derived from the batch: literals, hyperparameters, shapes and sizes
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    """What a returned value is, as the batch axis goes: kept, reduced, a constant, unknown."""

    kind: Kind
    witness: cst.CSTNode | None = None  # the call that reduced over the batch
    # REDUCED: "no-axis" | "axis-0" | "flattened" | "loss-object" | "helper" | "column-slices"; CONST: "sample" when it
    # is one sample's value (`y_true[0]`): no batch axis to combine with, but a reduction of it is
    # judged as a reduction of the batch tensor it came from
    reason: str = ""
    helper: str = ""  # name of the local loss helper whose result is reduced


# element-wise (or scalar-preserving) ops: a reduced input stays reduced
_ELEMENTWISE = frozenset(
    {"sqrt", "rsqrt", "log", "log1p", "exp", "abs", "square", "negative", "sigmoid", "tanh", "pow", "power",
     "maximum", "minimum", "clip_by_value", "clip", "cast", "multiply", "add", "subtract", "divide",
     "truediv", "divide_no_nan", "div_no_nan", "squeeze", "identity", "convert_to_tensor", "stop_gradient",
     "reduce_mean", "reduce_sum", "mean", "sum", "scalar_mul", "add_n", "sign", "softplus", "relu", "log_sigmoid",
     "cast_to_floatx"}
)
# produce values that do not carry the batch as data (sizes, shapes, dtypes, constants)
_CONST_OPS = frozenset(
    {"size", "shape", "int_shape", "rank", "ndim", "constant", "epsilon", "floatx", "dtype", "as_dtype",
     "ones", "zeros", "count_params", "shape_n"}
)


def _combine(verdicts: list[Verdict]) -> Verdict:
    kinds = [v.kind for v in verdicts]
    if Kind.TENSOR in kinds:
        return Verdict(Kind.TENSOR)
    if Kind.UNKNOWN in kinds:
        return Verdict(Kind.UNKNOWN)
    for v in verdicts:
        if v.kind is Kind.REDUCED:
            return v
    # keep "sample": a value computed from one sample's slice (see ReturnClassifier._call)
    return next((v for v in verdicts if v.reason == "sample"), Verdict(Kind.CONST))


def reduced_returns(ctx: FileContext, fn: LossFunction) -> list[tuple[cst.BaseExpression, "Verdict"]]:
    """``ReturnClassifier(ctx, fn).reduced_returns()``, computed once per function and file."""
    return _classifier(ctx, fn).result


def mixed_batch_terms(ctx: FileContext, fn: LossFunction) -> list["Verdict"]:
    """Loss terms reduced over the whole batch that a returned per-example value adds or subtracts
    (``bce(y_true, y_pred) + dice_over_batch(y_true, y_pred)``): Keras weights and scales the
    per-example part, not them."""
    return _classifier(ctx, fn).mixed


@fact()
def _classifiers(ctx: FileContext) -> dict[tuple, "ReturnClassifier"]:
    return {}  # memo: (function, its y_true, y_pred) -> its classified returns


def _classifier(ctx: FileContext, fn: LossFunction) -> "ReturnClassifier":
    cache = _classifiers(ctx)
    key = (id(fn.node), fn.y_true, fn.y_pred)
    if key not in cache:
        classifier = cache[key] = ReturnClassifier(ctx, fn)
        classifier.result = classifier.reduced_returns()
    return cache[key]


class ReturnClassifier:
    """Classifies a loss's returned expressions (see :class:`Kind`)."""

    def __init__(self, ctx: FileContext, fn: LossFunction, depth: int = 0, hooks: bool = True) -> None:
        self.ctx = ctx
        self.fn = fn
        self.facts = function_facts(ctx, fn)
        self.depth = depth
        # shape inference is keyed by function: a helper bound in several ways is read without it
        self.hooks = hooks
        self._names: dict[str, Verdict] = {}
        self._busy: set[str] = set()
        self.result: list[tuple[cst.BaseExpression, Verdict]] = []
        self._flow: dict[tuple[str, int, int], Verdict] = {}
        self._busy_flow: set[tuple[str, int, int]] = set()
        self.mixed: list[Verdict] = []  # see mixed_batch_terms

    def _own_returns(self) -> list[cst.BaseExpression]:
        """The returned expressions, less a recursive call of the function itself (`return
        iou(1 - y_true, 1 - y_pred)` for an empty image): it returns what the other returns do.
        Returns in branches that Keras's call never takes are left out (``_taken``)."""
        node = self.fn.node
        returns = self._taken(list(self.facts.returns))
        if type(node) is not cst.FunctionDef or self.fn.class_node is not None:
            return returns
        own = [v for v in returns
               if not (type(v) is cst.Call and type(v.func) is cst.Name and v.func.value == node.name.value)]
        return own or returns

    def _taken(self, values: list[cst.BaseExpression]) -> list[cst.BaseExpression]:
        """``values`` (assigned or returned) less those in branches that the defaults of the
        loss's extra parameters rule out, when Keras calls the loss itself
        (``default_branches.py``); all of them otherwise, or when that would leave none."""
        defaults = self._defaults()
        if not defaults:
            return values
        parents, stop = self.facts.parents, self.fn.node
        kept = [v for v in values
                if (statement := parents.get(v)) is None or runs_under_defaults(statement, parents, defaults, stop)]
        return kept or values

    def _after_last_sure(self, values: list[cst.BaseExpression]) -> list[cst.BaseExpression]:
        """``values`` from the last plain assignment that surely runs on, in source order: one in
        the function's own body, or in branches that the defaults select (``if reduce ==
        "mean": loss = K.mean(loss)``), overwrites every value assigned before it."""
        defaults = self._defaults()
        if not defaults or len(values) < 2:
            return values
        parents, body = self.facts.parents, self.fn.node.body  # type: ignore[union-attr]
        order = {id(node): i for i, node in enumerate(self.facts.nodes)}
        placed = sorted(((order.get(id(v), -1), v) for v in values), key=lambda item: item[0])
        if placed[0][0] < 0:
            return values
        last = None
        for i, (_at, value) in enumerate(placed):
            statement = parents.get(value)
            if type(statement) is cst.Assign and surely_runs(statement, parents, defaults, body):
                last = i
        return values if last is None else [value for _at, value in placed[last:]]

    def _defaults(self) -> dict[str, object]:
        cached: dict[str, object] | None = self.__dict__.get("_default_values")
        if cached is None:
            cached = {}
            node = self.fn.node
            if self.depth == 0 and type(node) is cst.FunctionDef and is_keras_called(self.fn):
                facts = self.facts
                defaults = default_values(node, {self.fn.y_true, self.fn.y_pred})
                passed = passed_elsewhere(self.ctx, node) if defaults else set()  # a caller may set them
                cached = {name: value for name, value in defaults.items()
                          if not facts.is_bound_locally(name) and name not in passed}
            self.__dict__["_default_values"] = cached
        return cached

    def returns(self) -> Verdict:
        values = self._own_returns()
        if not values:
            return Verdict(Kind.UNKNOWN)
        verdicts = [self.classify(v) for v in values]
        kinds = {v.kind for v in verdicts}
        if kinds == {Kind.REDUCED}:
            return verdicts[0]
        return Verdict(Kind.UNKNOWN if Kind.REDUCED in kinds else _combine(verdicts).kind)

    def reduced_returns(self) -> list[tuple[cst.BaseExpression, Verdict]]:
        """Each returned expression whose value is batch-reduced, with its verdict (every return
        must be reduced: one per-example branch makes the function ambiguous, so none)."""
        values = self._own_returns()
        verdicts = [self.classify(v) for v in values]
        # an early `return 0.0` is no per-example value either: reduced and constant returns only
        if not any(v.kind is Kind.REDUCED for v in verdicts):
            return []
        if any(v.kind not in (Kind.REDUCED, Kind.CONST) for v in verdicts):
            return []
        return [(e, v) for e, v in zip(values, verdicts, strict=True) if v.kind is Kind.REDUCED]

    # -- the classifier ---------------------------------------------------------------------
    def classify(self, expr: cst.BaseExpression) -> Verdict:
        if type(expr) in (cst.Integer, cst.Float, cst.SimpleString):
            return Verdict(Kind.CONST)
        if type(expr) is cst.Name:
            return self._name(expr.value, expr)
        if type(expr) is cst.Attribute:
            if expr.attr.value in {"shape", "dtype", "ndim"}:
                return Verdict(Kind.CONST)
            return Verdict(Kind.TENSOR) if self.facts.derives(expr) else Verdict(Kind.CONST)
        if type(expr) is cst.UnaryOperation:
            return self.classify(expr.expression)
        if type(expr) is cst.BinaryOperation:
            sides = [self.classify(expr.left), self.classify(expr.right)]
            if type(expr.operator) in (cst.Add, cst.Subtract, cst.Multiply):
                self._note_mixed(sides)
            return _combine(sides)
        if type(expr) is cst.IfExp:
            a, b = self.classify(expr.body), self.classify(expr.orelse)
            if a.kind is b.kind:
                return a
            return Verdict(Kind.UNKNOWN)
        if type(expr) is cst.Subscript:
            inner = self.classify(expr.value)
            if inner.kind in (Kind.REDUCED, Kind.CONST):
                return inner
            if _picks_one_sample(expr) and axis0_is_batch(self.ctx, self.facts, expr.value):
                # `y_true[0][0][0]`: one sample's value, no batch axis left (wrong-axis reports the index)
                return Verdict(Kind.CONST, reason="sample")
            if axis0_is_batch(self.ctx, self.facts, expr):
                return Verdict(Kind.TENSOR)  # `y_pred[..., 1:]`, `y[:, 0]`: the batch axis is kept
            return Verdict(Kind.UNKNOWN)  # indexing a tensor may drop the batch axis: other rules
        if type(expr) is cst.Call:
            return self._call(expr)
        return Verdict(Kind.UNKNOWN)

    def _column_slices(self, args: list[cst.BaseExpression]) -> bool:
        """Both operands are ``y[:, k]`` columns of the incoming tensors (``k`` an integer)."""
        if len(args) != 2:
            return False
        for arg in args:
            if not (type(arg) is cst.Subscript and type(arg.value) is cst.Name
                    and self.facts.is_param(arg.value.value) and len(arg.slice) == 2):
                return False
            first, second = arg.slice[0].slice, arg.slice[1].slice
            if not (type(first) is cst.Slice and first.lower is None and first.upper is None
                    and first.step is None and type(second) is cst.Index and literal_int(second.value) is not None):
                return False
        return True

    def _note_mixed(self, sides: list[Verdict]) -> None:
        """``per_example + term`` where ``term`` is a loss of y_true and y_pred over the whole batch
        (not a statistic of one of them, which may be meant as a constant)."""
        if {v.kind for v in sides} != {Kind.TENSOR, Kind.REDUCED}:
            return
        term = next(v for v in sides if v.kind is Kind.REDUCED)
        if term.witness is None or term.reason not in {"no-axis", "flattened", "helper", "column-slices"}:
            return
        if len(self.facts.sources(term.witness)) == 2 and all(term.witness is not v.witness for v in self.mixed):
            self.mixed.append(term)

    def _name(self, name: str, use: cst.Name | None = None) -> Verdict:
        if not self.facts.is_param(name) and use is not None:
            reaching = values_reaching(self.ctx, use)
            if reaching is not None:
                return self._reaching_name(name, [value for _operator, value in reaching])
        if name in self._names:
            return self._names[name]
        if self.facts.is_param(name):
            return Verdict(Kind.TENSOR)
        if name in self._busy:
            return Verdict(Kind.UNKNOWN)
        facts = self.facts
        if name in facts.loop_vars or name in facts.complex_bound:
            return Verdict(Kind.UNKNOWN if facts.taint.get(name) else Kind.CONST)
        values = self._after_last_sure(self._taken(facts.assigns.get(name, []) + facts.aug_assigns.get(name, [])))
        if not values:
            # not bound here: a parameter such as sample_weight / smooth, a global or a closure
            # variable: a hyperparameter as far as the batch is concerned
            if name in facts.fn.extra_params:
                return Verdict(Kind.CONST)
            return Verdict(Kind.CONST)
        self._busy.add(name)
        verdicts = [self.classify(v) for v in values]
        self._busy.discard(name)
        kinds = {v.kind for v in verdicts}
        if len(kinds) == 1:
            result = verdicts[0]
        elif kinds <= {Kind.REDUCED, Kind.CONST}:
            # `loss = 0.0` then `loss += tf.reduce_mean(...)`: reduced
            result = next(v for v in verdicts if v.kind is Kind.REDUCED)
        else:
            result = Verdict(Kind.UNKNOWN)
        self._names[name] = result
        return result

    def _reaching_name(self, name: str, values: list[cst.BaseExpression]) -> Verdict:
        """``name`` where straight-line code leaves ``values`` in effect: ``loss = a`` then
        ``loss *= w`` reads as ``a * w``; an earlier ``loss = ...`` no longer counts."""
        key = (name, id(values[0]), len(values))
        cached = self._flow.get(key)
        if cached is not None:
            return cached
        if key in self._busy_flow:
            return Verdict(Kind.UNKNOWN)
        self._busy_flow.add(key)
        result = _combine([self.classify(v) for v in values])
        self._busy_flow.discard(key)
        self._flow[key] = result
        return result

    def _call(self, call: cst.Call) -> Verdict:
        ctx, facts = self.ctx, self.facts
        args = [a.value for a in call.args]
        reduction = as_reduction(ctx, call)
        if reduction is not None:
            operand = self.classify(reduction.operand)
            if operand.kind is Kind.REDUCED or (operand.kind is Kind.CONST and operand.reason != "sample"):
                return operand
            if operand.kind is Kind.UNKNOWN and not facts.derives(reduction.operand):
                return Verdict(Kind.UNKNOWN)
            if reduction.axes() is not None and self._flattened(reduction.operand):
                # `K.sum(K.flatten(y_true) * K.flatten(y_pred), axis=-1)`: the batch was merged into the
                # one remaining axis, so any reduction of it reduces over the batch
                return Verdict(Kind.REDUCED, call, "flattened")
            verdict = reduces_batch(ctx, self.fn, reduction, self.hooks)
            if verdict is True:
                axes = reduction.axes()
                return Verdict(Kind.REDUCED, call, "no-axis" if axes == () else "axis-0")
            if verdict is False:
                return Verdict(Kind.TENSOR)
            return Verdict(Kind.UNKNOWN)
        if facts.derives(call) or type(call.func) is cst.Call:
            ctor = reducing_loss_object_call(ctx, facts, call)
            if ctor is not None:
                return Verdict(Kind.REDUCED, call, "loss-object")
        found = ctx.imports.api(call.func)
        if found is not None and found.family in ("keras.losses", "tf.keras.losses") \
                and found.name in _LAST_AXIS_LOSSES and self._column_slices(args[:2]):
            # `keras.losses.binary_crossentropy(y_true[:, 0], y_pred[:, 0])`: the loss reduces the last
            # axis, which for a (batch,) column is the batch axis
            return Verdict(Kind.REDUCED, call, "column-slices")
        if found is not None:
            short = found.name.rsplit(".", 1)[-1]
            if short in _CONST_OPS:
                return Verdict(Kind.CONST)
            if short in _ELEMENTWISE:
                return _combine([self.classify(a) for a in args[:2]]) if args else Verdict(Kind.UNKNOWN)
            return Verdict(Kind.TENSOR) if facts.derives(call) else Verdict(Kind.UNKNOWN)
        if type(call.func) is cst.Name:
            if call.func.value == "len":
                return Verdict(Kind.CONST)
            if call.func.value in {"float", "int"} and args:
                return self.classify(args[0])
            if call.func.value == "sum" and args and type(args[0]) in (cst.GeneratorExp, cst.ListComp):
                # `sum(bce(y_true[i], y_pred[i]) for i in ...)`: what each term is
                return self.classify(args[0].elt)
            helper = self._local_loss(call.func.value)
            if helper is not None and self.depth < 3 and facts.derives(call):
                inner = ReturnClassifier(ctx, helper, self.depth + 1).returns()
                if inner.kind is Kind.REDUCED:
                    return Verdict(Kind.REDUCED, call, "helper", helper.name)
                if inner.kind is Kind.TENSOR:
                    return Verdict(Kind.TENSOR)
            elif helper is None and self.depth < 3 and facts.derives(call):
                from losscheck.lint.summaries import (
                    helper_call_verdict,  # a plain helper: see summaries.py
                )

                summary = helper_call_verdict(self, call)
                if summary is not None:
                    return summary
        if type(call.func) is cst.Attribute and self.depth < 3 and facts.derives(call):
            from losscheck.lint.summaries import (
                helper_call_verdict,  # `self._term(x)`: see summaries.py
            )

            summary = helper_call_verdict(self, call)
            if summary is not None:
                return summary
        return Verdict(Kind.UNKNOWN)

    def _flattened(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """Is ``expr`` a batch tensor flattened to one axis (``K.flatten``, ``reshape(x, [-1])``)?"""
        if depth > 6:
            return False
        if type(expr) is cst.Name:
            value = self.facts.single_value(expr.value)
            return value is not None and self._flattened(value, depth + 1)
        if type(expr) is cst.BinaryOperation:
            sides = [s for s in (expr.left, expr.right) if self.facts.derives(s)]
            return bool(sides) and all(self._flattened(s, depth + 1) for s in sides)
        if type(expr) is cst.Call:
            found = self.ctx.imports.api(expr.func)
            if found is None or not self.facts.derives(expr):
                return False
            short = found.name.rsplit(".", 1)[-1]
            if short in {"flatten", "ravel"} and found.family in {"keras.backend", "tf.keras.backend", "keras.ops",
                                                                  "numpy"}:
                return True
            if short == "reshape":
                shape = get_arg(expr, "shape", 1) or get_arg(expr, "newshape", 1) or get_arg(expr, "new_shape", 1)
                return literal_ints(shape) == (-1,)
            if short in _ELEMENTWISE:
                tensor_args = [a.value for a in expr.args if a.keyword is None and self.facts.derives(a.value)]
                return bool(tensor_args) and all(self._flattened(a, depth + 1) for a in tensor_args)
        return False

    def _local_loss(self, name: str) -> LossFunction | None:
        matches = [f for f in self.ctx.functions if type(f.node) is cst.FunctionDef and f.name == name]
        return matches[0] if len(matches) == 1 else None


def _picks_one_sample(expr: cst.Subscript) -> bool:
    """``x[0]``, ``x[-1, ...]``: an integer literal on axis 0."""
    first = expr.slice[0].slice if expr.slice else None
    if type(first) is not cst.Index:
        return False
    value = first.value
    if type(value) is cst.UnaryOperation and type(value.operator) is cst.Minus:
        value = value.expression
    return type(value) is cst.Integer
