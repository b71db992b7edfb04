"""Module facts about Keras models, read statically (no import of the user's code or of Keras).

What it finds, per file:

- model constructions: ``Sequential([...])`` / ``keras.Sequential()`` (+ ``.add``), functional
  ``Model(inputs, outputs=...)`` with the outputs' form (a dict with its names, a list, one tensor),
  and instances of user subclasses of ``keras.Model``;
- ``.compile(...)`` / ``.fit(...)`` / ``.evaluate(...)`` / ``.train_on_batch(...)`` calls, tied to the
  model bound to the variable they are called on at that point of the code;
- layer outputs (KerasTensors): names bound to ``keras.Input(...)``, ``Dense(...)(x)``,
  ``layer(x)``, ``model.output``, ``model.layers[i].output``, ``keras.ops`` on KerasTensors, ...

Precision first: the analysis follows one scope's statements in order; a name re-bound inside an
``if``/``for``/``while``/``try`` block is "unknown" after the block, a name bound by anything it does not
understand is "unknown", and unknown never produces a finding. ``with`` blocks are transparent
(``with strategy.scope(): model = ...`` is the common case).

Import resolution goes through the file's :class:`~losscheck.lint.imports.ImportMap`; it only needs to
answer "is this expression ``keras...Sequential``?".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from losscheck.lint.facts import fact
from losscheck.lint.astutil import children, walk
from losscheck.lint.binder import Bindings, Scope, bind_module
from losscheck.lint.syntax_index import tree_order
from losscheck.lint.imports import ImportMap

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


class _Resolver:
    """Qualified names through the file's :class:`ImportMap`, minus names the module re-binds.

    ``from keras import Sequential`` then ``Sequential = my_wrapper(Sequential)`` at module level:
    ``Sequential`` is no longer Keras's, and we cannot say what it is.
    """

    def __init__(self, imports: ImportMap, module: cst.Module) -> None:
        self.imports = imports
        self.rebound: set[str] = set()
        for stmt in module.body:
            if _is_alias_assignment(stmt):
                continue  # `Dense = layers.Dense`: an alias, which ImportMap resolves
            for target in _assigned_names_of_statement(stmt):
                if imports.resolve_name(target) is not None:
                    self.rebound.add(target)

    def qualname(self, expr: cst.BaseExpression) -> str | None:
        head = expr
        while isinstance(head, cst.Attribute):
            head = head.value
        if isinstance(head, cst.Name) and head.value in self.rebound:
            return None
        return self.imports.qualname(expr)


def _is_alias_assignment(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    return isinstance(small, cst.Assign) and len(small.targets) == 1 \
        and isinstance(small.targets[0].target, cst.Name) and _dotted(small.value) is not None


def _dotted(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = _dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def _assigned_names_of_statement(stmt: cst.CSTNode) -> Iterator[str]:
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    yield from _target_names(target.target)
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)) and small.value is not None:
                yield from _target_names(small.target)
    elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        yield stmt.name.value


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


# -- facts ------------------------------------------------------------------------------------

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
class _KerasTensor:
    node: cst.CSTNode  # the expression that produced it


@dataclass(frozen=True)
class _Layer:
    node: cst.CSTNode


@dataclass(frozen=True)
class _Literal:
    """A dict/list/tuple literal bound to a name (e.g. ``outputs = {"a": ..., "b": ...}``)."""

    node: cst.BaseExpression


@dataclass(frozen=True)
class _BuiltDict:
    """A dict filled key by key: ``outputs = {}``, ``outputs["seg"] = ...``; names in insertion order."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class _Builder:
    """A user function whose every ``return`` returns a model of one known shape."""

    model: ModelInfo


_Unknown = None
_OWN_SCOPE_EXPRESSIONS = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_OWN_SCOPE_TYPES = frozenset(_OWN_SCOPE_EXPRESSIONS)
Binding = ModelInfo | _KerasTensor | _Layer | _Literal | _BuiltDict | _Builder | None


@dataclass
class ModuleModels:
    models: list[ModelInfo] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    # Name nodes (assignment targets) bound to a KerasTensor, with the producing expression.
    keras_tensor_targets: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    # Name nodes (assignment targets) bound to a model construction.
    model_targets: dict[cst.CSTNode, ModelInfo] = field(default_factory=dict)
    # Calls of user functions/classes with a KerasTensor argument (``make_loss(z_mean)``):
    # callee name -> [(the call, positional index or keyword, the argument's name)].
    keras_tensor_args: dict[str, list[tuple[cst.Call, int | str, str]]] = field(default_factory=dict)
    aliases: _Resolver | None = None


@fact()
def model_facts(ctx) -> ModuleModels:
    """The models of ``ctx.module`` and how they are compiled and fitted."""
    imports = ctx.imports if "keras" in ctx.source else None
    return analyze(ctx.module, ctx.source, imports=imports)


_ROOT_WORDS = ("Sequential", "Model", "Functional", "Input")


def analyze(module: cst.Module, source: str | None = None, imports: ImportMap | None = None) -> ModuleModels:
    text = source if source is not None else module.code
    if "keras" not in text:  # cheap pre-filter: every fact below needs a Keras import
        return ModuleModels()
    if not any(word in text for word in _ROOT_WORDS):
        # Every fact starts from a model construction or an ``Input``: a name whose qualified
        # name ends in one of these words, which the file must then spell out somewhere.
        return ModuleModels()
    aliases = _Resolver(imports or ImportMap.from_module(module), module)
    facts = ModuleModels(aliases=aliases)
    analyzer = _Analyzer(aliases, facts)
    analyzer.prepare(module)
    analyzer.run_scope(module.body, parent={})
    facts.models = list(analyzer.model_by_call.values())
    return facts


class _Analyzer:
    def __init__(self, aliases: _Resolver, facts: ModuleModels) -> None:
        self.aliases = aliases
        self.facts = facts
        self.model_classes: set[str] = set()  # user subclasses of keras.Model (module level)
        self.builders: dict[str, _Builder | None] = {}  # filled lazily by builder()
        self.builder_defs: dict[str, cst.FunctionDef] = {}
        self.constants: dict[str, Binding] = {}
        self.recording = True
        # One ModelInfo per construction call, however often the call is evaluated.
        self.model_by_call: dict[cst.Call, ModelInfo] = {}

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self, module: cst.Module) -> None:
        # How often each name is bound anywhere in the file: a class, builder or constant is trusted
        # only when its name is bound exactly once (no re-definition in a branch, no shadowing).
        bound_counts = _binding_counts(module)
        for stmt in module.body:
            if isinstance(stmt, cst.ClassDef) and bound_counts.get(stmt.name.value) == 1:
                for base in stmt.bases:
                    if base.keyword is None and self._keras_kind(base.value) == "functional":
                        self.model_classes.add(stmt.name.value)
        # Module-level constants such as ``TASKS = ["seg", "cls"]``, bound once: builders may use them.
        constants: dict[str, Binding] = {}
        for stmt in module.body:
            if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                small = stmt.body[0]
                if isinstance(small, cst.Assign) and len(small.targets) == 1 \
                        and isinstance(small.targets[0].target, cst.Name) \
                        and bound_counts.get(small.targets[0].target.value) == 1 \
                        and isinstance(small.value, (cst.Dict, cst.List, cst.Tuple)):
                    constants[small.targets[0].target.value] = _Literal(small.value)
        # Builder functions (a top-level def that returns one model): found lazily, by a dry run
        # of the def the first time a call to it is evaluated; most defs are never called from
        # model code, and a dry run of each would cost a pass over the whole file.
        self.constants = constants
        self.builder_defs = {
            stmt.name.value: stmt
            for stmt in module.body
            if isinstance(stmt, cst.FunctionDef) and bound_counts.get(stmt.name.value) == 1
        }

    def builder(self, name: str) -> _Builder | None:
        """The model the top-level def ``name`` builds, from a dry run (nothing recorded), once."""
        if name in self.builders:
            return self.builders[name]
        stmt = self.builder_defs.get(name)
        self.builders[name] = None  # also what a recursive call sees while the dry run is on
        if stmt is None:
            return None
        recording, self.recording = self.recording, False
        try:
            returns = self.run_scope(_body_of(stmt.body), self.constants, _param_names(stmt.params))
        finally:
            self.recording = recording
        models = [r for r in returns if isinstance(r, ModelInfo)]
        if returns and len(models) == len(returns) and len({id(m) for m in models}) == 1:
            self.builders[name] = _Builder(models[0])
        return self.builders[name]

    # -- classification ---------------------------------------------------------------------
    def _keras_kind(self, func: cst.BaseExpression) -> str | None:
        path = keras_path(self.aliases.qualname(func))
        if path is None:
            return None
        last = path.rsplit(".", 1)[-1]
        if last == "Sequential":
            return "sequential"
        if last in ("Model", "Functional"):
            return "functional"
        if last == "Input":
            return "input"
        parts = path.split(".")
        if "layers" in parts[:-1] and last[:1].isupper():
            return "layer"
        if parts[0] in ("ops", "backend") or (len(parts) > 1 and parts[-2] == "ops"):
            return "op"  # keras.ops / Keras 2's backend functions applied to layer outputs
        return None

    # -- scopes -----------------------------------------------------------------------------
    def run_scope(
        self, body: Iterable[cst.CSTNode], parent: Mapping[str, Binding], params: Iterable[str] = ()
    ) -> list[Binding]:
        """Walk one scope's statements in order. Returns the bindings of its ``return`` values.

        ``params``: the function's parameters, bound to unknown values (they shadow outer names).
        """
        env: dict[str, Binding] = {}
        counts: dict[str, int] = {}
        returns: list[Binding] = []
        deferred: list[cst.FunctionDef] = []
        globals_declared: set[str] = set()
        state = _ScopeState(env, counts, returns, deferred, globals_declared, parent)
        for name in params:
            state.bind(name, _Unknown)
        self._block(list(body), state)
        # Nested functions run later, when the enclosing scope's names have their final bindings:
        # only names bound exactly once in this scope are trusted inside them.
        stable = {k: v for k, v in dict(parent).items() if k not in counts}
        stable.update({k: v for k, v in env.items() if counts.get(k) == 1 and k not in globals_declared})
        for fn in deferred:
            self.run_scope(_body_of(fn.body), stable, _param_names(fn.params))
        return returns

    def _block(self, statements: list[cst.CSTNode], state: _ScopeState) -> None:
        for stmt in statements:
            self._statement(stmt, state)

    def _statement(self, stmt: cst.CSTNode, state: _ScopeState) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, state)
        elif isinstance(stmt, cst.FunctionDef):
            state.bind(stmt.name.value, _Unknown)
            state.deferred.append(stmt)
        elif isinstance(stmt, cst.ClassDef):
            state.bind(stmt.name.value, _Unknown)
            # Methods: scopes of their own that see module names (not class-body names).
            for inner in _body_of(stmt.body):
                if isinstance(inner, cst.FunctionDef):
                    state.deferred.append(inner)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self._expression(item.item, state)
                if item.asname is not None:
                    for name in _target_names(item.asname.name):
                        state.bind(name, _Unknown)
            self._block(_body_of(stmt.body), state)
        elif isinstance(stmt, (cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match)):
            self._conditional(stmt, state)
        else:
            self._effects(stmt, state)

    def _conditional(self, stmt: cst.CSTNode, state: _ScopeState) -> None:
        """A block that may run zero or several times: its re-bindings are unknown afterwards.

        Alternatives (``if``/``else``, ``match`` cases) each start from the bindings before the
        statement; ``except``/``else``/``finally`` blocks start from those with everything the
        earlier blocks re-bound made unknown (they may run after any part of them).
        """
        before = dict(state.env)
        for header in _headers_of(stmt):
            self._expression(header, state)
        if isinstance(stmt, cst.For):
            for name in _target_names(stmt.target):
                state.bind(name, _Unknown)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            for handler in stmt.handlers:
                if handler.name is not None and isinstance(handler.name.name, cst.Name):
                    state.bind(handler.name.name.value, _Unknown)
        start = dict(state.env)
        changed: set[str] = set()
        for block, mode in _blocks_of(stmt):
            if mode != "continue":
                state.env.clear()
                state.env.update(start)
                if mode == "uncertain":
                    for name in changed:
                        state.env[name] = _Unknown
            self._block(block, state)
            changed.update(n for n, b in state.env.items() if n not in start or start[n] is not b)
        state.env.clear()
        state.env.update(start)
        for name in changed | {n for n in start if n not in before or before[n] is not start[n]}:
            state.env[name] = _Unknown

    def _small(self, small: cst.BaseSmallStatement, state: _ScopeState) -> None:
        if isinstance(small, cst.Assign):
            value = self._expression(small.value, state)
            for target in small.targets:
                self._assign(target.target, value, small.value, state)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                value = self._expression(small.value, state)
                self._assign(small.target, value, small.value, state)
        elif isinstance(small, cst.AugAssign):
            value = self._expression(small.value, state)
            if isinstance(small.target, cst.Name):
                old = state.lookup(small.target.value)
                new = old if isinstance(old, _KerasTensor) else _Unknown
                state.bind(small.target.value, new, small.target)
                if isinstance(new, _KerasTensor):
                    self._mark_tensor(small.target, new)
            del value
        elif isinstance(small, cst.Return):
            state.returns.append(self._expression(small.value, state) if small.value is not None else _Unknown)
        elif isinstance(small, cst.Global):
            for item in small.names:
                state.globals_declared.add(item.name.value)
                state.bind(item.name.value, _Unknown)
        elif isinstance(small, cst.Nonlocal):
            for item in small.names:
                state.bind(item.name.value, _Unknown)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            names = small.names
            if not isinstance(names, cst.ImportStar):
                for alias in names:
                    local = alias.asname.name if alias.asname is not None else alias.name
                    dotted = _dotted(local) or ""
                    state.bind(dotted.split(".")[0], _Unknown)
        elif isinstance(small, cst.Expr):
            self._expression(small.value, state)
        else:
            self._effects(small, state)

    def _assign(self, target: cst.BaseExpression, value: Binding, value_node: cst.BaseExpression,
                state: _ScopeState) -> None:
        if isinstance(target, cst.Name):
            state.bind(target.value, value, target)
            if isinstance(value, _KerasTensor):
                self._mark_tensor(target, value)
            elif isinstance(value, ModelInfo) and self.recording:
                self.facts.model_targets[target] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            # Unpacking a layer output (``z_mean, z_log_var = encoder(x)``) gives layer outputs.
            element_value = value if isinstance(value, _KerasTensor) else _Unknown
            if isinstance(value_node, (cst.Tuple, cst.List)) and len(value_node.elements) == len(target.elements):
                for element, source in zip(target.elements, value_node.elements):
                    self._assign(element.value, self._expression(source.value, state, effects=False),
                                 source.value, state)
                return
            for name_node in _target_name_nodes(target):
                state.bind(name_node.value, element_value, name_node)
                if isinstance(element_value, _KerasTensor):
                    self._mark_tensor(name_node, element_value)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            # ``outputs["a"] = ...``: a dict filled key by key keeps its names in insertion order;
            # any other change to a tracked literal makes it unknown.
            name = target.value.value
            bound = state.lookup(name)
            names = bound.names if isinstance(bound, _BuiltDict) else None
            if isinstance(bound, _Literal) and isinstance(bound.node, cst.Dict):
                names = _dict_keys(bound.node)
            key = _subscript_string(target)
            if names is not None and key is not None:
                state.bind(name, _BuiltDict(names if key in names else (*names, key)))
            elif isinstance(bound, (_Literal, _BuiltDict)):
                state.bind(name, _Unknown)

    def _mark_tensor(self, target: cst.CSTNode, value: _KerasTensor) -> None:
        if self.recording:
            self.facts.keras_tensor_targets[target] = value.node

    # -- expressions ------------------------------------------------------------------------
    def _expression(self, expr: cst.BaseExpression, state: _ScopeState, effects: bool = True) -> Binding:
        if effects:
            self._effects(expr, state)
        return self._value(expr, state)

    def _effects(self, root: cst.CSTNode, state: _ScopeState) -> None:
        """Record the calls in ``root``. Lambdas and comprehensions have names of their own
        (``[m.fit(x, y) for m in models]``), so calls inside them are not tied to this scope's bindings;
        a walrus re-binds its name."""
        stack = [root]
        while stack:
            node = stack.pop()
            kind = type(node)  # exact types: cheaper than isinstance on libcst's ABCs, per node
            if kind in _OWN_SCOPE_TYPES:
                continue
            if kind is cst.NamedExpr and type(node.target) is cst.Name:
                state.bind(node.target.value, _Unknown)
            elif kind is cst.Call:
                self._call_effects(node, state)
            stack.extend(reversed(children(node)))

    def _value(self, expr: cst.BaseExpression, state: _ScopeState) -> Binding:
        if isinstance(expr, cst.Name):
            return state.lookup(expr.value)
        if isinstance(expr, (cst.Dict, cst.List, cst.Tuple, cst.DictComp)):
            return _Literal(expr)
        if isinstance(expr, cst.Call):
            return self._call_value(expr, state)
        if isinstance(expr, cst.Attribute):
            return self._attribute_value(expr, state)
        if isinstance(expr, cst.Subscript):
            base = self._value(expr.value, state)
            if isinstance(base, _KerasTensor):
                return _KerasTensor(expr)
            # model.outputs[0], model.layers[-1].output is handled by _attribute_value
            return _Unknown
        if isinstance(expr, cst.BinaryOperation):
            if self._is_tensor(expr.left, state) or self._is_tensor(expr.right, state):
                return _KerasTensor(expr)
            return _Unknown
        if isinstance(expr, cst.UnaryOperation) and self._is_tensor(expr.expression, state):
            return _KerasTensor(expr)
        return _Unknown

    def _is_tensor(self, expr: cst.BaseExpression, state: _ScopeState) -> bool:
        if isinstance(expr, (cst.List, cst.Tuple)):
            return any(self._is_tensor(e.value, state) for e in expr.elements)
        return isinstance(self._value(expr, state), _KerasTensor)

    def _attribute_value(self, expr: cst.Attribute, state: _ScopeState) -> Binding:
        attr = expr.attr.value
        if attr in ("output", "outputs", "input", "inputs"):
            owner = expr.value
            if isinstance(self._value(owner, state), ModelInfo):
                return _KerasTensor(expr)
            # model.layers[i].output / model.get_layer("x").output
            if isinstance(owner, cst.Subscript) and isinstance(owner.value, cst.Attribute) \
                    and owner.value.attr.value == "layers" \
                    and isinstance(self._value(owner.value.value, state), ModelInfo):
                return _KerasTensor(expr)
            if isinstance(owner, cst.Call) and isinstance(owner.func, cst.Attribute) \
                    and owner.func.attr.value == "get_layer" \
                    and isinstance(self._value(owner.func.value, state), ModelInfo):
                return _KerasTensor(expr)
        return _Unknown

    def _call_value(self, call: cst.Call, state: _ScopeState) -> Binding:
        func = call.func
        kind = self._keras_kind(func)
        if kind in ("sequential", "functional"):
            known = self.model_by_call.get(call)
            if known is None:
                if kind == "sequential":
                    known = ModelInfo("sequential", call, outputs_form="single")
                else:
                    known = self._functional(call, state)
                self.model_by_call[call] = known
            return known
        if kind == "input":
            return _KerasTensor(call)
        if kind == "layer":
            return _Layer(call)
        if kind == "op":
            if any(self._is_tensor(a.value, state) for a in call.args):
                return _KerasTensor(call)
            return _Unknown
        if isinstance(func, cst.Name):
            if func.value in self.model_classes and state.lookup(func.value) is _Unknown:
                return self.model_by_call.setdefault(call, ModelInfo("subclassed", call))
            builder = self.builder(func.value) if state.lookup(func.value) is _Unknown else None
            if builder is not None:
                return builder.model
        callee = self._value(func, state) if not isinstance(func, cst.Call) else self._call_value(func, state)
        if isinstance(callee, (_Layer, ModelInfo)) and call.args and not call.args[0].keyword \
                and self._is_tensor(call.args[0].value, state):
            return _KerasTensor(call)
        return _Unknown

    def _functional(self, call: cst.Call, state: _ScopeState) -> ModelInfo:
        outputs: cst.BaseExpression | None = None
        positional = [a for a in call.args if a.keyword is None and not a.star]
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "outputs":
                outputs = arg.value
        if outputs is None and len(positional) >= 2:
            outputs = positional[1].value
        info = ModelInfo("functional", call, outputs_node=outputs)
        if outputs is None:
            if not call.args:  # keras.Model() with no arguments: a subclass-style model
                info.kind = "subclassed"
            return info
        literal = outputs
        if isinstance(outputs, cst.Name):
            bound = state.lookup(outputs.value)
            if isinstance(bound, _Literal):
                literal = bound.node
            elif isinstance(bound, _BuiltDict):
                info.outputs_form = "dict"
                info.output_names = bound.names
                return info
            elif isinstance(bound, _KerasTensor):
                info.outputs_form = "single"
                return info
        if isinstance(literal, cst.Dict):
            info.outputs_form = "dict"
            info.output_names = _dict_keys(literal)
        elif isinstance(literal, cst.Call) and isinstance(literal.func, cst.Name) and literal.func.value == "dict" \
                and state.lookup("dict") is _Unknown and all(a.keyword is not None for a in literal.args):
            info.outputs_form = "dict"
            info.output_names = tuple(a.keyword.value for a in literal.args)  # type: ignore[union-attr]
        elif isinstance(literal, cst.DictComp):
            info.outputs_form = "dict"
            info.output_names = self._comprehension_keys(literal, state)
        elif isinstance(literal, (cst.List, cst.Tuple)):
            info.outputs_form = "list"
        elif self._is_tensor(literal, state):
            info.outputs_form = "single"
        return info

    def _comprehension_keys(self, comp: cst.DictComp, state: _ScopeState) -> tuple[str, ...] | None:
        """``{t: head(t) for t in ["seg", "cls"]}`` (or a name bound to that list): the keys in order."""
        loop = comp.for_in
        if loop.inner_for_in is not None or loop.ifs or loop.asynchronous is not None:
            return None
        if not (isinstance(comp.key, cst.Name) and isinstance(loop.target, cst.Name)):
            return None
        if comp.key.value != loop.target.value:
            return None
        source = loop.iter
        if isinstance(source, cst.Name):
            bound = state.lookup(source.value)
            source = bound.node if isinstance(bound, _Literal) else None
        elements = literal_elements(source) if source is not None else None
        if elements is None:
            return None
        names = []
        for element in elements:
            if not (isinstance(element, cst.SimpleString) and isinstance(element.evaluated_value, str)):
                return None
            names.append(element.evaluated_value)
        return tuple(names) if len(set(names)) == len(names) else None

    def _call_effects(self, call: cst.Call, state: _ScopeState) -> None:
        """Record ``var.compile/fit(...)`` calls and user-function calls with layer-output arguments."""
        if not self.recording:
            return
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("compile",) + FIT_METHODS:
            receiver = func.value
            model = self._value(receiver, state) if isinstance(receiver, cst.Name) else _Unknown
            if isinstance(model, ModelInfo):
                literals = {}
                for arg in call.args:
                    if isinstance(arg.value, cst.Name):
                        bound = state.lookup(arg.value.value)
                        if isinstance(bound, _Literal):
                            literals[arg.value] = bound.node
                self.facts.calls.append(
                    ModelCall(func.attr.value, call, receiver.value, model, literals)  # type: ignore[union-attr]
                )
        if isinstance(func, cst.Name):
            positional = 0
            for arg in call.args:
                if arg.star:
                    break
                slot: int | str
                if arg.keyword is not None:
                    slot = arg.keyword.value
                else:
                    slot = positional
                    positional += 1
                if isinstance(arg.value, cst.Name) and isinstance(state.lookup(arg.value.value), _KerasTensor):
                    self.facts.keras_tensor_args.setdefault(func.value, []).append((call, slot, arg.value.value))


@dataclass
class _ScopeState:
    env: dict[str, Binding]
    counts: dict[str, int]
    returns: list[Binding]
    deferred: list[cst.FunctionDef]
    globals_declared: set[str]
    parent: Mapping[str, Binding]

    def bind(self, name: str, value: Binding, node: cst.CSTNode | None = None) -> None:
        self.env[name] = value
        self.counts[name] = self.counts.get(name, 0) + 1

    def lookup(self, name: str) -> Binding:
        if name in self.env:
            return self.env[name]
        if name in self.counts or name in self.globals_declared:
            return _Unknown
        return self.parent.get(name, _Unknown)


def _param_names(params: cst.Parameters) -> list[str]:
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


def _body_of(block: cst.BaseSuite) -> list[cst.CSTNode]:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    if isinstance(block, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=block.body)]
    return []


def _blocks_of(stmt: cst.CSTNode) -> Iterator[tuple[list[cst.CSTNode], str]]:
    """The blocks of a compound statement with how each starts: "fresh" (from the bindings before
    the statement), "continue" (after the previous block) or "uncertain" (fresh, minus re-bindings)."""
    if isinstance(stmt, cst.If):
        yield _body_of(stmt.body), "fresh"
        if stmt.orelse is not None:
            if isinstance(stmt.orelse, cst.If):
                yield [stmt.orelse], "fresh"
            else:
                yield _body_of(stmt.orelse.body), "fresh"
    elif isinstance(stmt, (cst.For, cst.While)):
        yield _body_of(stmt.body), "continue"
        if stmt.orelse is not None:
            yield _body_of(stmt.orelse.body), "uncertain"
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        yield _body_of(stmt.body), "continue"
        for handler in stmt.handlers:
            yield _body_of(handler.body), "uncertain"
        if stmt.orelse is not None:
            yield _body_of(stmt.orelse.body), "uncertain"
        if stmt.finalbody is not None:
            yield _body_of(stmt.finalbody.body), "uncertain"
    elif isinstance(stmt, cst.Match):
        for case in stmt.cases:
            yield _body_of(case.body), "fresh"


def _headers_of(stmt: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    if isinstance(stmt, (cst.If, cst.While)):
        yield stmt.test
    elif isinstance(stmt, cst.For):
        yield stmt.iter
    elif isinstance(stmt, cst.Match):
        yield stmt.subject


def _target_name_nodes(target: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_name_nodes(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_name_nodes(target.value)


_BINDING_NODE_TYPES = frozenset({
    cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr, cst.FunctionDef,
    cst.ClassDef, cst.WithItem, cst.ExceptHandler, cst.Import, cst.ImportFrom, cst.Global,
})


def _binding_counts(module: cst.Module) -> dict[str, int]:
    counts: dict[str, int] = {}

    def add(names: Iterable[str]) -> None:
        for name in names:
            counts[name] = counts.get(name, 0) + 1

    for node in walk(module, into_nested=True):
        if type(node) not in _BINDING_NODE_TYPES:
            continue  # most nodes (checked by exact type: isinstance on libcst's ABCs is slow)
        if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr)):
            add(_target_names(node.target))
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            add([node.name.value])
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            add(_target_names(node.asname.name))
        elif isinstance(node, cst.ExceptHandler) and node.name is not None:
            add(_target_names(node.name.name))
        elif isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                local = alias.asname.name if alias.asname is not None else alias.name
                add([(_dotted(local) or "").split(".")[0]])
        elif isinstance(node, cst.Global):
            add(item.name.value for item in node.names)  # set from elsewhere: never "bound once"
    return counts


def _subscript_string(target: cst.Subscript) -> str | None:
    if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    key = target.slice[0].slice.value
    if isinstance(key, cst.SimpleString) and isinstance(key.evaluated_value, str):
        return key.evaluated_value
    return None


def _dict_keys(node: cst.Dict) -> tuple[str, ...] | None:
    names: list[str] = []
    for element in node.elements:
        if not isinstance(element, cst.DictElement):
            return None  # **spread
        key = element.key
        if isinstance(key, cst.SimpleString):
            value = key.evaluated_value
            if not isinstance(value, str):
                return None
            names.append(value)
        else:
            return None
    return tuple(names)


def literal_elements(node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The elements of a list/tuple literal (None if it has ``*spread`` or is not one)."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    values = []
    for element in node.elements:
        if isinstance(element, cst.StarredElement):
            return None
        values.append(element.value)
    return values


def dict_items(node: cst.BaseExpression) -> list[tuple[cst.BaseExpression, cst.BaseExpression]] | None:
    if not isinstance(node, cst.Dict):
        return None
    items = []
    for element in node.elements:
        if not isinstance(element, cst.DictElement):
            return None
        items.append((element.key, element.value))
    return items


def is_target_like(expr: cst.BaseExpression) -> bool:
    """An expression that can hold a whole target array (a name, ``data.y``, ``ys[0]``, a call).

    Number and nested-list literals are *data* (``fit(X, [0, 1, 1])`` is one target), so they
    never count as several targets.
    """
    return isinstance(expr, (cst.Name, cst.Attribute, cst.Subscript, cst.Call))


# -- what loss code reads from outside ----------------------------------------------------------


@dataclass(frozen=True)
class OuterRead:
    """A name read inside a loss function (or a scope nested in it)."""

    node: cst.Name
    scope: Scope  # the scope the read is in
    referents: tuple  # the bindings it may refer to (empty: a builtin, or defined nowhere)


@fact(tree_order)
def bindings(ctx) -> Bindings:
    """The name bindings loss code can see (``binder.bind_module``)."""
    loss_nodes = [fn.node for fn in ctx.functions]
    order: Mapping[cst.CSTNode, int] | None = tree_order(ctx)
    if order is not None and ctx.module not in order:
        order = None
    return bind_module(ctx.module, loss_nodes, order, ctx.source)


@fact()
def _loss_reads(ctx) -> dict[cst.CSTNode, list["OuterRead"]]:
    return {}  # memo: loss function -> the names it reads


def loss_scope(ctx, fn_node: cst.FunctionDef | cst.Lambda) -> Scope | None:
    """The scope of the function's own body (None if the binder did not reach it)."""
    return bindings(ctx).scope_of(fn_node)


def within(scope, ancestor) -> bool:
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.parent
    return False


def reads_in(ctx, fn_node: cst.FunctionDef | cst.Lambda) -> list[OuterRead]:
    """Every name read in the function's body and in the scopes nested in it (in no set order).

    Annotations are left out: they are evaluated when the ``def`` runs (or never, with
    ``from __future__ import annotations``), not when Keras calls the loss.
    """
    cache = _loss_reads(ctx)
    reads = cache.get(fn_node)
    if reads is None:
        own = loss_scope(ctx, fn_node)
        reads = []
        if own is not None:
            for scope in own.walk():
                reads.extend(OuterRead(name, scope, scope.lookup(name.value)) for name in scope.reads)
        cache[fn_node] = reads
    return reads


def in_source_order(ctx, reads: Iterable[OuterRead]) -> list[OuterRead]:
    def key(read: OuterRead) -> tuple[int, int]:
        where = ctx.position(read.node)
        return (where.start.line, where.start.column)

    return sorted(reads, key=key)


def full_range(ctx, node: cst.CSTNode):
    """The node's source range including its own parentheses (libcst's excludes ``(`` ``)``)."""
    from libcst.metadata import CodeRange

    where = ctx.position(node)
    lpar = getattr(node, "lpar", None)
    rpar = getattr(node, "rpar", None)
    if lpar and rpar:
        return CodeRange(ctx.position(lpar[0]).start, ctx.position(rpar[-1]).end)
    return where


def short_code(ctx, node: cst.CSTNode, limit: int = 40) -> str:
    """The node's source on one line, cut to ``limit`` characters, for messages."""
    text = " ".join(ctx.code_for(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CALL_WORDS = ("compile(", "fit(", "evaluate(", "train_on_batch(", "test_on_batch(")


def mentions_model_calls(source: str) -> bool:
    """Cheap text check: can the file hold a ``compile``/``fit``-style call at all?"""
    return any(word in source for word in _CALL_WORDS)
