"""Resolve local names to the qualified names they were imported as, from the syntax tree alone.

``import keras.backend as K`` makes ``K.mean`` mean ``keras.backend.mean``;
``from tensorflow.keras import backend as K`` makes it ``tensorflow.keras.backend.mean``.
The two must stay distinguishable: Keras 3's ``keras.backend`` lost ``mean`` while
``tensorflow.keras.backend`` (and ``tf_keras.backend``) still has it, so qualified names are kept
exactly as imported and only :func:`api` maps them to a comparable (family, op) pair.

Pure libcst, no metadata providers: one cheap walk over the module. Imports inside functions
count too (people write ``import tensorflow as tf`` inside a loss). A name bound to two different
things in the file (``K`` imported from two places, or reassigned) is *ambiguous* and resolves to
nothing: a rule that cannot tell what ``K`` is stays quiet.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from functools import lru_cache

import libcst as cst

_AMBIGUOUS = "\0ambiguous"


def dotted_name(expr: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts... are not names)."""
    parts: list[str] = []
    while type(expr) is cst.Attribute:
        parts.append(expr.attr.value)
        expr = expr.value
    if type(expr) is not cst.Name:
        return None
    parts.append(expr.value)
    return ".".join(reversed(parts))


def _module_name(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    return dotted_name(node) or ""


@dataclass
class ImportMap:
    """Local name -> qualified name (``K`` -> ``keras.backend``, ``tf`` -> ``tensorflow``)."""

    names: dict[str, str] = field(default_factory=dict)
    star_modules: list[str] = field(default_factory=list)  # `from x import *`
    # Names a snippet uses without importing them (`np`, `tf`, `K`...), read as everyone means
    # them (``CONVENTIONAL``), so that code pasted without its imports is still analysed.
    # Only names the module binds in no way; undefined-name still reports each missing import.
    conventional: dict[str, str] = field(default_factory=dict)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_module(cls, module: cst.Module) -> "ImportMap":
        from losscheck.lint.statement_parts import parts

        collector = _Collector()
        for part in parts("imports", module, _Collector.of):  # in the server, only edited statements are walked
            collector.add(part)
        return cls.from_collector(collector)

    @classmethod
    def from_collector(cls, collector: "_Collector") -> "ImportMap":
        result = cls(star_modules=collector.star_modules)
        for name, targets in collector.bindings.items():
            values = set(targets)
            result.names[name] = targets[0] if len(values) == 1 else _AMBIGUOUS
        # Module-level aliases: `K = tf.keras.backend`, `ops = keras.ops` (resolved after imports,
        # a couple of rounds so that chains of aliases resolve too).
        for _ in range(3):
            changed = False
            for name, values in collector.alias_assigns.items():
                if name in collector.bindings:
                    continue  # also imported: already ambiguous or resolved above
                resolved = {result._resolve_dotted(v) for v in values}
                new = resolved.pop() if len(resolved) == 1 and None not in resolved else _AMBIGUOUS
                if len(values) != collector.all_assign_counts.get(name, 0):
                    new = _AMBIGUOUS  # also assigned something that is not an alias
                if result.names.get(name) != new:
                    result.names[name] = new
                    changed = True
            if not changed:
                break
        return result

    def assume_conventions(self, unbound: frozenset[str]) -> "ImportMap":
        """Resolve the conventional aliases in ``unbound`` (``unbound_conventional_names``)."""
        self.conventional = {name: CONVENTIONAL[name] for name in unbound if name not in self.names}
        return self

    # -- queries -----------------------------------------------------------------------
    def _resolve_dotted(self, dotted: str | None, strict: bool = False) -> str | None:
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        target = self.names.get(head)
        if target is None and not strict:
            target = self.conventional.get(head)
        if target is None or target == _AMBIGUOUS:
            return None
        return f"{target}.{rest}" if rest else target

    def qualname(self, expr: cst.BaseExpression, *, strict: bool = False) -> str | None:
        """``K.mean`` -> ``"keras.backend.mean"``; None when the head name is not an import
        (``strict``) or a conventional alias the module leaves unbound."""
        return self._resolve_dotted(dotted_name(expr), strict)

    def resolve_name(self, name: str) -> str | None:
        target = self.names.get(name, self.conventional.get(name))
        return None if target is None or target == _AMBIGUOUS else target

    def api(self, expr: cst.BaseExpression) -> "Api | None":
        qn = self.qualname(expr)
        return api(qn) if qn else None


# What everyone means by these names in loss code pasted without its imports.
CONVENTIONAL: dict[str, str] = {
    "np": "numpy",
    "tf": "tensorflow",
    "K": "keras.backend",
    "keras": "keras",
    "ops": "keras.ops",
    "layers": "keras.layers",
}


def unbound_conventional_names(source: str) -> frozenset[str]:
    """The ``CONVENTIONAL`` names that ``source`` surely never binds: every occurrence of the name
    (strings and comments included) is a use as a module, ``NAME.attr`` / ``NAME(...)`` /
    ``NAME[...]``, not after ``def``, ``class`` or ``import``. A superset of the real bindings,
    read from the text alone, so that each piece of a file linted in pieces decides as the whole
    file does."""
    found = set()
    for name, (anywhere, other_use) in _CONVENTION_PATTERNS.items():
        if name not in source or other_use.search(source):
            continue
        uses = [m.start() for m in anywhere.finditer(source)]
        if uses and not any(_DEFINES.search(source, max(0, at - 200), at) for at in uses):
            found.add(name)
    return frozenset(found)


# Each pattern starts with the name, a literal the regex engine finds at C speed; the look-behind
# after it asks for a word boundary before it (a leading one would defeat that scan: 10x slower).
_CONVENTION_PATTERNS = {
    name: (
        re.compile(rf"{re.escape(name)}(?<![\w.]{re.escape(name)})\b"),
        re.compile(rf"{re.escape(name)}(?<![\w.]{re.escape(name)})\b(?![.(\[])"),  # `np = ...`, `as np`, `print(np)`
    )
    for name in CONVENTIONAL
}
_DEFINES = re.compile(r"(?:def|class|import)\s+\Z")  # right before a use: `def np(`, `import np.x`


def import_bindings(node: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
    """(local name, what it names) for each name an import statement binds: ``import a.b`` binds
    ``a``; ``from . import m`` names ``.m``; a star import binds nothing here."""
    out: list[tuple[str, str]] = []
    if type(node) is cst.Import:
        for alias in node.names:
            full = _module_name(alias.name)
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                out.append((alias.asname.name.value, full))
            else:
                head = full.split(".")[0]
                out.append((head, head))
        return out
    if type(node.names) is cst.ImportStar:  # type: ignore[union-attr]
        return out
    base = "." * len(node.relative) + _module_name(node.module)  # type: ignore[union-attr]
    for alias in node.names:  # type: ignore[union-attr]
        imported = _module_name(alias.name)
        local = alias.asname.name.value if alias.asname and type(alias.asname.name) is cst.Name else imported
        sep = "" if base.endswith(".") else "."
        out.append((local, f"{base}{sep}{imported}" if base else imported))
    return out


# node type -> (its visit_ handler, its leave_ handler, whether to descend), looked up once per
# type: statements and blocks hold imports; expressions never do (nor assignments we track)
_COLLECTOR_KINDS: dict[type, tuple[str | None, str | None, bool]] = {}


def _collector_kind(cls: type) -> tuple[str | None, str | None, bool]:
    from losscheck.lint.astutil import handler_name

    kind = (handler_name(_Collector, "visit_", cls), handler_name(_Collector, "leave_", cls),
            cst.BaseExpression not in cls.__mro__)  # not issubclass: an ABC's first check is slow
    _COLLECTOR_KINDS[cls] = kind
    return kind


class _Collector:
    """Collects every import binding in the file (module level and inside functions/classes)."""

    def run(self, module: cst.CSTNode) -> None:
        from losscheck.lint.astutil import traverse

        kinds = _COLLECTOR_KINDS

        def enter(node: cst.CSTNode) -> bool:
            kind = kinds.get(type(node)) or _collector_kind(type(node))
            if kind[0] is not None:
                getattr(self, kind[0])(node)
            return kind[2]

        def leave(node: cst.CSTNode) -> None:
            kind = kinds[type(node)]
            if kind[1] is not None:
                getattr(self, kind[1])(node)

        traverse(module, enter, leave)

    def __init__(self) -> None:
        self.bindings: dict[str, list[str]] = {}
        self.star_modules: list[str] = []
        self.alias_assigns: dict[str, list[str]] = {}
        self.all_assign_counts: dict[str, int] = {}
        self._depth = 0  # function/class nesting: aliases by assignment only at module level

    @classmethod
    def of(cls, statement: cst.CSTNode) -> "_Collector":
        """The import bindings of one top-level statement."""
        collector = cls()
        collector.run(statement)
        return collector

    def add(self, part: "_Collector") -> None:
        """Add what the next statement holds (``part`` is left as it is: it may be remembered)."""
        for name, targets in part.bindings.items():
            self.bindings.setdefault(name, []).extend(targets)
        self.star_modules += part.star_modules
        for name, values in part.alias_assigns.items():
            self.alias_assigns.setdefault(name, []).extend(values)
        for name, count in part.all_assign_counts.items():
            self.all_assign_counts[name] = self.all_assign_counts.get(name, 0) + count

    def _bind(self, name: str, target: str) -> None:
        self.bindings.setdefault(name, []).append(target)

    def visit_Import(self, node: cst.Import) -> None:
        for local, target in import_bindings(node):
            self._bind(local, target)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if type(node.names) is cst.ImportStar:
            self.star_modules.append("." * len(node.relative) + _module_name(node.module))
            return
        for local, target in import_bindings(node):
            self._bind(local, target)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth += 1

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._depth += 1

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._depth -= 1

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._depth:
            return
        for target in node.targets:
            if type(target.target) is cst.Name:
                name = target.target.value
                self.all_assign_counts[name] = self.all_assign_counts.get(name, 0) + 1
                dotted = dotted_name(node.value)
                if dotted is not None and len(node.targets) == 1:
                    self.alias_assigns.setdefault(name, []).append(dotted)


# -- API families ---------------------------------------------------------------------------

# Prefixes (longest first) -> family. Families group namespaces that share op names and semantics.
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v2.keras.backend", "tf.keras.backend"),
    ("tensorflow.compat.v1.keras.backend", "tf.keras.backend"),
    ("tensorflow.python.keras.backend", "tf.keras.backend"),
    ("tensorflow.keras.backend", "tf.keras.backend"),
    ("tf_keras.backend", "tf.keras.backend"),
    ("tensorflow.keras.losses", "tf.keras.losses"),
    ("tensorflow.python.keras.losses", "tf.keras.losses"),
    ("tf_keras.losses", "tf.keras.losses"),
    ("tensorflow.keras.metrics", "tf.keras.metrics"),
    ("tf_keras.metrics", "tf.keras.metrics"),
    ("tensorflow.experimental.numpy", "numpy"),
    ("tensorflow.compat.v1", "tensorflow"),
    ("tensorflow.compat.v2", "tensorflow"),
    ("tensorflow.math", "tensorflow"),
    ("tensorflow.nn", "tensorflow"),
    ("tensorflow.linalg", "tensorflow"),
    ("tensorflow.keras", "tf.keras"),
    ("tensorflow", "tensorflow"),
    ("keras.src.ops.numpy", "keras.ops"),
    ("keras.src.ops.nn", "keras.ops"),
    ("keras.src.ops.math", "keras.ops"),
    ("keras.src.ops", "keras.ops"),
    ("keras.ops.numpy", "keras.ops"),
    ("keras.ops.nn", "keras.ops"),
    ("keras.ops.math", "keras.ops"),
    ("keras.ops", "keras.ops"),
    ("keras.backend", "keras.backend"),  # Keras 3's (or Keras 2 standalone's) backend module
    ("keras.src.losses.losses", "keras.losses"),
    ("keras.src.losses", "keras.losses"),
    ("keras.losses", "keras.losses"),
    ("keras.src.metrics", "keras.metrics"),
    ("keras.metrics", "keras.metrics"),
    ("tf_keras", "tf.keras"),
    ("keras.src", "keras.src"),
    ("keras", "keras"),
    ("jax.numpy", "numpy"),  # same op names and axis semantics as NumPy
    ("numpy", "numpy"),
)


@dataclass(frozen=True)
class Api:
    """A resolved callee: ``Api("tensorflow", "reduce_mean", "tensorflow.math.reduce_mean")``."""

    family: str
    name: str  # the op name inside the family (``reduce_mean``, ``mean``, ``linalg.norm``)
    qualname: str

    @property
    def is_numpy(self) -> bool:
        return is_numpy(self.qualname)


@lru_cache(maxsize=4096)  # rules ask about the same few callees again and again; Api is frozen
def api(qualname: str) -> Api | None:
    for prefix, family in _FAMILIES:
        if qualname == prefix:
            return None  # the module itself, not something in it
        if qualname.startswith(prefix + "."):
            return Api(family, qualname[len(prefix) + 1 :], qualname)
    return None


def is_numpy(qualname: str | None) -> bool:
    """Real NumPy (not ``tf.experimental.numpy`` or ``jax.numpy``, which trace fine)."""
    return bool(qualname) and (qualname == "numpy" or qualname.startswith("numpy."))


def is_keras3_backend(qualname: str | None) -> bool:
    """``keras.backend.X`` as Keras 3 has it (NOT ``tensorflow.keras.backend``/``tf_keras.backend``)."""
    return bool(qualname) and qualname.startswith("keras.backend.")
