"""An abstract interpreter over one loss function's body.

It walks straight-line code (assignments, tuple unpacking, ``if``/``else`` joined, loops and
``try`` blocks making the names they assign unknown, returns) and gives every expression an
abstract value (see ``values.py``); tensors get a :class:`Shape` or None. Whatever it cannot
follow (a helper function, an op not in the table, a comprehension) becomes unknown, which
rules read as "say nothing". It never executes or imports the user's code.

Problems it finds (shapes that certainly fail or silently broadcast wrong) are collected as
:class:`Note` records for the ``shape-mismatch`` rule; places where it lost track of a known
shape are collected as gaps for the ``inference-gap`` rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import float_value, int_value, simple_string_value
from losscheck.shapes import op_call, op_handlers
from losscheck.shapes import ops as ops_mod
from losscheck.shapes import shapefns as sf
from losscheck.shapes.domain import ANY, Shape
from losscheck.shapes.sources import ChannelInfo
from losscheck.shapes.notes import Note, Result
from losscheck.shapes.statements import StatementInterpreter, join
from losscheck.shapes.values import (
    UNKNOWN,
    Const,
    DimValue,
    LossObj,
    Seq,
    ShapeOf,
    Tensor,
    Value,
    as_int,
    tensor_shape,
)

if TYPE_CHECKING:
    from losscheck.lint.imports import ImportMap

_BINOPS: dict[type, str] = {
    cst.Add: "add",
    cst.Subtract: "subtract",
    cst.Multiply: "multiply",
    cst.Divide: "divide",
    cst.FloorDivide: "divide",
    cst.Modulo: "divide",
    cst.Power: "power",
    cst.BitAnd: "compare",
    cst.BitOr: "compare",
    cst.BitXor: "compare",
}

_REDUCTION_CONSTS = {"NONE": "none", "SUM": "sum", "AUTO": "auto", "SUM_OVER_BATCH_SIZE": "sum_over_batch_size"}

class Interpreter(StatementInterpreter):
    def __init__(
        self,
        module: cst.Module,
        imports: ImportMap | None,
        env: Mapping[str, Value],
        *,
        constants: Mapping[str, Value] | None = None,
        channels: Mapping[str, ChannelInfo] | None = None,
        bound_in: Callable[[cst.CSTNode], set[str]] | None = None,
    ) -> None:
        self.module = module
        self.bound_in = bound_in if bound_in is not None else (lambda node: set())
        self.imports = imports
        self.env: dict[str, Value] = dict(env)
        self.constants = constants if constants is not None else {}
        self.channels = dict(channels or {})
        self.result = Result()

    # -- helpers --------------------------------------------------------------------------
    def text(self, node: cst.CSTNode) -> str:
        code = self.module.code_for_node(node).strip()
        code = " ".join(code.split())
        return code if len(code) <= 60 else code[:57] + "..."

    def problem(self, node: cst.CSTNode, message: str, kind: str = "error") -> None:
        self.result.problems.append(Note(node, message, kind))

    def gap(self, node: cst.CSTNode, message: str) -> None:
        self.result.gaps.append(Note(node, message))

    def _api(self, func: cst.BaseExpression) -> tuple[str, str] | None:
        if self.imports is None:
            return None
        head = func
        while type(head) is cst.Attribute:
            head = head.value
        if type(head) is cst.Name and (head.value in self.env):
            return None  # a local name shadows the import
        found = self.imports.api(func)
        return (found.family, found.name) if found is not None else None

    # -- expressions ----------------------------------------------------------------------
    def eval(self, node: cst.BaseExpression) -> Value:
        value = self._eval(node)
        self.result.values[node] = value
        return value

    def _eval(self, node: cst.BaseExpression) -> Value:
        if type(node) is cst.Name:
            if node.value in self.env:
                return self.env[node.value]
            if node.value in ("True", "False", "None"):
                return Const({"True": True, "False": False, "None": None}[node.value])
            return self.constants.get(node.value, UNKNOWN)
        if type(node) is cst.Integer:
            return Const(int_value(node))
        if type(node) is cst.Float:
            return Const(float_value(node))
        if type(node) is cst.SimpleString:
            return Const(simple_string_value(node))
        if type(node) is cst.Ellipsis:
            return Const(Ellipsis)
        if type(node) in (cst.Tuple, cst.List):
            items = []
            for el in node.elements:
                if type(el) is cst.StarredElement:
                    self.eval(el.value)
                    return UNKNOWN
                items.append(self.eval(el.value))
            return Seq(tuple(items), "tuple" if type(node) is cst.Tuple else "list")
        if type(node) is cst.UnaryOperation:
            operand = self.eval(node.expression)
            if type(node.operator) is cst.Not:
                return UNKNOWN
            if isinstance(operand, Const) and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool):
                if type(node.operator) is cst.Minus:
                    return Const(-operand.value)
                if type(node.operator) is cst.Plus:
                    return operand
                return UNKNOWN
            if isinstance(operand, Tensor):
                return Tensor(operand.shape, lead=operand.lead)
            return UNKNOWN
        if type(node) is cst.BinaryOperation:
            left, right = self.eval(node.left), self.eval(node.right)
            if type(node.operator) is cst.MatrixMultiply:
                return self.call_spec(
                    node, ops_mod.OpSpec("matmul", ("x", "y")), "@",
                    {"x": left, "y": right}, {"x": node.left, "y": node.right},
                )
            word = _BINOPS.get(type(node.operator))
            if word is None:
                return UNKNOWN
            return self.binary(node, word, node.left, left, node.right, right)
        if type(node) is cst.Comparison:
            left = self.eval(node.left)
            rights = [self.eval(c.comparator) for c in node.comparisons]
            if len(node.comparisons) != 1 or isinstance(
                node.comparisons[0].operator, (cst.In, cst.NotIn, cst.Is, cst.IsNot)
            ):
                return UNKNOWN
            return self.binary(node, "compare", node.left, left, node.comparisons[0].comparator, rights[0])
        if type(node) is cst.BooleanOperation:
            self.eval(node.left)
            self.eval(node.right)
            return UNKNOWN
        if type(node) is cst.IfExp:
            self.eval(node.test)
            return join(self.eval(node.body), self.eval(node.orelse))
        if type(node) is cst.NamedExpr:
            value = self.eval(node.value)
            self.assign(node.target, value)
            return value
        if type(node) is cst.Attribute:
            return self.attribute(node)
        if type(node) is cst.Subscript:
            return self.subscript(node)
        if type(node) is cst.Call:
            return self.call(node)
        return UNKNOWN  # lambdas, comprehensions, f-strings...: not followed

    def binary(
        self, node: cst.CSTNode, word: str, lnode: cst.CSTNode, left: Value, rnode: cst.CSTNode, right: Value
    ) -> Value:
        if isinstance(left, Const) and isinstance(right, Const):
            return self.const_arith(word, node, left, right)
        if not (isinstance(left, Tensor) or isinstance(right, Tensor)):
            if isinstance(left, (DimValue, Const)) and isinstance(right, (DimValue, Const)):
                return UNKNOWN  # arithmetic on symbolic sizes: an unknown Python number
            if isinstance(left, (Seq, Const)) and isinstance(right, (Seq, Const)):
                return UNKNOWN  # list + list is concatenation, not a tensor op
            return UNKNOWN
        operands = [(lambda: self.text(lnode), left), (lambda: self.text(rnode), right)]
        shape, message = op_call.broadcast_message(operands, op_call.OP_WORDS.get(word, "result"))
        if message:
            self.problem(node, message, "silent" if shape is not None else "error")
        return op_call.make_tensor(shape, lead=op_call.common_lead([left, right]))

    def const_arith(self, word: str, node: cst.CSTNode, left: Const, right: Const) -> Value:
        a, b = left.value, right.value
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            return UNKNOWN
        try:
            if type(node) is cst.BinaryOperation:
                op = node.operator
                if type(op) is cst.Add:
                    return Const(a + b)
                if type(op) is cst.Subtract:
                    return Const(a - b)
                if type(op) is cst.Multiply:
                    return Const(a * b)
                if type(op) is cst.Divide:
                    return Const(a / b)
                if type(op) is cst.FloorDivide:
                    return Const(a // b)
        except (ZeroDivisionError, OverflowError):
            return UNKNOWN
        return UNKNOWN

    def attribute(self, node: cst.Attribute) -> Value:
        attr = node.attr.value
        if self._api(node) is not None or self.imports is not None and self.imports.qualname(node):
            qual = self.imports.qualname(node) if self.imports else None
            if qual and qual.endswith(".newaxis"):
                return Const(None)
            if qual and ".Reduction." in qual:
                return Const(_REDUCTION_CONSTS.get(attr, "?"))
            return UNKNOWN
        base = self.eval(node.value)
        if attr == "shape" and isinstance(base, Tensor):
            return ShapeOf(base.shape) if base.shape is not None else UNKNOWN
        return UNKNOWN

    def subscript(self, node: cst.Subscript) -> Value:
        base = self.eval(node.value)
        items: list[sf.IndexItem] = []
        for element in node.slice:
            sl = element.slice
            if type(sl) is cst.Index:
                if sl.star is not None:
                    items.append(sf.OpaqueIndex())
                    continue
                value = self.eval(sl.value)
                if isinstance(value, Const) and value.value is Ellipsis:
                    items.append(sf.EllipsisIndex())
                elif isinstance(value, Const) and value.value is None:
                    items.append(sf.NewAxis())
                elif as_int(value) is not None:
                    items.append(sf.IntIndex(as_int(value)))  # type: ignore[arg-type]
                else:
                    items.append(sf.OpaqueIndex())
            else:  # cst.Slice
                parts = []
                known = True
                for part in (sl.lower, sl.upper, sl.step):
                    if part is None:
                        parts.append(None)
                        continue
                    value = self.eval(part)
                    if isinstance(value, Const) and value.value is None:
                        parts.append(None)
                    elif as_int(value) is not None:
                        parts.append(as_int(value))
                    else:
                        parts.append(None)
                        known = False
                items.append(sf.SliceIndex(parts[0], parts[1], parts[2], known))
        if isinstance(base, ShapeOf):
            return self._index_shape_of(base, items)
        if isinstance(base, Seq):
            if len(items) == 1 and isinstance(items[0], sf.IntIndex):
                i = items[0].value
                if -len(base.items) <= i < len(base.items):
                    return base.items[i]
            return UNKNOWN
        if not isinstance(base, Tensor):
            return UNKNOWN
        if base.shape is None:
            first = items[0] if items else None
            if isinstance(first, sf.SliceIndex) and first.known and first.start in (None, 0) and (
                first.stop is None and first.step in (None, 1)
            ):
                return Tensor(None, lead=base.lead)  # y[:, ...] keeps axis 0
            if isinstance(first, sf.NewAxis):
                return Tensor(None, lead=1)
            return Tensor(None)
        try:
            result = sf.index_shape(base.shape, items)
        except sf.ShapeError as err:
            self.problem(node, f"`{self.text(node)}`: {err} (`{self.text(node.value)}` is {base.shape})")
            return Tensor(None)
        for warning in result.warnings:
            self.problem(
                node,
                f"`{self.text(node)}` slices {warning.text} on axis {warning.axis}, which has only "
                f"{warning.size} (`{self.text(node.value)}` is {base.shape}): the slice is silently cut short",
                "silent",
            )
        self._check_layout_slices(node, base, result)
        return Tensor(result.shape)

    def _index_shape_of(self, base: ShapeOf, items: list[sf.IndexItem]) -> Value:
        if len(items) == 1 and isinstance(items[0], sf.IntIndex):
            i = items[0].value
            if -base.shape.rank <= i < base.shape.rank:
                dim = base.shape.dims[i]
                return Const(dim) if isinstance(dim, int) else DimValue(dim)
        if len(items) == 1 and isinstance(items[0], sf.SliceIndex) and items[0].known:
            s = items[0]
            return ShapeOf(Shape(base.shape.dims[slice(s.start, s.stop, s.step)]))
        return UNKNOWN

    def _check_layout_slices(self, node: cst.Subscript, base: Tensor, result: sf.IndexResult) -> None:
        info = self.channels.get(base.origin or "")
        if info is None or not result.slices:
            return
        for axis, s in result.slices:
            if axis != info.axis or s.step not in (None, 1):
                continue
            size = base.shape.dims[axis] if base.shape else None
            if not isinstance(size, int):
                continue
            start, stop, _ = slice(s.start, s.stop).indices(size)
            if stop <= start:
                continue
            if start in info.boundaries and stop in info.boundaries:
                continue
            self.problem(
                node,
                f"`{self.text(node)}` takes channels {start}:{stop} of output '{info.output}', "
                f"which match no task's range in the layout ({info.describe()})",
                "silent",
            )

    # -- calls ------------------------------------------------------------------------------
    def call(self, node: cst.Call) -> Value:
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        pos_nodes: list[cst.CSTNode] = []
        kw_nodes: dict[str, cst.CSTNode] = {}
        starred = False
        for arg in node.args:
            value = self.eval(arg.value)
            if arg.star:
                starred = True
            elif arg.keyword is not None:
                keywords[arg.keyword.value] = value
                kw_nodes[arg.keyword.value] = arg.value
            else:
                positional.append(value)
                pos_nodes.append(arg.value)
        func = node.func
        # a method on a tensor / shape
        if type(func) is cst.Attribute and self._api(func) is None:
            base = self.eval(func.value)
            if isinstance(base, Tensor) and func.attr.value == "get_shape" and base.shape is not None:
                return ShapeOf(base.shape)
            if isinstance(base, ShapeOf) and func.attr.value == "as_list":
                return base
            if isinstance(base, Tensor) and base.shape is not None:
                self.gap(node, f"shape inference stops at the method `.{func.attr.value}()` on {base.shape}")
            else:
                self._gap_if_known(node, positional + list(keywords.values()), f"`{self.text(func)}` is not followed")
            return UNKNOWN
        api = self._api(func)
        if api is None and type(func) is cst.Name and func.value not in self.env and not starred:
            builtin = self._builtin(node, func.value, positional, pos_nodes, keywords)
            if builtin is not None:
                return builtin
        if api is None:
            callee = self.eval(func)  # a local or module-level Loss object, a called factory...
            if isinstance(callee, LossObj) and not starred and len(positional) >= 2:
                texts = (self.text(pos_nodes[0]), self.text(pos_nodes[1]))
                problems: list[str] = []
                value = op_handlers.call_loss_object(callee, positional[0], positional[1], texts, problems)
                for message in problems:
                    self.problem(node, message)
                return value
            self._gap_if_known(node, positional + list(keywords.values()), f"`{self.text(func)}` is not followed")
            return UNKNOWN
        family, name = api
        spec = ops_mod.lookup(family, name)
        if spec is not None and spec.options.get("tuple_axes"):
            qual = self.imports.qualname(func) if self.imports is not None else None
            if not (qual or "").startswith("numpy."):  # jax.numpy / tf.experimental.numpy: not NumPy's rule
                spec = ops_mod.OpSpec(spec.kind, spec.params, {**spec.options, "tuple_axes": False})
        if spec is None or starred:
            self._gap_if_known(node, positional + list(keywords.values()), f"`{self.text(func)}` is not modelled")
            return UNKNOWN
        args: dict[str, Value] = {}
        arg_nodes: dict[str, cst.CSTNode] = {}
        for pname, value, pnode in zip(spec.params, positional, pos_nodes):
            args[pname] = value
            arg_nodes[pname] = pnode
        if spec.options.get("all_keywords"):
            spec = ops_mod.OpSpec(spec.kind, tuple(keywords), {**spec.options, "positional": len(positional)})
            positional, pos_nodes = [], []
        for key, value in keywords.items():
            target = key if key in spec.params or key == "keepdims" else ops_mod.KEYWORD_ALIASES.get(key)
            if target is None or (target not in spec.params and target != "keepdims"):
                continue  # name=, dtype=, from_logits=...: no effect on the shape
            args[target] = value
            arg_nodes[target] = kw_nodes[key]
        return self.call_spec(node, spec, func, args, arg_nodes)

    def _builtin(
        self,
        node: cst.Call,
        name: str,
        positional: list[Value],
        pos_nodes: list[cst.CSTNode],
        keywords: dict[str, Value],
    ) -> Value | None:
        """Python builtins applied to tensors: ``abs(x)``, ``len(x)``, ``sum([l1, l2])``."""
        if self.imports is not None and self.imports.resolve_name(name) is not None:
            return None  # imported under a builtin's name
        if name == "abs" and len(positional) == 1 and isinstance(positional[0], Tensor):
            return op_call.make_tensor(positional[0].shape, lead=positional[0].lead)
        if name == "len" and len(positional) == 1 and isinstance(positional[0], Tensor):
            dim = positional[0].axis0
            if dim is None or dim is ANY:
                return UNKNOWN
            return Const(dim) if isinstance(dim, int) else DimValue(dim)
        if name == "sum" and len(positional) == 1 and not keywords and isinstance(positional[0], Seq):
            items = positional[0].items
            if not items or not all(isinstance(v, Tensor) for v in items):
                return None
            texts = [f"{self.text(pos_nodes[0])}[{i}]" for i in range(len(items))]
            shape, message = op_call.broadcast_message(list(zip(texts, items)), "sum")
            if message:
                self.problem(node, message, "silent" if shape is not None else "error")
            return op_call.make_tensor(shape, lead=op_call.common_lead(list(items)))
        return None

    def call_spec(
        self,
        node: cst.CSTNode,
        spec: ops_mod.OpSpec,
        label: str | cst.CSTNode,
        args: dict[str, Value],
        arg_nodes: Mapping[str, cst.CSTNode],
    ) -> Value:
        call = op_call.OpCall(spec, label, args, arg_nodes, self.text)
        value = op_handlers.HANDLERS[spec.kind](call)
        for message in call.problems:
            # a problem with a result shape is the silent batch-axes broadcast (where/binary ops)
            self.problem(node, message, "silent" if isinstance(value, Tensor) and value.shape is not None else "error")
        if isinstance(value, Tensor) and value.shape is None and any(
            tensor_shape(v) is not None and isinstance(v, Tensor) for v in args.values()
        ) and not call.problems:
            self.gap(node, f"the shape of `{self.text(node)}` is not inferred")
        return value

    def _gap_if_known(self, node: cst.CSTNode, values: list[Value], why: str) -> None:
        shapes = [v.shape for v in values if isinstance(v, Tensor) and v.shape is not None]
        if shapes:
            self.gap(node, f"shape inference stops at `{self.text(node)}`: {why}")
