"""The model analysis: what a name in model code is bound to (a model, a layer, a KerasTensor, a
literal container), read on demand through the scope index's reaching definitions, and the facts
recorded from it in a ``ModuleModels``: the models built, the ``compile``/``fit``/... calls on
them, the names bound to KerasTensors and the calls that pass one.

Which definitions reach a name is the scope index's to say (``scopes.reaching_definitions``);
this module only says what a value is. Where several reach (branches, a loop), their values are
joined: a layer output whichever ran, or the one model they all bind; anything else is unknown, and
unknown never produces a finding. A name bound by anything not understood is unknown; ``with``
blocks are transparent. A loop that carries a layer output around (``x = Dense(8)(x)``) is read
optimistically: its value is assumed to stay a layer output, and everything read under that
assumption is forgotten when the loop's value turns out otherwise. A function reads a name of an
enclosing frame through that frame's definitions. What a functional model's outputs are is read
in ``model_outputs.py``. Entry point: ``losscheck.lint.models.analyze``.
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.astutil import assign_target_nodes
from losscheck.lint.model_outputs import functional_model
from losscheck.lint.model_syntax import dict_keys, subscript_string
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
from losscheck.lint.scope_index import BRANCH_TYPES, ScopeIndex
from losscheck.lint.scopes import Definition, Scope, reaching_definitions, surely_ran

_PENDING = object()  # a value being computed: a cycle through it is unknown
_MISSING = object()
# what an assignment target is bound from: (the whole target, the value, how)
_Flow = tuple[cst.BaseExpression, cst.BaseExpression, str]


class ModelAnalyzer:
    def __init__(self, aliases: Resolver, facts: ModuleModels, index: ScopeIndex) -> None:
        self.aliases = aliases
        self.facts = facts
        self.index = index
        self.values: dict[cst.CSTNode, object] = {}  # memo: expression -> Binding (or _PENDING)
        self.cycles: set[cst.CSTNode] = set()  # pending expressions a loop came back to
        self.pessimistic: set[cst.CSTNode] = set()  # ... whose optimistic reading failed
        self.builders: dict[cst.FunctionDef, Builder | None] = {}
        self.model_classes: dict[cst.ClassDef, bool] = {}
        # One ModelInfo per construction call, however often the call is evaluated.
        self.model_by_call: dict[cst.Call, ModelInfo] = {}
        self._flows: dict[cst.Name, _Flow] | None = None

    # -- the facts --------------------------------------------------------------------------
    def record(self) -> None:
        """Record the file's model constructions (in source order), the calls on models and with
        layer outputs, and every assignment target bound to a KerasTensor or a model."""
        calls = self.index.calls
        for call in calls:  # every construction, its result bound to a name or not
            if self._keras_kind(call.func) in ("sequential", "functional") \
                    or (type(call.func) is cst.Name and type(self._statement_of(call.func)) is cst.ClassDef):
                self.value(call)
        for call in calls:
            self._record_call(call)
        for target in self._flow_of():
            value = self.bound_value(target)
            if isinstance(value, KerasTensor):
                self.facts.keras_tensor_targets[target] = value.node
            elif isinstance(value, ModelInfo):
                self.facts.model_targets[target] = value
        self.facts.models = list(self.model_by_call.values())

    def _record_call(self, call: cst.Call) -> None:
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in ("compile",) + FIT_METHODS \
                and type(func.value) is cst.Name:
            model = self.value(func.value)
            if isinstance(model, ModelInfo):
                literals = {}
                for arg in call.args:
                    if type(arg.value) is cst.Name:
                        bound = self.value(arg.value)
                        if isinstance(bound, LiteralValue):
                            literals[arg.value] = bound.node
                self.facts.calls.append(ModelCall(func.attr.value, call, func.value.value, model, literals))
        elif type(func) is cst.Name:  # a user function or class given layer outputs: make_loss(z_mean)
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
                if type(arg.value) is cst.Name and isinstance(self.value(arg.value), KerasTensor):
                    self.facts.keras_tensor_args.setdefault(func.value, []).append((call, slot, arg.value.value))

    # -- names ------------------------------------------------------------------------------
    def _flow_of(self) -> dict[cst.Name, _Flow]:
        """Each assignment target ``Name`` -> what it is bound from (the scope index's flows)."""
        if self._flows is None:
            self._flows = {}
            for frame in self.index.scopes.values():
                for _names, value, how, target in frame.flows:
                    if target is not None and how in ("assign", "unpack", "augment"):
                        for name in assign_target_nodes(target):
                            self._flows[name] = (target, value, how)
        return self._flows

    def bound_value(self, target: cst.Name) -> Binding:
        """What the assignment target ``target`` is bound to."""
        flow = self._flow_of().get(target)
        if flow is None:
            return UNKNOWN
        whole, value, how = flow
        if how == "assign":
            return self.value(value)
        if how == "augment":  # `x += 1`: a layer output stays one
            before = self.name_value(target)
            return before if isinstance(before, KerasTensor) else UNKNOWN
        return self._unpacked(whole, value, target)

    def _unpacked(self, whole: cst.BaseExpression, value: cst.BaseExpression, target: cst.Name) -> Binding:
        """``a, b = x, y`` pairs the elements; ``z_mean, z_log_var = encoder(x)`` gives layer outputs."""
        if type(whole) in (cst.Tuple, cst.List) and type(value) in (cst.Tuple, cst.List) \
                and len(whole.elements) == len(value.elements):  # type: ignore[attr-defined]
            for element, source in zip(whole.elements, value.elements):  # type: ignore[attr-defined]
                if element.value is target:
                    return self.value(source.value)
                if any(name is target for name in assign_target_nodes(element.value)):
                    return self._unpacked(element.value, source.value, target)
            return UNKNOWN
        bound = self.value(value)
        return bound if isinstance(bound, KerasTensor) else UNKNOWN

    def name_value(self, name: cst.Name) -> Binding:
        """What the name ``name`` holds where it stands (a read, or a target before it is bound)."""
        where = self.index.where.get(name)
        if where is None:
            return UNKNOWN
        frame, order, context = where
        spelled = name.value
        if spelled in frame.defs or spelled in frame.params:
            found = reaching_definitions(spelled, frame, order, context)
            if found is None or found[1] or not found[0]:
                return UNKNOWN  # unbound here, or the parameter's own value may reach
            defs = found[0]
            first = defs[0]
            if len(defs) == 1 or (first.operator is None and surely_ran(first, context) and all(
                    d.operator is not None and d.order < order and surely_ran(d, context) for d in defs[1:])):
                # a straight line: one definition, then augmented ones (which keep a layer output)
                value = self._defined(first)
                if len(defs) > 1 and not isinstance(value, KerasTensor):
                    return UNKNOWN
                return self._filled(value, spelled, frame, first.order, (order, context))
            return self._joined(defs)
        # a name of an enclosing frame: what it holds once that frame has run
        bindings = frame.lookup(spelled)
        if not bindings or any(type(b.node) is not cst.Name for b in bindings):
            return UNKNOWN
        owner = bindings[0].scope
        defs = owner.defs.get(spelled, [])
        if owner.kind not in ("module", "function") or not defs:
            return UNKNOWN
        if len(defs) == 1 and not defs[0].conditional:
            return self._filled(self._defined(defs[0]), spelled, owner, defs[0].order, None)
        return self._joined(defs)

    def _defined(self, definition: Definition) -> Binding:
        """The value a plain or unpacking definition binds (augmented ones and those with no
        value to follow: unknown)."""
        if definition.operator is not None or definition.target is None:
            return UNKNOWN
        return self.bound_value(definition.target)

    def _joined(self, defs: list[Definition]) -> Binding:
        """One of ``defs`` ran last: a layer output whichever it was, or the one model all bind."""
        values = [self._defined(d) for d in defs if d.operator is None]
        if values and all(isinstance(v, KerasTensor) for v in values):
            return values[-1]
        if values and isinstance(values[0], ModelInfo) and all(v is values[0] for v in values) \
                and len(values) == len(defs):
            return values[0]
        return UNKNOWN

    def _filled(self, value: Binding, name: str, frame: Scope, start: int,
                use: tuple[int, tuple[cst.CSTNode, ...]] | None) -> Binding:
        """``outputs = {}`` then ``outputs["seg"] = ...``: a dict filled key by key keeps its names
        in insertion order; any other change to a literal container makes it unknown. ``use``:
        the read's order and context in ``frame``; None for a read from a nested function, which
        sees every store."""
        if not isinstance(value, LiteralValue):
            return value
        stores = []
        for _names, _value, how, target in frame.flows:
            if how == "unpack" and type(target) is cst.Subscript and type(target.value) is cst.Name \
                    and target.value.value == name:
                where = self.index.where.get(target.value)
                if where is not None and where[1] > start and (use is None or where[1] < use[0]):
                    stores.append((target, where[2]))
        if not stores:
            return value
        names = dict_keys(value.node) if type(value.node) is cst.Dict else None
        for target, context in stores:
            key = subscript_string(target)
            surely = not any(type(n) in BRANCH_TYPES for n in context) or \
                (use is not None and use[1][: len(context)] == context)
            if names is None or key is None or not surely:
                return UNKNOWN
            names = names if key in names else (*names, key)
        return BuiltDict(names)

    def _statement_of(self, name: cst.Name) -> cst.CSTNode | None:
        """The ``def`` or ``class`` statement ``name`` refers to, when that is its one binding."""
        where = self.index.where.get(name)
        if where is None:
            return None
        bindings = where[0].lookup(name.value)
        if len(bindings) == 1 and type(bindings[0].node) in (cst.FunctionDef, cst.ClassDef):
            return bindings[0].node
        return None

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
        if "layers" in parts[:-1]:  # a layer class, or a function of layer outputs (layers.add)
            return "layer" if last[:1].isupper() else "op"
        if parts[0] in ("ops", "backend") or (len(parts) > 1 and parts[-2] == "ops"):
            return "op"  # keras.ops / Keras 2's backend functions applied to layer outputs
        return None

    def _is_model_class(self, cls: cst.ClassDef) -> bool:
        """A user subclass of ``keras.Model``."""
        if cls not in self.model_classes:
            self.model_classes[cls] = any(
                base.keyword is None and self._keras_kind(base.value) == "functional" for base in cls.bases)
        return self.model_classes[cls]

    def builder(self, fn: cst.FunctionDef) -> Builder | None:
        """The model ``fn`` builds when every ``return`` of it returns the same one (its
        parameters unknown), once."""
        if fn in self.builders:
            return self.builders[fn]
        self.builders[fn] = None  # also what a recursive call sees meanwhile
        frame = self.index.scopes.get(fn)
        returns = [self.value(r) for r in frame.returns] if frame is not None else []
        models = [r for r in returns if isinstance(r, ModelInfo)]
        if returns and len(models) == len(returns) and len({id(m) for m in models}) == 1:
            self.builders[fn] = Builder(models[0])
        return self.builders[fn]

    # -- expressions ------------------------------------------------------------------------
    def value(self, expr: cst.BaseExpression) -> Binding:
        """What ``expr`` evaluates to, once per node."""
        known = self.values.get(expr, _MISSING)
        if known is _PENDING:  # a loop came back here: assume it carries a layer output around
            if expr in self.pessimistic:
                return UNKNOWN
            self.cycles.add(expr)
            return KerasTensor(expr)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        self.values[expr] = _PENDING
        start = len(self.values)
        computed = self._compute(expr)
        if expr in self.cycles:
            self.cycles.discard(expr)
            if not isinstance(computed, KerasTensor):
                # the assumption failed: forget what was read under it, and read again without it
                for node in list(self.values)[start:]:
                    del self.values[node]
                    self.model_by_call.pop(node, None)  # type: ignore[call-overload]
                self.pessimistic.add(expr)
                computed = self._compute(expr)
        self.values[expr] = computed
        return computed

    def _compute(self, expr: cst.BaseExpression) -> Binding:
        kind = type(expr)
        if kind is cst.Name:
            return self.name_value(expr)  # type: ignore[arg-type]
        if kind in (cst.Dict, cst.List, cst.Tuple, cst.DictComp):
            return LiteralValue(expr)
        if kind is cst.Call:
            return self._call_value(expr)  # type: ignore[arg-type]
        if kind is cst.Attribute:
            return self._attribute_value(expr)  # type: ignore[arg-type]
        if kind is cst.Subscript:
            # model.outputs[0], model.layers[-1].output is handled by _attribute_value
            return KerasTensor(expr) if isinstance(self.value(expr.value), KerasTensor) else UNKNOWN  # type: ignore[attr-defined]
        if kind is cst.BinaryOperation:
            if self._is_tensor(expr.left) or self._is_tensor(expr.right):  # type: ignore[attr-defined]
                return KerasTensor(expr)
            return UNKNOWN
        if kind is cst.UnaryOperation and self._is_tensor(expr.expression):  # type: ignore[attr-defined]
            return KerasTensor(expr)
        return UNKNOWN

    def _is_tensor(self, expr: cst.BaseExpression) -> bool:
        if type(expr) in (cst.List, cst.Tuple):
            return any(self._is_tensor(e.value) for e in expr.elements)  # type: ignore[attr-defined]
        return isinstance(self.value(expr), KerasTensor)

    def _attribute_value(self, expr: cst.Attribute) -> Binding:
        if expr.attr.value in ("output", "outputs", "input", "inputs"):
            owner = expr.value
            if isinstance(self.value(owner), ModelInfo):
                return KerasTensor(expr)
            # model.layers[i].output / model.get_layer("x").output
            if type(owner) is cst.Subscript and type(owner.value) is cst.Attribute \
                    and owner.value.attr.value == "layers" \
                    and isinstance(self.value(owner.value.value), ModelInfo):
                return KerasTensor(expr)
            if type(owner) is cst.Call and type(owner.func) is cst.Attribute \
                    and owner.func.attr.value == "get_layer" \
                    and isinstance(self.value(owner.func.value), ModelInfo):
                return KerasTensor(expr)
        return UNKNOWN

    def _call_value(self, call: cst.Call) -> Binding:
        func = call.func
        kind = self._keras_kind(func)
        if kind in ("sequential", "functional"):
            known = self.model_by_call.get(call)
            if known is None:
                if kind == "sequential":
                    known = ModelInfo("sequential", call, outputs_form="single")
                else:
                    known = functional_model(call, self.value, self._is_tensor)
                self.model_by_call[call] = known
            return known
        if kind == "input":
            return KerasTensor(call)
        if kind == "layer":
            return Layer(call)
        if kind == "op":
            return KerasTensor(call) if any(self._is_tensor(a.value) for a in call.args) else UNKNOWN
        if type(func) is cst.Name:
            statement = self._statement_of(func)
            if type(statement) is cst.ClassDef and self._is_model_class(statement):
                return self.model_by_call.setdefault(call, ModelInfo("subclassed", call))
            builder = self.builder(statement) if type(statement) is cst.FunctionDef else None
            if builder is not None:
                return builder.model
        callee = self.value(func)
        if isinstance(callee, (Layer, ModelInfo)) and call.args and not call.args[0].keyword \
                and self._is_tensor(call.args[0].value):
            return KerasTensor(call)
        return UNKNOWN
