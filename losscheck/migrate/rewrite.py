"""Keras 2 -> 3 rewrites of imports, names and arguments (the backend calls are LCK302's fixes).

One libcst pass over the module (formatting and comments are kept: only the rewritten nodes
change). What it rewrites, from ``tables.py``:

- moved modules: ``from keras.utils.np_utils import to_categorical`` -> ``from keras.utils import
  to_categorical``, ``from keras.utils import np_utils`` -> ``from keras import utils as np_utils``,
  ``keras.utils.np_utils.to_categorical`` -> ``keras.utils.to_categorical``, ``keras.objectives`` ->
  ``keras.losses``, ``keras.layers.core``/``merge``/... -> ``keras.layers``;
- ``keras.engine``: ``Layer``/``InputSpec``/``InputLayer`` -> ``keras.layers``, ``Model``/``Sequential``/
  ``Input`` -> ``keras``;
- loss aliases Keras 3 dropped: ``keras.losses.mse`` -> ``keras.losses.mean_squared_error``
  (``from keras.losses import mse`` -> ``... import mean_squared_error as mse``);
- the reduction enums: ``keras.losses.Reduction.SUM`` -> ``"sum"``;
- positional arguments whose order changed: ``sparse_categorical_crossentropy(t, p, False, -1)``
  -> ``..., axis=-1)``, ``super().__init__(reduction, name)`` in a ``Loss`` subclass -> keywords.

Whatever it cannot rewrite (a name Keras 3 lacks, a module used through an alias it cannot
follow) is reported as a :class:`Note` with the reason, and left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from losscheck.lint.imports import ImportMap, dotted_name
from losscheck.migrate.tables import (
    ALIAS_MODULES,
    ENGINE_MODULES,
    ENGINE_NAMES,
    KERAS3_LAYERS,
    KERAS3_UTILS,
    LOSS_ALIASES,
    LOSS_BASES,
    MODULE_MOVES,
    REDUCTION_ENUMS,
    REDUCTIONS,
    REORDERED,
)


@dataclass(frozen=True)
class Note:
    line: int
    text: str
    # The text ``line`` counts in: the source as written, the source after these rewrites (what
    # the backend fixes see), or the migrated code. A notebook maps each to its cell through it.
    counted_in: Literal["source", "rewritten", "code"] = "source"

    @property
    def where(self) -> str:
        """How the summary names the place: the line."""
        return str(self.line)


@dataclass
class Rewritten:
    code: str
    changed: list[Note] = field(default_factory=list)
    not_changed: list[Note] = field(default_factory=list)


def _known(module: str, name: str) -> bool:
    """Does Keras 3's ``module`` have ``name``? (Only the modules migrate moves names to.)"""
    if module == "keras.layers":
        return name in KERAS3_LAYERS
    if module == "keras.utils":
        return name in KERAS3_UTILS
    if module == "keras.losses":
        return True  # keras.objectives was keras.losses under another name
    return module == "keras" and name in ("Model", "Sequential", "Input")


def _target_of(module: str, name: str) -> str | None:
    """Where Keras 3 has ``module.name`` (Keras 2), or None."""
    if module in ENGINE_MODULES:
        return ENGINE_NAMES.get(name)
    moved = MODULE_MOVES.get(module)
    if moved is not None and _known(moved, name):
        return moved
    return None


def _normal(qualname: str | None) -> str | None:
    """tf.keras names are Keras 3's under TensorFlow 2.16+: compare them as keras.*."""
    if qualname and qualname.startswith("tensorflow.keras."):
        return qualname[len("tensorflow."):]
    return qualname


def _expr(dotted: str) -> cst.BaseExpression:
    return cst.parse_expression(dotted)


class _Rewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, imports: ImportMap, result: Rewritten) -> None:
        super().__init__()
        self.imports = imports
        self.result = result
        self.loss_classes: list[bool] = []  # per enclosing class: is it a Loss subclass?

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def _changed(self, node: cst.CSTNode, text: str) -> None:
        self.result.changed.append(Note(self._line(node), text))

    def _not_changed(self, node: cst.CSTNode, text: str) -> None:
        self.result.not_changed.append(Note(self._line(node), text))

    def _qualname(self, node: cst.BaseExpression) -> str | None:
        return _normal(self.imports.qualname(node, strict=True))

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        return False  # the module names inside are rewritten by leave_Import, not as attributes

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.BaseSmallStatement:
        if updated.relative or updated.module is None or isinstance(updated.names, cst.ImportStar):
            return updated
        module = dotted_name(updated.module) or ""
        if module in MODULE_MOVES or module in ENGINE_MODULES:
            targets = {dotted_name(a.name) or "": _target_of(module, dotted_name(a.name) or "") for a in updated.names}
            missing = sorted(n for n, t in targets.items() if t is None)
            if missing:
                self._not_changed(original, f"`{module}` is gone in Keras 3 and `{', '.join(missing)}` has no "
                                  "known Keras 3 home: move it by hand")
                return updated
            homes = set(targets.values())
            if len(homes) != 1:
                self._not_changed(original, f"`from {module} import ...`: the names moved to different modules "
                                  f"({', '.join(sorted(h for h in homes if h))}); split the import by hand")
                return updated
            home = homes.pop()
            assert home is not None
            self._changed(original, f"`from {module} import` -> `from {home} import`")
            return updated.with_changes(module=_expr(home))
        if module in ("keras.utils", "keras"):
            return self._module_imported_from_parent(original, updated, module)
        if module in ALIAS_MODULES or _normal(module) in ALIAS_MODULES:
            names = []
            for alias in updated.names:
                name = dotted_name(alias.name) or ""
                if name in LOSS_ALIASES and alias.asname is None:
                    new = LOSS_ALIASES[name]
                    self._changed(original, f"`{module}.{name}` -> `{module}.{new}` (Keras 3 dropped the alias)")
                    alias = alias.with_changes(
                        name=cst.Name(new), asname=cst.AsName(name=cst.Name(name)))
                elif name in LOSS_ALIASES:
                    self._changed(original, f"`{module}.{name}` -> `{module}.{LOSS_ALIASES[name]}`")
                    alias = alias.with_changes(name=cst.Name(LOSS_ALIASES[name]))
                names.append(alias)
            return updated.with_changes(names=names)
        return updated

    def _module_imported_from_parent(
        self, original: cst.ImportFrom, updated: cst.ImportFrom, module: str
    ) -> cst.ImportFrom:
        """``from keras.utils import np_utils`` -> ``from keras import utils as np_utils``."""
        assert not isinstance(updated.names, cst.ImportStar)
        moved = [a for a in updated.names if f"{module}.{dotted_name(a.name)}" in MODULE_MOVES]
        if not moved:
            return updated
        if len(moved) != len(updated.names):
            self._not_changed(original, f"`from {module} import` mixes moved modules with other names; "
                              "split the import by hand")
            return updated
        homes = {MODULE_MOVES[f"{module}.{dotted_name(a.name)}"] for a in moved}
        if len(homes) != 1:
            return updated
        parent, _, leaf = homes.pop().rpartition(".")
        names = []
        for alias in moved:
            local = alias.asname.name if alias.asname is not None else alias.name
            assert isinstance(local, cst.Name)
            names.append(alias.with_changes(name=cst.Name(leaf), asname=cst.AsName(name=local)))
            self._changed(original, f"`{module}.{dotted_name(alias.name)}` -> `{parent}.{leaf}` as `{local.value}`")
        return updated.with_changes(module=_expr(parent), names=names)

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = []
        for alias in updated.names:
            full = dotted_name(alias.name) or ""
            home = MODULE_MOVES.get(full)
            if home is not None and alias.asname is not None:
                self._changed(original, f"`import {full}` -> `import {home}`")
                alias = alias.with_changes(name=_expr(home))
            elif home is not None:
                self._changed(original, f"`import {full}` -> `import {home}` (uses of `{full}` follow)")
                alias = alias.with_changes(name=_expr(home))
            elif full in ENGINE_MODULES:
                self._not_changed(original, f"`import {full}`: Keras 3 has no keras.engine; its uses are "
                                  "rewritten where they name a class Keras 3 has")
            names.append(alias)
        return updated.with_changes(names=names)

    # -- names -----------------------------------------------------------------------------
    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        qualname = self._qualname(original)
        text = dotted_name(original)
        if not qualname or not text:
            return updated
        owner, _, name = qualname.rpartition(".")
        if owner in REDUCTION_ENUMS or _normal(owner) in REDUCTION_ENUMS:
            value = REDUCTIONS.get(name)
            if value is None:
                return updated
            self._changed(original, f"`{text}` -> `\"{value}\"` (Keras 3 takes the reduction's name)")
            return cst.SimpleString(f'"{value}"')
        head = text.split(".")[0]
        if self.imports.names.get(head) != "keras":
            return updated  # written through an alias of a module: the import's rewrite covers it
        if qualname in MODULE_MOVES:
            home = MODULE_MOVES[qualname]
            self._changed(original, f"`{text}` -> `{home}`")
            return _expr(home)
        if owner in ENGINE_MODULES:
            home = ENGINE_NAMES.get(name)
            if home is None:
                self._not_changed(original, f"`{text}`: Keras 3 has no keras.engine and no `{name}` elsewhere")
                return updated
            self._changed(original, f"`{text}` -> `{home}.{name}`")
            return _expr(f"{home}.{name}")
        if owner in ALIAS_MODULES and name in LOSS_ALIASES:
            self._changed(original, f"`{text}` -> `{owner}.{LOSS_ALIASES[name]}` (Keras 3 dropped the alias)")
            return updated.with_changes(attr=cst.Name(LOSS_ALIASES[name]))
        return updated

    # -- arguments -------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.loss_classes.append(any(self._qualname(b.value) in LOSS_BASES for b in node.bases))

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.loss_classes.pop()
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        callee = self._qualname(original.func)
        if callee is None and self.loss_classes and self.loss_classes[-1] and _is_super_init(original.func):
            callee = "keras.losses.Loss"
        if callee not in REORDERED:
            return updated
        first, names = REORDERED[callee]
        args = list(updated.args)
        positional = [i for i, a in enumerate(args) if a.keyword is None and not a.star]
        moved = [i for i in positional if i >= first]
        if not moved:
            return updated
        if any(a.star for a in args) or max(moved) >= len(names):
            self._not_changed(original, f"`{dotted_name(original.func) or 'call'}(...)`: its positional arguments "
                              "changed order in Keras 3 and this call cannot be matched; pass them by keyword")
            return updated
        for i in moved:
            args[i] = args[i].with_changes(
                keyword=cst.Name(names[i]),
                equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                      whitespace_after=cst.SimpleWhitespace("")))
        written = ", ".join(f"{names[i]}=" for i in moved)
        self._changed(original, f"`{dotted_name(original.func) or callee}(...)`: positional {written} passed "
                      "by keyword (Keras 3 changed the order)")
        return updated.with_changes(args=args)


def _is_super_init(func: cst.BaseExpression) -> bool:
    return (isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name) and func.value.func.value == "super")


def rewrite(source: str) -> Rewritten:
    """``source`` with the Keras 2 -> 3 import, name and argument changes. Raises libcst's
    ParserSyntaxError on a syntax error."""
    module = cst.parse_module(source)
    imports = ImportMap.from_module(module)
    result = Rewritten(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    new = wrapper.visit(_Rewriter(imports, result))
    result.code = new.code
    return result
