"""Source positions of the nodes a rule reports, computed for those nodes' statements only.

libcst's ``PositionProvider`` generates the code of the whole module and records a range for
every node: most of the time and memory of a run on a large file, when a few dozen nodes are
reported. The same ranges come from generating the code of one statement, started at the line
where that statement begins and with the indentation of the blocks around it. Where a statement
begins is read from the file's logical lines (``guard.scan`` lists them with their indentation
depth): the statements of a block start on consecutive logical lines of the block's depth, a
compound statement taking one logical line per clause (decorators, ``elif``, ``except``...).

So a position is found by descending from the module to the innermost statement that holds the
node (the pre-order index of every node, from the finder's walk, says which), generating that
statement's code, and checking the generated text against the source at that place. Whatever
does not check out (a node outside any statement, a layout this does not know) falls back to
the enclosing statement, and finally to one pass over the whole module: never a wrong position.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import libcst as cst
# from the submodule, not the package: libcst.metadata's __init__ may not have run (deferred_init.py)
from libcst.metadata.position_provider import CodePosition, CodeRange, PositionProvidingCodegenState

from losscheck.lint import guard

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext


class _Ranges:
    """What ``PositionProvidingCodegenState`` expects of a provider: a dict to fill."""

    def __init__(self) -> None:
        self._computed: dict[cst.CSTNode, CodeRange] = {}


class _Reached(Exception):
    """The node asked for has its range: the rest of the statement need not be generated."""


class _UntilState(PositionProvidingCodegenState):
    stop_at: cst.CSTNode | None = None

    def after_codegen(self, node: cst.CSTNode) -> None:
        super().after_codegen(node)
        if node is self.stop_at:
            raise _Reached

    @contextmanager
    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> Iterator[None]:
        # libcst's, without its `finally`: a node left by _Reached is not complete, it gets no range
        start = CodePosition(self.line, self.column)
        yield
        end = CodePosition(self.line, self.column)
        computed = self.provider._computed
        start = computed[start_node].start if start_node is not None else start
        end = computed[end_node].end if end_node is not None else end
        computed[node] = CodeRange(start, end)


def _generate(
    node: cst.CSTNode, module: cst.Module, line: int, indents: list[str], stop_at: cst.CSTNode | None = None
) -> tuple[str, dict, bool]:
    """The code of ``node`` generated from ``line`` with ``indents`` around it, the ranges of the
    nodes in it, and whether generation stopped early at ``stop_at``."""
    ranges = _Ranges()
    state = _UntilState(
        default_indent=module.default_indent, default_newline=module.default_newline, provider=ranges
    )
    state.line = line
    state.indent_tokens = list(indents)
    state.stop_at = stop_at
    stopped = False
    try:
        node._codegen(state)
    except _Reached:
        stopped = True
    return "".join(state.tokens), ranges._computed, stopped


def _clauses(stmt: cst.CSTNode) -> list[cst.CSTNode | None] | None:
    """One entry per logical line the statement starts at its own depth: the suite that follows
    that line (a block to descend into) or None. None for a node this does not know."""
    kind = type(stmt)
    if kind is cst.SimpleStatementLine:
        return [None]
    if kind is cst.FunctionDef or kind is cst.ClassDef:
        return [None] * len(stmt.decorators) + [stmt.body]
    if kind is cst.If:
        out: list[cst.CSTNode | None] = []
        node: cst.CSTNode = stmt
        while True:
            out.append(node.body)
            orelse = node.orelse
            if orelse is None:
                return out
            if type(orelse) is cst.If:
                node = orelse
                continue
            out.append(orelse.body)
            return out
    if kind is cst.For or kind is cst.While:
        return [stmt.body] + ([stmt.orelse.body] if stmt.orelse is not None else [])
    if kind is cst.Try or kind is cst.TryStar:
        return (
            [stmt.body]
            + [handler.body for handler in stmt.handlers]
            + ([stmt.orelse.body] if stmt.orelse is not None else [])
            + ([stmt.finalbody.body] if stmt.finalbody is not None else [])
        )
    if kind is cst.With or kind is cst.MatchCase:
        return [stmt.body]
    if kind is cst.Match:
        return [stmt]  # its cases form the block
    return None


def _block(suite: cst.CSTNode | None, module: cst.Module) -> tuple[list[cst.CSTNode], str] | None:
    """The statements of a suite that has lines of its own, with the indentation it adds."""
    if type(suite) is cst.IndentedBlock:
        return list(suite.body), suite.indent if suite.indent is not None else module.default_indent
    if type(suite) is cst.Match:
        return list(suite.cases), suite.indent if suite.indent is not None else module.default_indent
    return None


class Locator:
    def __init__(self, ctx: FileContext) -> None:
        self.module = ctx.module
        self.source = ctx.source
        from losscheck.lint.syntax_index import tree_order

        self.order = tree_order(ctx)
        self.scan = ctx.scan if ctx.scan is not None else guard.scan(ctx.source)
        self.known: dict[cst.CSTNode, CodeRange] = {}
        self.done: set[int] = set()  # statements whose code was generated in full
        self.tried: set[int] = set()  # statements generated up to a node
        self._starts: list[int] | None = None
        self._next: list[int] | None = None
        self._blocks: dict[int, tuple[list[int], list[int]]] = {}
        self._whole = False

    def position(self, node: cst.CSTNode) -> CodeRange:
        found = self.known.get(node)
        if found is not None:
            return found
        for stmt, line, indents in reversed(self._path(node)):
            key = id(stmt)
            if key in self.done:
                continue
            # first time: generate up to the node only (a 10,000-term sum need not be generated
            # for its first term); again: the whole statement, once
            stop_at = node if key not in self.tried else None
            self.tried.add(key)
            if self._statement(stmt, line, indents, stop_at) and node in self.known:
                return self.known[node]
            if stop_at is not None and key not in self.done and self._statement(stmt, line, indents, None):
                if node in self.known:
                    return self.known[node]
        self._module()
        return self.known[node]

    # -- the whole module, as PositionProvider does -------------------------------------------
    def _module(self) -> None:
        if not self._whole:
            self.known.update(_generate(self.module, self.module, 1, [])[1])
            self._whole = True

    # -- one statement --------------------------------------------------------------------------
    def _statement(self, stmt: cst.CSTNode, line: int, indents: list[str], stop_at: cst.CSTNode | None) -> bool:
        """Generate ``stmt`` (up to ``stop_at``) and keep its ranges if the text is the file's."""
        text, ranges, stopped = _generate(stmt, self.module, line, indents, stop_at)
        if not stopped:
            self.done.add(id(stmt))
        starts = self._line_starts()
        if not 1 <= line <= len(starts):
            return False
        begin = starts[line - 1]
        if self.source[begin : begin + len(text)] != text:
            # the file's last statement without its final line break: the module drops it
            stripped = text[:-2] if text.endswith("\r\n") else text[:-1]
            if not (text.endswith(("\n", "\r")) and self.source[begin:] == stripped):
                self.done.add(id(stmt))  # a layout this does not know: not again
                return False
        self.known.update(ranges)
        return True

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = guard.line_starts(self.source)
        return self._starts

    # -- which statements hold the node, and where they begin -------------------------------------
    def _path(self, node: cst.CSTNode) -> list[tuple[cst.CSTNode, int, list[str]]]:
        """The statements that hold ``node``, outermost first, with the line where each one's code
        begins and the indentation around it; [] when that cannot be worked out."""
        index = self.order.get(node)
        scan = self.scan
        if index is None or scan.refusal is not None or not scan.line_offsets:
            return []
        path: list[tuple[cst.CSTNode, int, list[str]]] = []
        statements, first, depth, indents = list(self.module.body), 0, 0, []
        while statements:
            at = self._locate(statements, first, index)
            if at is None:
                break
            i, logical = at
            stmt = statements[i]
            if scan.line_depths[logical] != depth:
                break
            line = guard.line_column(self._line_starts(), scan.line_offsets[logical])[0]
            line -= len(getattr(stmt, "leading_lines", ()))
            path.append((stmt, line, indents))
            clauses = _clauses(stmt)
            if clauses is None:
                break
            inner = self._inner(clauses, index, logical)
            if inner is None:
                break
            statements, first, indent = inner
            depth += 1
            indents = [*indents, indent]
        return path

    def _locate(self, statements: list[cst.CSTNode], first: int, index: int) -> tuple[int, int] | None:
        """Which of ``statements`` may hold the node with pre-order ``index``, and its first
        logical line."""
        key = id(statements[0])
        memo = self._blocks.get(key)
        if memo is None:
            orders = [self.order.get(s, -1) for s in statements]
            logical: list[int] = []
            k = first
            for stmt in statements:
                logical.append(k)
                clauses = _clauses(stmt)
                for _ in range(len(clauses) if clauses is not None else 1):
                    k = self._next_line(k)
            memo = self._blocks[key] = (orders, logical)
        orders, logical = memo
        i = bisect_right(orders, index) - 1
        if i < 0 or orders[i] < 0 or logical[i] >= len(self.scan.line_offsets):
            return None
        return i, logical[i]

    def _inner(self, clauses: list, index: int, logical: int) -> tuple[list[cst.CSTNode], int, str] | None:
        """The block of a clause whose statements may hold the node, with its first logical line."""
        blocks = [_block(suite, self.module) for suite in clauses]
        firsts = [self.order.get(b[0][0], -1) if b is not None and b[0] else -1 for b in blocks]
        header = logical
        for j, block in enumerate(blocks):
            if block is not None and 0 <= firsts[j] <= index:
                later = [f for f in firsts[j + 1 :] if f >= 0]
                if not later or index < later[0]:  # not in a later clause's block
                    return block[0], header + 1, block[1]
            header = self._next_line(header)
        return None

    def _next_line(self, k: int) -> int:
        """The next logical line at the same or a lower depth than line ``k``."""
        if self._next is None:
            depths = self.scan.line_depths
            nxt = [len(depths)] * len(depths)
            stack: list[int] = []
            for j, d in enumerate(depths):
                while stack and depths[stack[-1]] >= d:
                    nxt[stack.pop()] = j
                stack.append(j)
            self._next = nxt
        return self._next[k] if k < len(self._next) else k + 1
