"""The statements part of the shape interpreter: straight-line code, assignments and tuple
unpacking, ``if``/``else`` (the branches' values joined), loops, ``with`` and ``try`` blocks (the
names they assign become unknown), ``return``/``raise`` (the branch does not reach the join).

Which names a loop, a ``try`` or a ``match`` may bind is the scope index's to say
(``bound_in``: the function frame's definitions inside the statement), not this module's.

:class:`StatementInterpreter` is a base of :class:`~losscheck.shapes.interp.Interpreter`, which
gives it ``eval`` (expressions), ``problem`` and ``gap``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import libcst as cst

from losscheck.lint.astutil import assign_targets

from losscheck.shapes.domain import ANY, Shape
from losscheck.shapes.notes import Result
from losscheck.shapes.values import (
    UNKNOWN,
    Const,
    DimValue,
    Seq,
    ShapeOf,
    Tensor,
    Value,
)


def join(a: Value, b: Value) -> Value:
    """The value of a name after two branches: equal values stay, different ones lose detail."""
    if a == b:
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape is not None and b.shape is not None and a.shape.rank == b.shape.rank:
            dims = tuple(x if x == y else ANY for x, y in zip(a.shape.dims, b.shape.dims))
            return Tensor(Shape(dims), a.origin if a.origin == b.origin else None)
        return Tensor(None)
    return UNKNOWN


class BlockExit(Exception):
    """Control left the block (return/raise): the branch does not reach the join."""



class StatementInterpreter:
    """Runs a function's statements over ``env``; expressions go to ``eval`` (the subclass's)."""

    env: dict[str, Value]
    result: Result
    # the names a compound statement of the function may bind (the scope index's definitions)
    bound_in: Callable[[cst.CSTNode], set[str]]

    def eval(self, node: cst.BaseExpression) -> Value:  # pragma: no cover - the subclass's
        raise NotImplementedError

    # -- statements -----------------------------------------------------------------------
    def run_function(self, node: cst.FunctionDef | cst.Lambda) -> Result:
        if type(node) is cst.Lambda:
            value = self.eval(node.body)
            self.result.returns.append((node.body, value))
            return self.result
        body = node.body
        statements = body.body if type(body) is cst.IndentedBlock else [body]
        try:
            self.block(statements)
        except BlockExit:
            pass
        return self.result

    def block(self, statements: Iterable[cst.CSTNode]) -> None:
        for stmt in statements:
            self.statement(stmt)

    def _forget(self, names: Iterable[str]) -> None:
        for name in names:
            self.env[name] = UNKNOWN

    def _body(self, node: cst.BaseSuite) -> list[cst.CSTNode]:
        if type(node) is cst.IndentedBlock:
            return list(node.body)
        return [node]  # SimpleStatementSuite

    def statement(self, stmt: cst.CSTNode) -> None:
        if type(stmt) in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
            for small in stmt.body:
                self.small(small)
        elif type(stmt) is cst.If:
            self.if_(stmt)
        elif type(stmt) in (cst.For, cst.While):
            names = self.bound_in(stmt)
            if type(stmt) is cst.For:
                self.eval(stmt.iter)
            else:
                self.eval(stmt.test)
            self._forget(names)
            saved = dict(self.env)
            try:
                self.block(self._body(stmt.body))
            except BlockExit:
                pass
            self.env = saved
            if stmt.orelse is not None:
                try:
                    self.block(self._body(stmt.orelse.body))
                except BlockExit:
                    pass
            self._forget(names)
        elif type(stmt) is cst.With:
            for item in stmt.items:
                self.eval(item.item)
                if item.asname is not None:
                    self._forget(assign_targets(item.asname.name))  # type: ignore[arg-type]
            self.block(self._body(stmt.body))
        elif type(stmt) in (cst.Try, cst.TryStar, cst.Match):
            names = self.bound_in(stmt)
            self._forget(names)
            saved = dict(self.env)
            for part in self._parts(stmt):
                try:
                    self.block(part)
                except BlockExit:
                    pass
                self.env = dict(saved)
            self._forget(names)
        elif type(stmt) in (cst.FunctionDef, cst.ClassDef):
            self.env[stmt.name.value] = UNKNOWN  # nested functions are checked on their own
        else:
            self._forget(self.bound_in(stmt))

    def _parts(self, stmt: cst.CSTNode) -> list[list[cst.CSTNode]]:
        parts: list[list[cst.CSTNode]] = []
        if type(stmt) in (cst.Try, cst.TryStar):
            parts.append(self._body(stmt.body))
            parts.extend(self._body(h.body) for h in stmt.handlers)
            if stmt.orelse is not None:
                parts.append(self._body(stmt.orelse.body))
            if stmt.finalbody is not None:
                parts.append(self._body(stmt.finalbody.body))
        elif type(stmt) is cst.Match:
            parts.extend(self._body(c.body) for c in stmt.cases)
        return parts

    def if_(self, stmt: cst.If) -> None:
        self.eval(stmt.test)
        before = dict(self.env)
        ends: list[dict[str, Value]] = []
        try:
            self.block(self._body(stmt.body))
            ends.append(self.env)
        except BlockExit:
            pass
        self.env = dict(before)
        try:
            if type(stmt.orelse) is cst.If:
                self.if_(stmt.orelse)
            elif type(stmt.orelse) is cst.Else:
                self.block(self._body(stmt.orelse.body))
            ends.append(self.env)
        except BlockExit:
            pass
        if not ends:
            raise BlockExit()
        merged = dict(ends[0])
        for other in ends[1:]:
            for name in set(merged) | set(other):
                merged[name] = join(merged.get(name, UNKNOWN), other.get(name, UNKNOWN))
        self.env = merged

    def small(self, node: cst.BaseSmallStatement) -> None:
        if type(node) is cst.Assign:
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target.target, value)
        elif type(node) is cst.AnnAssign:
            if node.value is not None:
                self.assign(node.target, self.eval(node.value))
        elif type(node) is cst.AugAssign:
            word = {
                cst.AddAssign: "add", cst.SubtractAssign: "subtract", cst.MultiplyAssign: "multiply",
                cst.DivideAssign: "divide",
            }.get(type(node.operator))
            left = self.eval(node.target)
            right = self.eval(node.value)
            if word is None or type(node.target) is not cst.Name:
                self._forget(assign_targets(node.target))
                return
            self.assign(node.target, self.binary(node, word, node.target, left, node.value, right))
        elif type(node) is cst.Expr:
            self.eval(node.value)
        elif type(node) is cst.Return:
            if node.value is not None:
                value = self.eval(node.value)
                self.result.returns.append((node.value, value))
            raise BlockExit()
        elif type(node) is cst.Raise:
            raise BlockExit()
        elif type(node) is cst.Del:
            self._forget(assign_targets(node.target))
        elif type(node) in (cst.Global, cst.Nonlocal):
            self._forget(n.name.value for n in node.names)
        elif type(node) in (cst.Import, cst.ImportFrom):
            pass  # the ImportMap knows the file's imports, inside functions too
        elif type(node) is cst.Assert:
            self.eval(node.test)

    def assign(self, target: cst.BaseExpression, value: Value) -> None:
        if type(target) is cst.Name:
            self.env[target.value] = value
        elif type(target) in (cst.Tuple, cst.List):
            elements = target.elements
            if (
                isinstance(value, Seq)
                and len(value.items) == len(elements)
                and not any(type(e) is cst.StarredElement for e in elements)
            ):
                for el, item in zip(elements, value.items):
                    self.assign(el.value, item)
            elif isinstance(value, ShapeOf) and len(value.shape.dims) == len(elements) and not any(
                type(e) is cst.StarredElement for e in elements
            ):
                for el, dim in zip(elements, value.shape.dims):
                    self.assign(el.value, Const(dim) if isinstance(dim, int) else DimValue(dim))
            else:
                for el in elements:
                    self._forget(assign_targets(el.value))
        # subscript/attribute targets (x[...] = v, self.a = v) bind no local name
