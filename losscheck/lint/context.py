"""Per-file facts that rules read. Everything heavy is computed lazily, at most once per file.

Pipeline position: discover -> parse -> **FileContext** (facts) -> rules -> findings.

- ``imports``: what each local name really is (``K`` -> ``keras.backend``), see ``imports.py``.
- ``functions``: the loss and metric functions found in the file, see ``finder.py``.
- ``position(node)``: the node's source range, as libcst's ``PositionProvider`` gives it, computed
  for the reported node's statement only (``positions.py``).
- ``scopes``: libcst ``ScopeProvider`` results, resolved only when a rule asks (it is the
  expensive one: ~1.3 kLOC/s).
- ``shapes(fn)``: inferred tensor shapes for one loss function, see ``losscheck.shapes``.
- ``fact(provider)``: any other fact, declared by its module as a provider (``facts.py``) and
  computed once per file, on demand: dataflow, helper summaries, model wiring, the Keras target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Mapping, TypeVar

import libcst as cst

from losscheck.lint.facts import FactProvider, compute
from losscheck.lint.finding import Finding, Fix

T = TypeVar("T")

if TYPE_CHECKING:
    from libcst.metadata import CodeRange, MetadataWrapper

    from losscheck.lint.imports import ImportMap
    from losscheck.lint.positions import Locator
    from losscheck.lint.rule import Rule
    from losscheck.shapes import ShapeFacts

FunctionKind = Literal["loss", "metric"]


@dataclass
class LossFunction:
    """One function (or lambda) that Keras will call as ``fn(y_true, y_pred)``."""

    node: cst.FunctionDef | cst.Lambda
    name: str  # for messages: "my_loss", "DiceLoss.call", "<lambda>"
    kind: FunctionKind
    y_true: str | None  # the parameter bound to y_true (None if the function has no such name)
    y_pred: str | None
    origin: str  # "signature" | "loss-subclass" | "compile" | "factory" | "lambda" | "loop" (a training step calls it, or its value goes to add_loss)
    class_node: cst.ClassDef | None = None
    # Output names this function is bound to (compile(loss={"seg": fn}), a
    # `# losscheck: output=seg` comment, or config); used by shape inference with --layout.
    outputs: tuple[str, ...] = ()
    # Parameters beyond y_true/y_pred that the caller binds (e.g. sample_weight): not tensors we know.
    extra_params: tuple[str, ...] = ()


@dataclass
class FileContext:
    """One file being linted: its text, its tree, the options, and the facts computed on it."""

    path: str
    source: str
    module: cst.Module
    # Options a rule may read: e.g. {"layout": Layout} when --layout is given.
    options: Mapping[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The guard's scan of ``source`` (``guard.scan``), when the engine made one before parsing.
    scan: Any = field(default=None, repr=False, compare=False)
    _facts: dict[FactProvider[Any], Any] = field(default_factory=dict, repr=False, compare=False)

    # -- facts ------------------------------------------------------------------------
    def release(self) -> None:
        """Drop every fact and cached view of the file. Facts refer back to the context (a
        locator, closures over it), so without this the file's tree and facts stay alive in
        reference cycles until the cycle collector runs; the engine calls it when the file is done.
        A fact with a ``dispose()`` method (the scope index) empties its own cycles then."""
        for value in self._facts.values():
            dispose = getattr(value, "dispose", None)
            if dispose is not None:
                dispose()
        self._facts.clear()
        for name in [k for k, v in type(self).__dict__.items() if isinstance(v, cached_property)]:
            self.__dict__.pop(name, None)

    def fact(self, provider: FactProvider[T]) -> T:
        """The value of a declared fact provider for this file, computed on first use."""
        return compute(self, self._facts, provider)

    @cached_property
    def wrapper(self) -> MetadataWrapper:
        # unsafe_skip_copy: rules hold references to nodes of self.module, so metadata
        # must be resolved on the very same tree (the default deep-copies it).
        from libcst.metadata import MetadataWrapper  # on use: libcst.metadata's own import (deferred_init.py)

        return MetadataWrapper(self.module, unsafe_skip_copy=True)

    @cached_property
    def _locator(self) -> "Locator":
        from losscheck.lint.positions import Locator

        return Locator(self)

    def position(self, node: cst.CSTNode) -> CodeRange:
        """``node``'s range as libcst's ``PositionProvider`` gives it, computed for the statement
        that holds it only (positions.py)."""
        return self._locator.position(node)

    @cached_property
    def scopes(self) -> Mapping[cst.CSTNode, Any]:
        from libcst.metadata import ScopeProvider

        return self.wrapper.resolve(ScopeProvider)

    @cached_property
    def imports(self) -> "ImportMap":
        from losscheck.lint.imports import ImportMap

        from losscheck.lint.imports import unbound_conventional_names

        # a piece of a chunked file decides from the whole file's text, which chunks.py reads
        uses = self.options.get("compile_uses")
        unbound = uses["conventional"] if uses else unbound_conventional_names(self.source)
        return ImportMap.from_module(self.module).assume_conventions(unbound)

    @cached_property
    def functions(self) -> list[LossFunction]:
        from losscheck.lint.finder import find_loss_functions

        found = find_loss_functions(self)
        uses = self.options.get("compile_uses")
        if uses:
            # a piece of a chunked file (chunks.py): compile() calls in other pieces count too,
            # with the whole-file finder's priority (used as a loss anywhere -> loss)
            for fn in found:
                base = fn.name.rsplit(".", 1)[-1]
                if fn.kind == "loss" and base in uses["metric"] and base not in uses["loss"]:
                    fn.kind = "metric"
                elif fn.kind == "metric" and base in uses["loss"]:
                    fn.kind = "loss"
            # called directly in another piece: the whole-file finder may drop a function found
            # by its signature alone there (only non-loss code calls it); the piece cannot tell,
            # so it drops it too (hiding findings, never adding one)
            called = self.options.get("called_elsewhere", frozenset())
            found = [fn for fn in found if not (fn.origin == "signature" and fn.class_node is None
                                                and fn.name in called)]
        return found

    def losses(self) -> list[LossFunction]:
        return [f for f in self.functions if f.kind == "loss"]

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def shapes(self, fn: LossFunction) -> "ShapeFacts":
        """Inferred shapes for ``fn`` (memoised per file and function), see ``losscheck.shapes``."""
        from losscheck.shapes import infer

        return infer(self, fn)

    # -- reporting --------------------------------------------------------------------
    def report(
        self,
        rule: "Rule | type[Rule]",
        node: cst.CSTNode,
        message: str,
        *,
        fix: Fix | None = None,
        range: CodeRange | None = None,
    ) -> Finding:
        where = range or self.position(node)
        finding = Finding(
            path=self.path,
            line=where.start.line,
            column=where.start.column + 1,
            end_line=where.end.line,
            end_column=where.end.column + 1,
            code=rule.code,
            rule=rule.name,
            severity=rule.severity,
            message=message,
            fix=fix,
        )
        self.findings.append(finding)
        return finding

    def replace_fix(self, node: cst.CSTNode, new_code: str, *, safe: bool, description: str) -> Fix:
        """A fix that replaces ``node``'s text with ``new_code``."""
        from losscheck.lint.finding import Edit

        where = self.position(node)
        edit = Edit(where.start.line, where.start.column, where.end.line, where.end.column, new_code)
        return Fix(edits=(edit,), safe=safe, description=description)
