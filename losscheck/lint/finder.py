"""Find the functions Keras will call as ``fn(y_true, y_pred)``: the code the loss rules inspect.

Sources, in the order a reader would list them:

1. ``signature``: a function whose first two parameters (after ``self``/``cls`` in a method) are a
   loss-like pair: ``(y_true, y_pred)`` and the usual variants (``(labels, logits)``,
   ``(target, output)``, ``(y, y_hat)``, ``(gt, pred)``...). Precision first: a weak pair such as
   ``(target, output)`` is accepted only as listed in ``WEAK_PAIRS``; a strong name (``y_true``,
   ``y_pred``, ``y_hat``...) accepts any usual partner. A few more pairs (``(real, pred)``,
   ``(targets, inputs)``) only in a function named like a loss whose second parameter is not fed
   to a model. The prediction first (``partial_losses(predict, target)``, ``(logits, labels)``:
   ``REVERSED_PAIRS``) only in a function named like a loss: Keras passes ``(y_true, y_pred)``,
   so that order is a custom loop's loss (``loss_roles.is_custom_loop_style``).
2. ``loss-subclass``: the ``call`` method of a class whose base resolves to a Keras ``Loss`` (or
   ``LossFunctionWrapper``, or a built-in loss class such as ``CategoricalCrossentropy``), or to a
   class in the same file that does. ``metric-subclass``: likewise the ``update_state`` of a
   Keras ``Metric`` subclass, with kind ``"metric"``: Keras traces it as it traces a loss.
3. ``compile``: callables passed as ``loss=`` (or the second positional argument) to
   ``.compile(...)``: a function name, a dict ``{output: fn}`` (output names recorded), a list or
   tuple, a factory call whose function returns a nested closure (``factory``), a ``lambda``;
   ``metrics=`` / ``weighted_metrics=`` the same, with kind ``"metric"``. The function given to a
   ``LossFunctionWrapper`` (a loss) or a ``MeanMetricWrapper`` (a metric) the same way.
4. ``# losscheck: output=NAME[,NAME]`` on the ``def`` line (or the line above) binds outputs.

A function found only by its signature is a metric when its name (``dice_coef``,
``binary_accuracy``) or its module's (``metrics.py``) says so and its name does not say ``loss``: metrics legitimately return batch means, and
flagging them would be a false positive. A function used as a loss anywhere is a loss. One that
Keras surely does not call (evaluation code) is dropped: ``evaluation_code.py``.

The result has no duplicates and is in source order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from losscheck.lint.api.logits import canonical
from losscheck.lint.api.loss_names import (  # the tables, shared with the pre-filter
    NAMED_PAIRS,
    PARTNER_PRED,
    PARTNER_TRUE,
    REVERSED_PAIRS,
    STRONG_PRED,  # noqa: F401 - the finder's names, which the pre-filter's must cover
    STRONG_TRUE,  # noqa: F401
    WEAK_PAIRS,
    is_strong_pred,
    is_strong_true,
)
from losscheck.lint.astutil import all_nodes, get_arg, own_nodes, simple_string_value
from losscheck.lint.context import FileContext, FunctionKind, LossFunction
from losscheck.lint.evaluation_code import drop_evaluation_code, name_says_loss
from losscheck.lint.facts import fact
from losscheck.lint.imports import ImportMap
from losscheck.lint.syntax_index import SyntaxIndex, syntax_index

_LOSS_NAME = re.compile(r"loss|entropy|objective", re.IGNORECASE)

_LOSS_BASES = frozenset({"Loss", "LossFunctionWrapper"})
_NOT_LOSS_BASES = frozenset({"Reduction", "ReductionV2"})
_LOSS_MODULES = (
    "keras.losses", "keras.src.losses", "tensorflow.keras.losses", "tf_keras.losses",
    "tensorflow.python.keras.losses", "keras.src.losses.loss", "keras.src.losses.losses",
    "tensorflow.compat.v1.keras.losses", "tensorflow.compat.v2.keras.losses",
)
_METRIC_MODULES = (
    "keras.metrics", "keras.src.metrics", "tensorflow.keras.metrics", "tf_keras.metrics",
    "tensorflow.python.keras.metrics", "tensorflow.compat.v1.keras.metrics", "tensorflow.compat.v2.keras.metrics",
)
# wrappers whose first argument Keras calls as ``fn(y_true, y_pred)``
_WRAPPERS: dict[str, FunctionKind] = {"LossFunctionWrapper": "loss", "MeanMetricWrapper": "metric"}
_METRIC_NAME = re.compile(r"(accuracy|(^|_)acc($|_)|precision|recall|(^|_)f1|(^|_)iou|coef|score|metric|auc)")
_OUTPUT_COMMENT = re.compile(r"#\s*losscheck:\s*output\s*=\s*([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*)")


def is_loss_pair(first: str, second: str) -> bool:
    if (first, second) in WEAK_PAIRS:
        return True
    return (is_strong_true(first) and (second in PARTNER_PRED or is_strong_pred(second))) or (
        (first in PARTNER_TRUE or is_strong_true(first)) and is_strong_pred(second))


def _positional_names(params: cst.Parameters) -> list[str]:
    return [p.name.value for p in (*params.posonly_params, *params.params)]


def _all_param_names(params: cst.Parameters) -> list[str]:
    names = _positional_names(params) + [p.name.value for p in params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if type(star) is cst.Param:
            names.append(star.name.value)
    return names


@dataclass
class FoundFunction:
    """A function or lambda the finder takes for loss code, with its y_true/y_pred parameters."""

    node: cst.FunctionDef | cst.Lambda
    name: str
    kind: FunctionKind
    y_true: str | None
    y_pred: str | None
    origin: str
    class_node: cst.ClassDef | None
    outputs: list[str] = field(default_factory=list)
    extra: tuple[str, ...] = ()
    uses: set[str] = field(default_factory=set)  # kinds it is passed to compile() as

    def final_kind(self) -> FunctionKind:
        # used as a loss anywhere -> loss; only ever passed as a metric -> metric; else its own guess
        if "loss" in self.uses:
            return "loss"
        if "metric" in self.uses:
            return "metric"
        return self.kind


class _Finder:
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.imports: ImportMap = ctx.imports
        self.index: SyntaxIndex = syntax_index(ctx)
        self.found: dict[cst.CSTNode, FoundFunction] = {}
        stem = ctx.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        self._metrics_module = "metric" in stem and "loss" not in stem
        self.loss_classes = self._subclasses(self._is_keras_loss_base)
        self.metric_classes = self._subclasses(self._is_keras_metric_base)

    # -- helpers ----------------------------------------------------------------------
    def _is_keras_loss_base(self, base: cst.BaseExpression) -> bool:
        qn = self.imports.qualname(base)
        if qn:
            module, _, last = qn.rpartition(".")
            # `Loss` itself or a built-in loss class (`class Weighted(keras.losses.CategoricalCrossentropy)`)
            return module in _LOSS_MODULES and last[:1].isupper() and last not in _NOT_LOSS_BASES
        # `class Dice(Loss)` with `Loss` from an import we cannot see (star import): name only.
        return type(base) is cst.Name and base.value in _LOSS_BASES and bool(self.imports.star_modules)

    def _is_keras_metric_base(self, base: cst.BaseExpression) -> bool:
        qn = self.imports.qualname(base)
        if not qn:
            return False
        module, _, last = qn.rpartition(".")
        return (module in _METRIC_MODULES or module.startswith(("keras.src.metrics.", "tf_keras.src.metrics."))) \
            and last[:1].isupper()

    def _subclasses(self, is_base: Callable[[cst.BaseExpression], bool]) -> set[str]:
        """The classes of the file whose base ``is_base`` accepts, or a class of the file that is one."""
        names: set[str] = set()
        changed = True
        while changed:  # same-file subclasses, to a fixed point
            changed = False
            for cname, nodes in self.index.classes.items():
                if cname in names:
                    continue
                for cls in nodes:
                    for arg in cls.bases:
                        if is_base(arg.value) or (
                            type(arg.value) is cst.Name and arg.value.value in names
                        ):
                            names.add(cname)
                            changed = True
                            break
        return names

    def _method_params(self, fn: cst.FunctionDef, in_class: bool) -> list[str]:
        params = _positional_names(fn.params)
        if in_class and not self._is_static(fn) and params and params[0] in {"self", "cls"}:
            params = params[1:]
        elif in_class and not self._is_static(fn) and params:
            params = params[1:]  # first parameter of a method is the instance whatever its name
        return params

    @staticmethod
    def _method_may_be_loss(fn: cst.FunctionDef, cls: cst.ClassDef) -> bool:
        """A method of a class that is not a Loss: only `__call__` or a method named like a loss,
        and never in a test case (reference implementations there use NumPy on purpose)."""
        cname = cls.name.value
        if cname.endswith(("Test", "Tests")) or cname.startswith("Test"):
            return False
        for base in cls.bases:
            text = base.value.attr.value if type(base.value) is cst.Attribute else getattr(base.value, "value", "")
            if isinstance(text, str) and text.endswith("TestCase"):
                return False
        name = fn.name.value
        return name == "__call__" or "loss" in name.lower()

    @staticmethod
    def _is_static(fn: cst.FunctionDef) -> bool:
        return any(type(d.decorator) is cst.Name and d.decorator.value == "staticmethod" for d in fn.decorators)

    def _add(
        self,
        node: cst.FunctionDef | cst.Lambda,
        params: list[str],
        kind: FunctionKind,
        origin: str,
        class_node: cst.ClassDef | None = None,
        outputs: tuple[str, ...] = (),
        all_params: list[str] | None = None,
    ) -> None:
        if len(params) < 2:
            return
        existing = self.found.get(node)
        if existing is None:
            if type(node) is cst.FunctionDef:
                name = f"{class_node.name.value}.{node.name.value}" if class_node else node.name.value
            else:
                name = "<lambda>"
            extra = tuple(p for p in (all_params or params) if p not in params[:2])
            existing = FoundFunction(node, name, kind, params[0], params[1], origin, class_node, extra=extra)
            self.found[node] = existing
        if origin != "signature" and not (origin == "loss-subclass" and not outputs and kind == "loss"):
            existing.uses.add(kind)
        for out in outputs:
            if out not in existing.outputs:
                existing.outputs.append(out)

    # -- sources ------------------------------------------------------------------------
    def by_signature(self) -> None:
        for fn, cls, _parent in self.index.functions:
            in_class = cls is not None
            params = self._method_params(fn, in_class)
            if cls is not None and cls.name.value in self.loss_classes and fn.name.value == "call":
                self._add(fn, params, "loss", "loss-subclass", cls, all_params=params)
                continue
            if cls is not None and cls.name.value in self.metric_classes and fn.name.value == "update_state":
                self._add(fn, params, "metric", "metric-subclass", cls, all_params=params)
                continue
            if len(params) >= 2 and is_loss_pair(params[0], params[1]):
                if cls is not None and not self._method_may_be_loss(fn, cls):
                    continue
                self._add_by_signature(fn, cls, params)
            elif len(params) >= 2 and cls is None and self._named_loss_pair(fn, params[0], params[1]):
                self._add_by_signature(fn, cls, params)
            elif len(params) >= 2 and cls is None and self._reversed_loss_pair(fn, params[0], params[1]):
                self._add_by_signature(fn, cls, [params[1], params[0], *params[2:]])

    def _add_by_signature(self, fn: cst.FunctionDef, cls: cst.ClassDef | None, params: list[str]) -> None:
        name = fn.name.value.lower()
        says_loss = name_says_loss(name)
        # a module named for metrics (metrics.py, custom_metrics.py) holds metrics unless named otherwise
        says_metric = bool(_METRIC_NAME.search(name)) or self._metrics_module
        kind: FunctionKind = "metric" if (not says_loss and says_metric) else "loss"
        extra = [p for p in _all_param_names(fn.params) if p not in params[:2] and p not in {"self", "cls"}]
        self._add(fn, params, kind, "signature", cls, all_params=params[:2] + extra)

    def _named_loss_pair(self, fn: cst.FunctionDef, first: str, second: str) -> bool:
        """``(real, pred)``, ``(targets, inputs)`` in a function named like a loss, where the second
        is not fed to a model (``model(inputs)``: then it holds the model's inputs, not its output)."""
        if (first, second) not in NAMED_PAIRS or not _LOSS_NAME.search(fn.name.value):
            return False
        from losscheck.lint.astutil import own_nodes

        for node in own_nodes(fn):
            if type(node) is cst.Call and node.args and self.imports.api(node.func) is None:
                value = node.args[0].value
                if type(value) is cst.Name and value.value == second:
                    return False
        return True

    @staticmethod
    def _reversed_loss_pair(fn: cst.FunctionDef, first: str, second: str) -> bool:
        """``partial_losses(predict, target)``: prediction first, in a function named like a loss
        (a custom training loop's loss, ``loss_roles.is_custom_loop_style``)."""
        return (first, second) in REVERSED_PAIRS and bool(_LOSS_NAME.search(fn.name.value))

    def by_compile(self) -> None:
        for call, scope in self.index.compile_calls:
            positional = [a for a in call.args if a.keyword is None and a.star == ""]
            for arg in call.args:
                kw = arg.keyword.value if arg.keyword is not None else None
                if kw == "loss" or (kw is None and arg.star == "" and len(positional) >= 2 and arg is positional[1]):
                    self._callables(arg.value, "loss", scope, (), depth=0)
                elif kw in {"metrics", "weighted_metrics"}:
                    self._callables(arg.value, "metric", scope, (), depth=0)

    def by_wrapper(self, ctx: FileContext) -> None:
        """``LossFunctionWrapper(fn, ...)`` and ``MeanMetricWrapper(fn, ...)``: Keras calls ``fn``
        as it calls a compiled loss or metric."""
        if "Wrapper" not in ctx.source:
            return  # most files: no call to resolve
        calls = []  # (call, its kind; None: a `super().__init__(...)` to check against its class)
        for node in all_nodes(ctx):
            if type(node) is not cst.Call:
                continue
            func = node.func
            if type(func) is cst.Attribute and func.attr.value == "__init__" and type(func.value) is cst.Call \
                    and type(func.value.func) is cst.Name and func.value.func.value == "super":
                calls.append((node, None))  # `class Weighted(LossFunctionWrapper)`: its __init__ passes fn
                continue
            kind = self._wrapper_kind(func)
            if kind is not None:
                calls.append((node, kind))
        if not calls:
            return
        from losscheck.lint.scope_index import scope_index  # a whole-file walk: only a file that wraps

        where = scope_index(ctx).where
        for call, kind in calls:
            found = where.get(call)
            scope = found[0] if found else None
            while scope is not None and type(scope.node) is not cst.FunctionDef:
                scope = scope.parent  # the function the call is in (a lambda's: the def around it)
            function = scope.node if scope is not None else None
            if kind is None:  # super().__init__ in a method of a wrapper's subclass
                cls = self.index.where.get(function, (None, None))[0] if function is not None else None
                kinds = [k for base in (cls.bases if cls is not None else ()) if (k := self._wrapper_kind(base.value))]
                if not kinds:
                    continue
                kind = kinds[0]
            fn = get_arg(call, "fn", 0)
            if fn is not None:
                self._callables(fn, kind, function, (), depth=0)  # type: ignore[arg-type]

    def _wrapper_kind(self, func: cst.BaseExpression) -> FunctionKind | None:
        qualname = canonical(self.imports.qualname(func)) or ""
        return _WRAPPERS.get(qualname.rsplit(".", 1)[-1]) if qualname.startswith(("keras.", "tf_keras.")) else None

    def by_compile_elsewhere(self, uses: dict[str, frozenset[str]]) -> None:
        """A piece of a chunked file (``chunks.py``): module-level functions that ``compile()``
        calls in other pieces name, as ``by_compile`` resolves a bare name at module level."""
        for kind in ("loss", "metric"):
            names = uses.get(f"{kind}-bare", frozenset())
            for name in names:
                fn = self._lookup_function(name, None)
                # module level only: a nested def is bound by a bare name only when no other def in
                # the whole file has that name, which a piece cannot know
                if fn is not None and self.index.where[fn] == (None, None):
                    self._add(fn, self._method_params(fn, False), kind, "compile", None)

    def by_comment(self) -> None:
        for fn, _cls, _parent in self.index.functions:
            found = self.found.get(fn)
            if found is None:
                continue
            comments: list[str] = []
            if type(fn.body) is cst.IndentedBlock and fn.body.header.comment is not None:
                comments.append(fn.body.header.comment.value)
            comments.extend(line.comment.value for line in fn.leading_lines if line.comment is not None)
            for text in comments:
                match = _OUTPUT_COMMENT.search(text)
                if match:
                    for out in (o.strip() for o in match.group(1).split(",")):
                        if out not in found.outputs:
                            found.outputs.append(out)

    # -- resolving what compile() was given ----------------------------------------------
    def _lookup_function(self, name: str, scope: cst.FunctionDef | None) -> cst.FunctionDef | None:
        candidates = self.index.by_name.get(name, [])
        # prefer a def in the same function, then one at module level; several -> ambiguous
        where = self.index.where
        # a piece of a chunked file sees its own module-level defs only (another piece may define
        # the name too); the defs inside one function all lie in that function's piece
        uses = self.ctx.options.get("compile_uses")
        piece_blind = uses is not None and name not in uses.get("defined-once", frozenset())
        local = [f for f in candidates if where[f] == (None, scope)]
        if len(local) == 1 and not (scope is None and piece_blind):
            return local[0]
        if piece_blind:
            return None
        top = [f for f in candidates if where[f] == (None, None)]
        if len(top) == 1:
            return top[0]
        if len(candidates) != 1:
            return None
        return candidates[0]

    def _lookup_value(self, name: str, scope: cst.FunctionDef | None) -> cst.BaseExpression | None:
        for key in ((scope, name), (None, name)):
            values = self.index.assigns.get(key)
            if values:
                return values[0] if len(values) == 1 else None
        return None

    def _callables(
        self,
        value: cst.BaseExpression,
        kind: FunctionKind,
        scope: cst.FunctionDef | None,
        outputs: tuple[str, ...],
        depth: int,
    ) -> None:
        if depth > 4:
            return
        if type(value) is cst.Lambda:
            params = _positional_names(value.params)
            self._add(value, params, kind, "lambda", outputs=outputs)
        elif type(value) is cst.Name:
            fn = self._lookup_function(value.value, scope)
            if fn is not None:
                cls = self.index.where[fn][0]
                self._add(fn, self._method_params(fn, cls is not None), kind, "compile", cls, outputs=outputs)
                return
            assigned = self._lookup_value(value.value, scope)
            if assigned is not None:
                self._callables(assigned, kind, scope, outputs, depth + 1)
            for added in self.index.extends.get((scope, value.value), ()):
                self._callables(added, kind, scope, outputs, depth + 1)
        elif type(value) is cst.Dict:
            for element in value.elements:
                if type(element) is cst.DictElement:
                    # `{model.output_names[1]: metrics}`: a key we cannot read names no output
                    key = simple_string_value(element.key) if type(element.key) is cst.SimpleString else None
                    out = (key,) if isinstance(key, str) else ()
                    self._callables(element.value, kind, scope, outputs + out, depth + 1)
        elif type(value) in (cst.List, cst.Tuple):
            for element in value.elements:
                if type(element) is cst.Element:
                    self._callables(element.value, kind, scope, outputs, depth + 1)
        elif type(value) is cst.Call and self.imports.qualname(value.func) == "functools.partial":
            # `loss=functools.partial(weighted, weight=2.0)`: Keras calls the wrapped function
            if value.args and value.args[0].keyword is None and not value.args[0].star:
                self._callables(value.args[0].value, kind, scope, outputs, depth + 1)
        elif type(value) is cst.Call and type(value.func) is cst.Name:
            name = value.func.value
            if name in self.index.classes:  # `loss=DiceLoss()`: the class's call method
                for cls in self.index.classes[name]:
                    for fn in self.index.methods.get(cls, ()):
                        if fn.name.value == "call":
                            self._add(fn, self._method_params(fn, True), kind, "loss-subclass", cls, outputs=outputs)
                return
            factory = self._lookup_function(name, scope)
            if factory is not None:
                for closure in self._returned_closures(factory):
                    if type(closure) is cst.Lambda:
                        self._add(closure, _positional_names(closure.params), kind, "lambda", outputs=outputs)
                    else:
                        self._add(closure, _positional_names(closure.params), kind, "factory", outputs=outputs)

    def _returned_closures(self, factory: cst.FunctionDef) -> list[cst.FunctionDef | cst.Lambda]:
        """Nested defs (or lambdas) that ``factory`` returns by name or directly."""
        nested = {f.name.value: f for f in self.index.inner.get(factory, ())}
        result: list[cst.FunctionDef | cst.Lambda] = []
        for ret in _own_returns(factory):
            value = ret.value
            if type(value) is cst.Lambda:
                result.append(value)
            elif type(value) is cst.Name:
                if value.value in nested:
                    result.append(nested[value.value])
                else:
                    assigned = self.index.assigns.get((factory, value.value), [])
                    result.extend(v for v in assigned if type(v) is cst.Lambda)
        return result

    # -- result --------------------------------------------------------------------------
    def result(self) -> list[LossFunction]:
        order = self.index.order
        items = sorted(self.found.values(), key=lambda f: order.get(f.node, 0))
        return [
            LossFunction(
                node=f.node,
                name=f.name,
                kind=f.final_kind(),
                y_true=f.y_true,
                y_pred=f.y_pred,
                origin=f.origin,
                class_node=f.class_node,
                outputs=tuple(f.outputs),
                extra_params=f.extra,
            )
            for f in items
        ]


def _own_returns(fn: cst.FunctionDef) -> list[cst.Return]:
    return [node for node in own_nodes(fn) if type(node) is cst.Return]


@dataclass(frozen=True)
class FoundCode:
    """The finder's result for a file: its loss and metric functions, and its Loss classes."""

    functions: tuple[LossFunction, ...]
    loss_classes: frozenset[str]


@fact(syntax_index)
def found_code(ctx: FileContext) -> FoundCode:
    finder = _Finder(ctx)
    finder.by_signature()
    finder.by_compile()
    finder.by_wrapper(ctx)
    uses = ctx.options.get("compile_uses")
    if uses:
        finder.by_compile_elsewhere(uses)
    finder.by_comment()
    drop_evaluation_code(finder.found, finder.imports, finder.index)
    return FoundCode(tuple(finder.result()), frozenset(finder.loss_classes))


def find_loss_functions(ctx: FileContext) -> list[LossFunction]:
    return list(found_code(ctx).functions)


def loss_class_names(ctx: FileContext) -> frozenset[str]:
    """Names of the classes in this file that are Keras ``Loss`` subclasses (directly or not)."""
    return found_code(ctx).loss_classes
