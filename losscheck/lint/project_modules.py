"""Other modules of the project, as the code of a loss reaches them through its imports.

``from .loss import focal_loss`` and then ``return focal_loss(y_true, y_pred) + ...``: whether
that helper reduces over the batch is written in another file. This module resolves such a name
to its ``def`` there and gives the helper summaries (``summaries.py``) that module's own
:class:`FileContext`, so an imported helper is read exactly as a local one, with its own imports.

Resolution, for a module name from the file's imports (``ctx.imports``):

- relative (``.loss``, ``..utils.losses``): from the file's package folder;
- absolute (``losses.loss``, ``utils.metrics``): from the file's folder and each folder above it
  up to the project root (``project.py``), as ``X/Y.py`` or ``X/Y/__init__.py``; the nearest wins.

Nothing outside the project is read (a name from an installed package stays unknown), and
without a project (or under ``--isolated``) nothing is. A module is read once per run (bounded
like every project file), and one that cannot be read, decoded or parsed is simply unknown.
Results that depend on other modules are keyed in the results cache on the project's signature
(``project.cache_salt``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

from losscheck.lint import project

if TYPE_CHECKING:
    import libcst as cst

    from losscheck.lint.context import FileContext

_MAX_MODULES = 16  # parsed modules kept alive at once (each holds its tree)
_contexts: OrderedDict[str, FileContext | None] = OrderedDict()


def imported_function(ctx: FileContext, func: cst.BaseExpression) -> tuple[FileContext, cst.FunctionDef] | None:
    """The module-level ``def`` that ``func`` (``name`` from ``from M import name``, or
    ``M.name`` with ``import M``) reaches in another module of the project, with that module's
    context; None when it reaches none."""
    import libcst as cst

    found = imported_definition(ctx, func)
    if found is None or type(found[1]) is not cst.FunctionDef:
        return None
    return found[0], found[1]


def imported_definition(
    ctx: FileContext, func: cst.BaseExpression
) -> tuple[FileContext, cst.FunctionDef | cst.ClassDef] | None:
    """The module-level ``def`` or ``class`` that ``func`` reaches in another module of the
    project (as ``imported_function``), with that module's context."""
    import libcst as cst

    if type(func) is cst.Name:
        target = ctx.imports.names.get(func.value)
        if target is None or "." not in target.strip("."):
            return None
        module, name = target.rsplit(".", 1)
    elif type(func) is cst.Attribute and type(func.value) is cst.Name:
        module = ctx.imports.names.get(func.value.value)
        if module is None:
            return None
        name = func.attr.value
    else:
        return None
    if _is_library(module):
        return None  # `tf.reduce_mean` in every loss: decided before any path is looked at
    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is None:
        return None
    path = resolve(os.path.abspath(ctx.path), module, root)
    if path is None or path == os.path.abspath(ctx.path):
        return None
    other = module_context(path, ctx)
    if other is None:
        return None
    defs = [s for s in other.module.body if type(s) in (cst.FunctionDef, cst.ClassDef) and s.name.value == name]
    return (other, defs[0]) if len(defs) == 1 else None


# Libraries a loss calls all the time (`tf.reduce_mean`, `np.abs`): never a module of the project.
_LIBRARIES = frozenset({"tensorflow", "keras", "tf_keras", "numpy", "jax", "torch", "scipy", "sklearn", "pandas",
                        "math", "functools", "typing", "os", "sys"})


def resolve(path: str, module: str, root: str) -> str | None:
    """The file of ``module`` as imported from ``path``, inside ``root``; None if there is none."""
    if _is_library(module):
        return None
    return _resolve(os.path.dirname(path), module, root)


def _is_library(module: str) -> bool:
    return module.split(".")[0] in _LIBRARIES


@lru_cache(maxsize=4096)
def _resolve(folder: str, module: str, root: str) -> str | None:
    """``resolve`` from the importing file's folder (once per folder, module and run)."""
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module[dots:].split(".") if p]
    if not parts:
        return None
    if dots:
        for _ in range(dots - 1):
            folder = os.path.dirname(folder)
        bases = [folder]
    else:
        bases = []
        while True:
            bases.append(folder)
            parent = os.path.dirname(folder)
            if folder == root or parent == folder or not folder.startswith(root):
                break
            folder = parent
    for base in bases:
        stem = os.path.join(base, *parts)
        for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
            if os.path.isfile(candidate) and os.path.abspath(candidate).startswith(root + os.sep):
                return os.path.abspath(candidate)
    return None


def place(ctx: FileContext, home: FileContext, node: cst.CSTNode) -> str:
    """Where ``node`` of the module ``home`` is, as a message in ``ctx``'s file says it: ``line N``
    there, else ``path:line`` relative to the project root."""
    line = home.position(node).start.line
    if home is ctx:
        return f"line {line}"
    root = project.root_for(ctx.path, ctx.options.get("keras_target")) or os.path.dirname(home.path)
    return f"{os.path.relpath(home.path, root)}:{line}"


def module_context(path: str, caller: FileContext) -> FileContext | None:
    """``path`` read and parsed into a context of its own (the caller's options), or None."""
    if path in _contexts:
        _contexts.move_to_end(path)
        return _contexts[path]
    _contexts[path] = result = _parse(path, caller)
    while len(_contexts) > _MAX_MODULES:
        _contexts.popitem(last=False)
    return result


def _parse(path: str, caller: FileContext) -> FileContext | None:
    import libcst as cst

    from losscheck.lint import guard
    from losscheck.lint.context import FileContext
    from losscheck.lint.decoding import decode
    from losscheck.lint.parsing import parse_module

    data = project.read(path)
    if data is None or b"\0" in data:
        return None
    try:
        source = decode(data)
        scan = guard.scan(source)
        if scan.refusal is not None:
            return None
        module = parse_module(source)
    except (ValueError, SyntaxError, cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
    return FileContext(path=path, source=source, module=module, options=caller.options, scan=scan)


def clear() -> None:
    """Forget the parsed modules: once per run, so that a long-lived process sees edited files."""
    _contexts.clear()
    _resolve.cache_clear()
