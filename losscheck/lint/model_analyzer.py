"""The model analysis: follows each scope's statements in order and records, in a ``ModuleModels``,
the models built, the ``compile``/``fit``/... calls on them and the names bound to KerasTensors.

A name re-bound inside an ``if``/``for``/``while``/``try`` block is unknown after the block; a name
bound by anything not understood is unknown; ``with`` blocks are transparent. What a functional
model's outputs are is read in ``model_outputs.py``. Entry point: ``losscheck.lint.models.analyze``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import libcst as cst

from losscheck.lint.astutil import children
from losscheck.lint.imports import dotted_name as _dotted_name
from losscheck.lint.model_outputs import functional_model
from losscheck.lint.model_syntax import (
    blocks_of,
    body_of,
    dict_keys,
    headers_of,
    param_names,
    subscript_string,
    target_name_nodes,
    target_names,
)
from losscheck.lint.model_values import (
    FIT_METHODS,
    UNKNOWN,
    Binding,
    Builder,
    BuiltDict,
    KerasTensor,
    Layer,
    LiteralValue,
    ModelCall,
    ModelInfo,
    ModuleModels,
    Resolver,
    keras_path,
)

_OWN_SCOPE_EXPRESSIONS = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_OWN_SCOPE_TYPES = frozenset(_OWN_SCOPE_EXPRESSIONS)


class ModelAnalyzer:
    def __init__(self, aliases: Resolver, facts: ModuleModels) -> None:
        self.aliases = aliases
        self.facts = facts
        self.model_classes: set[str] = set()  # user subclasses of keras.Model (module level)
        self.builders: dict[str, Builder | None] = {}  # filled lazily by builder()
        self.builder_defs: dict[str, cst.FunctionDef] = {}
        self.constants: dict[str, Binding] = {}
        self.recording = True
        # One ModelInfo per construction call, however often the call is evaluated.
        self.model_by_call: dict[cst.Call, ModelInfo] = {}

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self, module: cst.Module, bound_counts: Mapping[str, int]) -> None:
        # ``bound_counts``: how often each name is bound anywhere in the file (the scope index's);
        # a class, builder or constant is trusted only when its name is bound exactly once (no
        # re-definition in a branch, no shadowing).
        for stmt in module.body:
            if type(stmt) is cst.ClassDef and bound_counts.get(stmt.name.value) == 1:
                for base in stmt.bases:
                    if base.keyword is None and self._keras_kind(base.value) == "functional":
                        self.model_classes.add(stmt.name.value)
        # Module-level constants such as ``TASKS = ["seg", "cls"]``, bound once: builders may use them.
        constants: dict[str, Binding] = {}
        for stmt in module.body:
            if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1:
                small = stmt.body[0]
                if type(small) is cst.Assign and len(small.targets) == 1 \
                        and isinstance(small.targets[0].target, cst.Name) \
                        and bound_counts.get(small.targets[0].target.value) == 1 \
                        and type(small.value) in (cst.Dict, cst.List, cst.Tuple):
                    constants[small.targets[0].target.value] = LiteralValue(small.value)
        # Builder functions (a top-level def that returns one model): found lazily, by a dry run
        # of the def the first time a call to it is evaluated; most defs are never called from
        # model code, and a dry run of each would cost a pass over the whole file.
        self.constants = constants
        self.builder_defs = {
            stmt.name.value: stmt
            for stmt in module.body
            if type(stmt) is cst.FunctionDef and bound_counts.get(stmt.name.value) == 1
        }

    def builder(self, name: str) -> Builder | None:
        """The model the top-level def ``name`` builds, from a dry run (nothing recorded), once."""
        if name in self.builders:
            return self.builders[name]
        stmt = self.builder_defs.get(name)
        self.builders[name] = None  # also what a recursive call sees while the dry run is on
        if stmt is None:
            return None
        recording, self.recording = self.recording, False
        try:
            returns = self.run_scope(body_of(stmt.body), self.constants, param_names(stmt.params))
        finally:
            self.recording = recording
        models = [r for r in returns if isinstance(r, ModelInfo)]
        if returns and len(models) == len(returns) and len({id(m) for m in models}) == 1:
            self.builders[name] = Builder(models[0])
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
            state.bind(name, UNKNOWN)
        self._block(list(body), state)
        # Nested functions run later, when the enclosing scope's names have their final bindings:
        # only names bound exactly once in this scope are trusted inside them.
        stable = {k: v for k, v in dict(parent).items() if k not in counts}
        stable.update({k: v for k, v in env.items() if counts.get(k) == 1 and k not in globals_declared})
        for fn in deferred:
            self.run_scope(body_of(fn.body), stable, param_names(fn.params))
        return returns

    def _block(self, statements: list[cst.CSTNode], state: _ScopeState) -> None:
        for stmt in statements:
            self._statement(stmt, state)

    def _statement(self, stmt: cst.CSTNode, state: _ScopeState) -> None:
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                self._small(small, state)
        elif type(stmt) is cst.FunctionDef:
            state.bind(stmt.name.value, UNKNOWN)
            state.deferred.append(stmt)
        elif type(stmt) is cst.ClassDef:
            state.bind(stmt.name.value, UNKNOWN)
            # Methods: scopes of their own that see module names (not class-body names).
            for inner in body_of(stmt.body):
                if type(inner) is cst.FunctionDef:
                    state.deferred.append(inner)
        elif type(stmt) is cst.With:
            for item in stmt.items:
                self._expression(item.item, state)
                if item.asname is not None:
                    for name in target_names(item.asname.name):
                        state.bind(name, UNKNOWN)
            self._block(body_of(stmt.body), state)
        elif type(stmt) in (cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match):
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
        for header in headers_of(stmt):
            self._expression(header, state)
        if type(stmt) is cst.For:
            for name in target_names(stmt.target):
                state.bind(name, UNKNOWN)
        if type(stmt) in (cst.Try, cst.TryStar):
            for handler in stmt.handlers:
                if handler.name is not None and type(handler.name.name) is cst.Name:
                    state.bind(handler.name.name.value, UNKNOWN)
        start = dict(state.env)
        changed: set[str] = set()
        for block, mode in blocks_of(stmt):
            if mode != "continue":
                state.env.clear()
                state.env.update(start)
                if mode == "uncertain":
                    for name in changed:
                        state.env[name] = UNKNOWN
            self._block(block, state)
            changed.update(n for n, b in state.env.items() if n not in start or start[n] is not b)
        state.env.clear()
        state.env.update(start)
        for name in changed | {n for n in start if n not in before or before[n] is not start[n]}:
            state.env[name] = UNKNOWN

    def _small(self, small: cst.BaseSmallStatement, state: _ScopeState) -> None:
        if type(small) is cst.Assign:
            value = self._expression(small.value, state)
            for target in small.targets:
                self._assign(target.target, value, small.value, state)
        elif type(small) is cst.AnnAssign:
            if small.value is not None:
                value = self._expression(small.value, state)
                self._assign(small.target, value, small.value, state)
        elif type(small) is cst.AugAssign:
            value = self._expression(small.value, state)
            if type(small.target) is cst.Name:
                old = state.lookup(small.target.value)
                new = old if isinstance(old, KerasTensor) else UNKNOWN
                state.bind(small.target.value, new, small.target)
                if isinstance(new, KerasTensor):
                    self._mark_tensor(small.target, new)
            del value
        elif type(small) is cst.Return:
            state.returns.append(self._expression(small.value, state) if small.value is not None else UNKNOWN)
        elif type(small) is cst.Global:
            for item in small.names:
                state.globals_declared.add(item.name.value)
                state.bind(item.name.value, UNKNOWN)
        elif type(small) is cst.Nonlocal:
            for item in small.names:
                state.bind(item.name.value, UNKNOWN)
        elif type(small) in (cst.Import, cst.ImportFrom):
            names = small.names
            if type(names) is not cst.ImportStar:
                for alias in names:
                    local = alias.asname.name if alias.asname is not None else alias.name
                    dotted_name = _dotted_name(local) or ""
                    state.bind(dotted_name.split(".")[0], UNKNOWN)
        elif type(small) is cst.Expr:
            self._expression(small.value, state)
        else:
            self._effects(small, state)

    def _assign(self, target: cst.BaseExpression, value: Binding, value_node: cst.BaseExpression,
                state: _ScopeState) -> None:
        if type(target) is cst.Name:
            state.bind(target.value, value, target)
            if isinstance(value, KerasTensor):
                self._mark_tensor(target, value)
            elif isinstance(value, ModelInfo) and self.recording:
                self.facts.model_targets[target] = value
        elif type(target) in (cst.Tuple, cst.List):
            # Unpacking a layer output (``z_mean, z_log_var = encoder(x)``) gives layer outputs.
            element_value = value if isinstance(value, KerasTensor) else UNKNOWN
            if type(value_node) in (cst.Tuple, cst.List) and len(value_node.elements) == len(target.elements):
                for element, source in zip(target.elements, value_node.elements):
                    self._assign(element.value, self._expression(source.value, state, effects=False),
                                 source.value, state)
                return
            for name_node in target_name_nodes(target):
                state.bind(name_node.value, element_value, name_node)
                if isinstance(element_value, KerasTensor):
                    self._mark_tensor(name_node, element_value)
        elif type(target) is cst.Subscript and type(target.value) is cst.Name:
            # ``outputs["a"] = ...``: a dict filled key by key keeps its names in insertion order;
            # any other change to a tracked literal makes it unknown.
            name = target.value.value
            bound = state.lookup(name)
            names = bound.names if isinstance(bound, BuiltDict) else None
            if isinstance(bound, LiteralValue) and type(bound.node) is cst.Dict:
                names = dict_keys(bound.node)
            key = subscript_string(target)
            if names is not None and key is not None:
                state.bind(name, BuiltDict(names if key in names else (*names, key)))
            elif isinstance(bound, (LiteralValue, BuiltDict)):
                state.bind(name, UNKNOWN)

    def _mark_tensor(self, target: cst.CSTNode, value: KerasTensor) -> None:
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
                state.bind(node.target.value, UNKNOWN)
            elif kind is cst.Call:
                self._call_effects(node, state)
            stack.extend(reversed(children(node)))

    def _value(self, expr: cst.BaseExpression, state: _ScopeState) -> Binding:
        if type(expr) is cst.Name:
            return state.lookup(expr.value)
        if type(expr) in (cst.Dict, cst.List, cst.Tuple, cst.DictComp):
            return LiteralValue(expr)
        if type(expr) is cst.Call:
            return self._call_value(expr, state)
        if type(expr) is cst.Attribute:
            return self._attribute_value(expr, state)
        if type(expr) is cst.Subscript:
            base = self._value(expr.value, state)
            if isinstance(base, KerasTensor):
                return KerasTensor(expr)
            # model.outputs[0], model.layers[-1].output is handled by _attribute_value
            return UNKNOWN
        if type(expr) is cst.BinaryOperation:
            if self._is_tensor(expr.left, state) or self._is_tensor(expr.right, state):
                return KerasTensor(expr)
            return UNKNOWN
        if type(expr) is cst.UnaryOperation and self._is_tensor(expr.expression, state):
            return KerasTensor(expr)
        return UNKNOWN

    def _is_tensor(self, expr: cst.BaseExpression, state: _ScopeState) -> bool:
        if type(expr) in (cst.List, cst.Tuple):
            return any(self._is_tensor(e.value, state) for e in expr.elements)
        return isinstance(self._value(expr, state), KerasTensor)

    def _attribute_value(self, expr: cst.Attribute, state: _ScopeState) -> Binding:
        attr = expr.attr.value
        if attr in ("output", "outputs", "input", "inputs"):
            owner = expr.value
            if isinstance(self._value(owner, state), ModelInfo):
                return KerasTensor(expr)
            # model.layers[i].output / model.get_layer("x").output
            if type(owner) is cst.Subscript and type(owner.value) is cst.Attribute \
                    and owner.value.attr.value == "layers" \
                    and isinstance(self._value(owner.value.value, state), ModelInfo):
                return KerasTensor(expr)
            if type(owner) is cst.Call and type(owner.func) is cst.Attribute \
                    and owner.func.attr.value == "get_layer" \
                    and isinstance(self._value(owner.func.value, state), ModelInfo):
                return KerasTensor(expr)
        return UNKNOWN

    def _call_value(self, call: cst.Call, state: _ScopeState) -> Binding:
        func = call.func
        kind = self._keras_kind(func)
        if kind in ("sequential", "functional"):
            known = self.model_by_call.get(call)
            if known is None:
                if kind == "sequential":
                    known = ModelInfo("sequential", call, outputs_form="single")
                else:
                    known = functional_model(call, state.lookup, lambda expr: self._is_tensor(expr, state))
                self.model_by_call[call] = known
            return known
        if kind == "input":
            return KerasTensor(call)
        if kind == "layer":
            return Layer(call)
        if kind == "op":
            if any(self._is_tensor(a.value, state) for a in call.args):
                return KerasTensor(call)
            return UNKNOWN
        if type(func) is cst.Name:
            if func.value in self.model_classes and state.lookup(func.value) is UNKNOWN:
                return self.model_by_call.setdefault(call, ModelInfo("subclassed", call))
            builder = self.builder(func.value) if state.lookup(func.value) is UNKNOWN else None
            if builder is not None:
                return builder.model
        callee = self._value(func, state) if type(func) is not cst.Call else self._call_value(func, state)
        if isinstance(callee, (Layer, ModelInfo)) and call.args and not call.args[0].keyword \
                and self._is_tensor(call.args[0].value, state):
            return KerasTensor(call)
        return UNKNOWN

    def _call_effects(self, call: cst.Call, state: _ScopeState) -> None:
        """Record ``var.compile/fit(...)`` calls and user-function calls with layer-output arguments."""
        if not self.recording:
            return
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in ("compile",) + FIT_METHODS:
            receiver = func.value
            model = self._value(receiver, state) if type(receiver) is cst.Name else UNKNOWN
            if isinstance(model, ModelInfo):
                literals = {}
                for arg in call.args:
                    if type(arg.value) is cst.Name:
                        bound = state.lookup(arg.value.value)
                        if isinstance(bound, LiteralValue):
                            literals[arg.value] = bound.node
                self.facts.calls.append(
                    ModelCall(func.attr.value, call, receiver.value, model, literals)  # type: ignore[union-attr]
                )
        if type(func) is cst.Name:
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
                if type(arg.value) is cst.Name and isinstance(state.lookup(arg.value.value), KerasTensor):
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
            return UNKNOWN
        return self.parent.get(name, UNKNOWN)
