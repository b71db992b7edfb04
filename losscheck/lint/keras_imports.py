"""The imports a Keras 2 -> 3 backend fix needs, and the backend imports it leaves unused.

A fix writes ``keras.ops.NAME`` through whatever the file already has: an alias of ``keras.ops``
(``from keras import ops as O`` -> ``O.mean``), else the module ``keras`` (``import keras`` ->
``keras.ops.mean``), else it adds ``from keras import ops`` (``ops.mean``). Replacements outside
``keras.ops`` (``keras.config.floatx()``, ``keras.random.normal``) need the name ``keras``: the fix
adds ``import keras`` when the file lacks it. Only module-level imports count, so the name is
bound wherever the rewritten call is; a name the file already uses for something else (a
variable called ``ops``) is never taken.

The insertion is one text edit, the same in every fix of the file (after the module-level
import that binds the backend, else after the leading imports), so the fixes of one pass share
it (``fix.apply_fixes`` applies identical edits once).

:func:`drop_unused_backend_imports` runs after the fixes: an import of Keras 2's backend (or of
names from it) whose name the fixes left unused is removed; one still used (``K.epsilon()``), one
that was unused before, or one with a comment on it stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.finding import Edit
from losscheck.lint.imports import import_bindings

BACKEND_MODULES = ("keras.backend", "tensorflow.keras.backend")
_KERAS_NAME = re.compile(r"(?<![\w.])keras\.")


@dataclass(frozen=True)
class Spelling:
    """How the file's fixes write Keras 3 names, and the imports they add."""

    ops: str | None  # prefix for keras.ops: "ops.", "O.", "keras.ops."; None: no free name
    keras_bound: bool  # `keras` names the keras module at module level
    keras_free: bool  # `keras` is not used for anything, so `import keras` may bind it
    ops_import: Edit | None  # adds `from keras import ops` (None: not needed)
    keras_import: Edit | None  # adds `import keras` (None: bound already, or not possible)

    def write(self, text: str) -> tuple[str, tuple[Edit, ...]] | None:
        """``text`` (written with ``keras.ops.`` and ``keras.``) in this file's names, with the
        import edits it needs; None when a name it needs cannot be bound."""
        if self.ops is None:
            return None
        text = text.replace("keras.ops.", self.ops)
        edits: list[Edit] = []
        if self.ops_import is not None and self.ops in text:
            edits.append(self.ops_import)
        if _KERAS_NAME.search(text) and not self.keras_bound:
            if self.keras_import is None:
                return None
            edits.insert(0, self.keras_import)
        if len(edits) == 2:
            # both imports go to one place: one edit (two insertions at a point would conflict)
            first, second = edits
            edits = [replace(first, content=first.content + second.content)]
        return text, tuple(edits)


def _module_level_bindings(module: cst.Module) -> tuple[dict[str, str], list[tuple[cst.SimpleStatementLine, set[str]]]]:
    """Module-level import bindings (name -> qualified name) and each import line's names."""
    names: dict[str, str] = {}
    lines: list[tuple[cst.SimpleStatementLine, set[str]]] = []
    for statement in module.body:
        if type(statement) is not cst.SimpleStatementLine:
            continue
        bound: set[str] = set()
        for small in statement.body:
            for local, target in _bindings(small):
                names[local] = target if local not in names or names[local] == target else ""
                bound.add(local)
        if bound:
            lines.append((statement, bound))
    return names, lines


def _bindings(small: cst.BaseSmallStatement) -> list[tuple[str, str]]:
    """What an import statement binds (the import map's reading); nothing for other statements."""
    return import_bindings(small) if type(small) in (cst.Import, cst.ImportFrom) else []  # type: ignore[arg-type]


@fact()
def used_names(ctx: FileContext) -> frozenset[str]:
    """Every name the file reads or binds outside import statements (attribute names excluded)."""
    return frozenset(_names_in(ctx.module))


def _names_in(module: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class Visitor(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)  # a keyword's name is no use of a variable
            return False

        def visit_Name(self, node: cst.Name) -> None:
            found.add(node.value)

    module.visit(Visitor())
    return found


@fact()
def spelling(ctx: FileContext) -> Spelling:
    names, lines = _module_level_bindings(ctx.module)
    used = used_names(ctx)
    anchor = _anchor(ctx, lines, names)
    keras_bound = names.get("keras") == "keras"
    keras_free = "keras" not in names and "keras" not in used
    keras_import = None if keras_bound or not keras_free else _insert(ctx, anchor, "import keras")
    aliases = sorted(n for n, target in names.items() if target == "keras.ops")
    if aliases:
        return Spelling(f"{aliases[0]}.", keras_bound, keras_free, None, keras_import)
    if keras_bound:
        return Spelling("keras.ops.", True, False, None, None)
    if "ops" not in names and "ops" not in used:
        return Spelling("ops.", False, keras_free, _insert(ctx, anchor, "from keras import ops"), keras_import)
    if keras_import is not None:  # `ops` is taken: write keras.ops through `import keras`
        return Spelling("keras.ops.", False, True, None, keras_import)
    return Spelling(None, False, False, None, None)


def _anchor(ctx: FileContext, lines: list[tuple[cst.SimpleStatementLine, set[str]]], names: dict[str, str]) -> int:
    """The line after which imports go: the module-level backend import, else the leading imports."""
    for statement, bound in lines:
        if any(names.get(n, "").startswith(BACKEND_MODULES) for n in bound):
            return ctx.position(statement).end.line
    last = 0
    for index, statement in enumerate(ctx.module.body):
        is_import = any(statement is s for s, _ in lines)
        is_docstring = index == 0 and type(statement) is cst.SimpleStatementLine and \
            type(statement.body[0]) is cst.Expr and isinstance(statement.body[0].value, cst.SimpleString)
        if not (is_import or is_docstring):
            break
        last = ctx.position(statement).end.line
    return last


def _insert(ctx: FileContext, after_line: int, statement: str) -> Edit:
    lines = ctx.source.splitlines(keepends=True)
    if after_line >= len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        end = len(lines[-1])  # the file ends on the anchor line without a newline
        return Edit(len(lines), end, len(lines), end, "\n" + statement)
    return Edit(after_line + 1, 0, after_line + 1, 0, statement + "\n")


# -- after the fixes: imports the fixes left unused -------------------------------------------------

def _backend_names(small: cst.BaseSmallStatement, modules: tuple[str, ...]) -> list[str]:
    """Local names this import binds to ``modules`` (Keras 2's backend) or to names from them."""
    return [local for local, target in _bindings(small) if local != "keras" and _within(target, modules)]


def _within(target: str, modules: tuple[str, ...]) -> bool:
    return any(target == m or target.startswith(m + ".") for m in modules)


def drop_unused_backend_imports(before: str, after: str, modules: tuple[str, ...] = BACKEND_MODULES) -> str:
    """``after`` without the imports of ``modules`` (or of names in them) that ``before`` used and
    ``after`` no longer uses."""
    try:
        old, new = cst.parse_module(before), cst.parse_module(after)
    except cst.ParserSyntaxError:
        return after
    used_before, used_after = _names_in(old), _names_in(new)
    dropped = {n for n in used_before - used_after if _binds_backend(new, n, modules)}
    if not dropped:
        return after
    return new.visit(_DropImports(dropped, modules)).code


def _binds_backend(module: cst.Module, name: str, modules: tuple[str, ...]) -> bool:
    found = False

    class Visitor(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            nonlocal found
            for small in node.body:
                if type(small) in (cst.Import, cst.ImportFrom) and name in _backend_names(small, modules):
                    found = True

    module.visit(Visitor())
    return found


class _DropImports(cst.CSTTransformer):
    def __init__(self, names: set[str], modules: tuple[str, ...]) -> None:
        self.names = names
        self.modules = modules

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        if updated.trailing_whitespace.comment is not None or any(
            line.comment is not None for line in updated.leading_lines[-1:]
        ):
            return updated  # a comment on the import says something about it: keep both
        body: list[cst.BaseSmallStatement] = []
        for small in updated.body:
            kept = self._small(small)
            if kept is not None:
                body.append(kept)
        if not body:
            return cst.RemoveFromParent()
        if len(body) != len(updated.body):
            body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(body=body)

    def _small(self, small: cst.BaseSmallStatement) -> cst.BaseSmallStatement | None:
        if type(small) not in (cst.Import, cst.ImportFrom) or type(small.names) is cst.ImportStar:  # type: ignore[attr-defined]
            return small
        names = [alias for alias, (local, target) in zip(small.names, import_bindings(small))  # type: ignore[attr-defined,arg-type]
                 if not (local in self.names and local != "keras" and _within(target, self.modules))]
        if len(names) == len(small.names):  # type: ignore[arg-type]
            return small
        if not names:
            return None
        if names[-1].comma is not cst.MaybeSentinel.DEFAULT and not (
            type(small) is cst.ImportFrom and small.rpar is not None
        ):
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return small.with_changes(names=names)
