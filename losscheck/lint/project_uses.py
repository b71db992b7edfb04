"""How the rest of the project uses a loss defined in this file.

A loss module is often only definitions: whether Keras calls a loss (``compile(loss=...)``) or a
custom training loop does (``with tf.GradientTape(): loss = my_loss(y, model(x))``) is written in
another module. For batch-mean-reduction the difference is everything: ``tape.gradient`` wants one
value for the batch, Keras wants one per example.

Each other module or notebook of the project (``project.py``) that names both this module and
the loss is parsed with Python's ``ast`` (nothing is imported or run; a notebook's code cells
are joined as the linter joins them). Every reference to the loss through an
import of this module (``from training.losses import dice``, ``from training import losses`` and
``losses.dice``, ``import training.losses as L``) is sorted:

- ``compiled``: inside a ``compile(...)`` call, or as a ``loss=``/``metrics=`` argument;
- ``loop``: in a function (the outermost one around the reference: the training function, not
  the ``train_step`` closure) that runs a ``GradientTape``, ``tape.gradient``, ``minimize`` or
  ``apply_gradients``, and calls no ``compile``;
- ``called``: called directly by the project's own code outside a training step (an evaluation
  step's ``loss += loss_fn(y, pred)``), in a function that calls no ``compile``;
- ``other``: anything else (module level, passed on, stored). A ``custom_objects=`` entry
  (``load_model(path, custom_objects={"dice": dice})``) only registers the name for
  deserialisation: it is ``registered``, which counts as ``other`` everywhere but for
  :attr:`ExternalUses.eager_metric_only`.

A metric is *compiled only eagerly* when every use passes it in ``metrics=`` to a ``compile``
that also says ``run_eagerly=True``: Keras then calls it on eager tensors, so NumPy and
``.numpy()`` work (a metric needs no gradient) and numpy-in-loss does not apply.

A loss is *used only in custom training loops* when it has loop uses and nothing else but
direct calls of the project's own code. Then
batch-mean-reduction does not apply (the loop wants a batch scalar), nor do the output-indexing
checks (``y_pred[0]`` may be the first of a list of outputs the loop passes): both rest on
Keras calling the loss once per output with that output's tensors. A loss passed to
``compile`` in its own file is never one. Only module-level functions and classes are looked up (a factory's inner function is
reached through the factory, whose uses say nothing about the inner one's caller).

The results cache keys the files whose findings may depend on this on the project's
:func:`project.signature` (names, sizes and times of its ``.py`` files): ``project.cache_salt``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from losscheck.lint import project
from losscheck.lint.api.value_ops import TRAINING_STEP_CALLS

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction
    from losscheck.lint.notebook import Notebook

_COMPILE_KEYWORDS = frozenset({"loss", "metrics", "weighted_metrics"})
_ROLES = {"loss": "loss", "metrics": "metric", "weighted_metrics": "metric"}


@dataclass(frozen=True)
class ExternalUses:
    """Where other modules use one loss, as ``path:line`` (relative to the project root)."""

    compiled: tuple[str, ...] = ()
    loop: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    compile_calls: tuple[tuple[str, int], ...] = ()  # (absolute path, line) of each `x.compile(...)` naming it
    as_loss: tuple[str, ...] = ()  # the compiled uses in a `loss=` argument (or compile's second)
    eager_metrics: tuple[str, ...] = ()  # the compiled uses in `metrics=` of a `compile(..., run_eagerly=True)`
    registered: tuple[str, ...] = ()  # `custom_objects=` entries
    called: tuple[str, ...] = ()  # direct calls outside training steps (an evaluation loop)

    @property
    def loop_only(self) -> bool:
        """Training loops use it, and nothing hands it to Keras: the project's own code calls it."""
        return bool(self.loop) and not self.compiled and not self.other and not self.registered

    def module_places(self, uses: Iterable[str] | None = None) -> list[tuple[str, int, str]]:
        """(relative path, line, the use) of each use in a module, not a notebook: where a caller
        can be read again with libcst. ``uses``: these (``self.loop``...), by default all."""
        places = []
        everything = (*self.compiled, *self.loop, *self.called, *self.other)
        for use in everything if uses is None else uses:
            path, _, line = use.rpartition(":")
            if path.endswith(".py") and line.isdigit():
                places.append((path, int(line), use))
        return places

    @property
    def eager_metric_only(self) -> bool:
        return (bool(self.compiled) and len(self.eager_metrics) == len(self.compiled)
                and not self.loop and not self.other and not self.called)


def defined_name(fn: LossFunction) -> str | None:
    """The module-level name other modules import ``fn`` by: its class, or its own name."""
    import libcst as cst

    if fn.class_node is not None:
        return fn.class_node.name.value
    if fn.origin == "signature" and type(fn.node) is cst.FunctionDef:
        return fn.node.name.value
    return None


def external_uses(ctx: FileContext, fn: LossFunction) -> ExternalUses | None:
    """How other modules of the project use ``fn`` (a module-level function or class), else None."""
    name = defined_name(fn)
    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if name is None or root is None or not _top_level(ctx, name):
        return None
    return uses_of(os.path.abspath(ctx.path), root).get(name)


def used_only_in_loops(ctx: FileContext, fn: LossFunction) -> ExternalUses | None:
    """The other modules' uses of ``fn`` when they are all in custom training loops, else None."""
    if fn.origin not in ("signature", "loss-subclass"):
        return None  # passed to compile() in this file, or reached through a factory
    found = external_uses(ctx, fn)
    return found if found is not None and found.loop_only else None


def compiled_as_loss(ctx: FileContext, fn: LossFunction) -> ExternalUses | None:
    """The other modules' uses of ``fn`` when one passes it to ``compile`` as the loss (a
    function named like a metric, ``iou``, is a loss there), else None."""
    found = external_uses(ctx, fn)
    return found if found is not None and found.as_loss else None


@dataclass
class Withdrawal:
    """What a ``with unless_...(ctx, fn) as outcome:`` block ended in."""

    withdrawn: bool = False  # findings were made in the block, and taken back


@contextmanager
def _withdrawn_when(ctx: FileContext, withdraw: Callable[[], bool]) -> Iterator[Withdrawal]:
    """Withdraw the findings made in the block when ``withdraw()`` says so; it is asked only if
    there are some, so other modules are read only for a function that has a finding."""
    start = len(ctx.findings)
    outcome = Withdrawal()
    yield outcome
    if len(ctx.findings) > start and withdraw():
        del ctx.findings[start:]
        outcome.withdrawn = True


def compiled_only_eagerly(ctx: FileContext, fn: LossFunction) -> ExternalUses | None:
    """The other modules' uses of ``fn`` when each is a metric of a ``run_eagerly=True`` compile."""
    if fn.origin != "signature":
        return None  # compiled in this file, or reached through a factory
    found = external_uses(ctx, fn)
    return found if found is not None and found.eager_metric_only else None


def unless_compiled_only_eagerly(ctx: FileContext, fn: LossFunction) -> AbstractContextManager[Withdrawal]:
    """Withdraw the findings made in the block if every use of ``fn`` is a metric of a
    ``run_eagerly=True`` compile."""
    return _withdrawn_when(ctx, lambda: compiled_only_eagerly(ctx, fn) is not None)


def unless_used_only_in_loops(ctx: FileContext, fn: LossFunction) -> AbstractContextManager[Withdrawal]:
    """Withdraw the findings made in the block if ``fn`` turns out to be used only in custom
    training loops."""
    return _withdrawn_when(ctx, lambda: used_only_in_loops(ctx, fn) is not None)


def unless_compiled_as_loss(ctx: FileContext, fn: LossFunction) -> AbstractContextManager[Withdrawal]:
    """Withdraw the findings made in the block unless another module compiles ``fn`` as a loss."""
    return _withdrawn_when(ctx, lambda: compiled_as_loss(ctx, fn) is None)


def _top_level(ctx: FileContext, name: str) -> bool:
    import libcst as cst

    return any(
        type(stmt) in (cst.FunctionDef, cst.ClassDef) and stmt.name.value == name for stmt in ctx.module.body
    )


@lru_cache(maxsize=256)
def uses_of(path: str, root: str) -> dict[str, ExternalUses]:
    """Every module-level name of the module at ``path`` that other modules of the project use,
    with where and how."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == "__init__":
        stem = os.path.basename(os.path.dirname(path))
    found: dict[str, dict[str, list[str]]] = {}
    compiles: dict[str, list[tuple[str, int]]] = {}
    for other in project.importers(root).get(stem, ()):
        if other == path:
            continue
        data = project.read(other)
        notebook = None
        if data is not None and other.endswith(".ipynb"):
            notebook = project.notebook(other, data)
            data = notebook.source.encode("utf-8") if notebook is not None else None
        if data is None:
            continue
        try:
            tree = ast.parse(data, other)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        where = os.path.relpath(other, root)
        for name, kind, line, compile_line, role, eager in _references(tree, stem):
            place = f"{where}:{line}" if notebook is None else _cell_place(where, notebook, line)
            found.setdefault(name, {}).setdefault(kind, []).append(place)
            if kind == "compiled" and role == "loss":
                found[name].setdefault("as-loss", []).append(place)
            if kind == "compiled" and role == "metric" and eager:
                found[name].setdefault("eager-metric", []).append(place)
            if compile_line and notebook is None:  # read again with libcst, by line: a module only
                compiles.setdefault(name, []).append((other, compile_line))
    return {
        name: ExternalUses(
            compiled=tuple(kinds.get("compiled", ())), loop=tuple(kinds.get("loop", ())),
            other=tuple(kinds.get("other", ())), compile_calls=tuple(compiles.get(name, ())),
            as_loss=tuple(kinds.get("as-loss", ())), eager_metrics=tuple(kinds.get("eager-metric", ())),
            registered=tuple(kinds.get("registered", ())), called=tuple(kinds.get("called", ())),
        )
        for name, kinds in found.items()
    }


def _cell_place(where: str, notebook: Notebook, line: int) -> str:
    """``train.ipynb:cell 7:3``, as ruff names a place in a notebook."""
    index = notebook.locate(line)
    if index is None:
        return f"{where}:{line}"
    return f"{where}:cell {notebook.cells[index].number}:{line - notebook.starts[index] + 1}"


def _references(tree: ast.Module, stem: str) -> list[tuple[str, str, int, int, str | None, bool]]:
    """(name, kind, line, line of the ``x.compile(...)`` call around it or 0, "loss"/"metric"/None:
    the argument it is in, whether that compile says ``run_eagerly=True``) of every reference,
    through an import of module ``stem``, to one of its names."""
    aliases: dict[str, str] = {}  # local name -> the module's name
    modules: set[str] = set()  # local dotted names of the module itself
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[-1] == stem:
                aliases.update({a.asname or a.name: a.name for a in node.names if a.name != "*"})
            else:
                modules.update(a.asname or a.name for a in node.names if a.name == stem)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[-1] == stem:
                    modules.add(a.asname or a.name)
    if not aliases and not modules:
        return []
    visitor = _Uses(aliases, modules)
    visitor.visit(tree)
    return visitor.found


class _Uses(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str], modules: set[str]) -> None:
        self.aliases = aliases
        self.modules = modules
        self.outer: ast.AST | None = None  # the outermost function around the node
        self.in_compile = 0
        self.compile_lines: list[int] = []  # the `x.compile(...)` calls around the node
        self.eager: list[bool] = []  # whether each of those says `run_eagerly=True`
        self.registering = 0  # inside a `custom_objects=` argument
        self.called: set[int] = set()  # the callees of the calls seen: `loss_fn(...)` calls the loss itself
        self.roles: list[str | None] = []  # "loss" / "metric": the argument the node is in
        self.found: list[tuple[str, str, int, int, str | None, bool]] = []
        self._kinds: dict[int, tuple[bool, bool]] = {}

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if self.outer is not None:
            self.generic_visit(node)
            return
        self.outer = node
        self.generic_visit(node)
        self.outer = None

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name == "compile":  # compile(optimizer, loss, metrics, ...)
            method = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            self.in_compile += 1
            self.compile_lines.append(node.lineno if method else 0)
            self.eager.append(any(
                k.arg == "run_eagerly" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            ))
            self.visit(func)
            for position, arg in enumerate(node.args):
                self._visit_as({1: "loss", 2: "metric"}.get(position), arg)
            for keyword in node.keywords:
                self._visit_as(_ROLES.get(keyword.arg or ""), keyword.value)
            self.compile_lines.pop()
            self.eager.pop()
            self.in_compile -= 1
            return
        if len(node.args) >= 2:  # `loss_fn(y, pred)`: the loss called; `HeadsLoss()` makes an object
            self.called.add(id(func))
        self.visit(func)
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            if keyword.arg == "custom_objects":
                self.registering += 1
                self.visit(keyword.value)
                self.registering -= 1
                continue
            inside = keyword.arg in _COMPILE_KEYWORDS
            self.in_compile += inside
            self._visit_as(_ROLES.get(keyword.arg or ""), keyword.value)
            self.in_compile -= inside

    def _visit_as(self, role: str | None, node: ast.AST) -> None:
        self.roles.append(role)
        self.visit(node)
        self.roles.pop()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in self.aliases:
            self._add(self.aliases[node.id], node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _dotted(node.value) in self.modules:
            self._add(node.attr, node)
            return
        self.generic_visit(node)

    def _add(self, name: str, node: ast.expr) -> None:
        if self.in_compile:
            kind = "compiled"
        elif self.registering:
            kind = "registered"
        else:
            tape, compiles = self._outer_kind()
            if tape and not compiles:
                kind = "loop"
            elif id(node) in self.called and self.outer is not None and not compiles:
                kind = "called"  # called by the project's own code (an evaluation step), not handed to Keras
            else:
                kind = "other"
        role = next((r for r in reversed(self.roles) if r is not None), None)
        eager = bool(self.eager) and self.eager[-1]
        self.found.append((name, kind, node.lineno, self.compile_lines[-1] if self.compile_lines else 0, role, eager))

    def _outer_kind(self) -> tuple[bool, bool]:
        """(runs a tape, calls compile) for the outermost function around the node."""
        if self.outer is None:
            return False, False
        key = id(self.outer)
        if key not in self._kinds:
            tape = compiles = False
            for sub in ast.walk(self.outer):
                if isinstance(sub, ast.Attribute):
                    tape = tape or sub.attr == "GradientTape"
                elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                    tape = tape or sub.func.attr in TRAINING_STEP_CALLS
                    compiles = compiles or sub.func.attr == "compile"
                elif isinstance(sub, ast.Name) and sub.id == "GradientTape":
                    tape = True
            self._kinds[key] = (tape, compiles)
        return self._kinds[key]


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def clear() -> None:
    """Forget what was read: once per run, so that a long-lived process sees edited files."""
    uses_of.cache_clear()
    project.clear()
