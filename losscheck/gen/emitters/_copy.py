"""Copy function definitions, verbatim, out of real Python files into a generated module.

The functions a generated module is built from live in ordinary modules
(:mod:`losscheck.gen.helpers`, a plugin's own), where they are imported and tested like any
code. An emitter reads such a file as text -- it never imports it, so ``losscheck gen`` does not
load TensorFlow, Keras or NumPy -- and copies a function's lines as they stand, from its first
decorator to its last line, comments included. Each file is read and parsed once per process.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from losscheck.gen.plan import HELPER_PREFIX


@dataclass(frozen=True)
class Function:
    """A top-level function of a file: its source lines and every name it reads."""

    name: str
    text: str  # from the first decorator (or ``def``) to the last line of the body, no final newline
    names: frozenset[str]
    is_class: bool = False


@dataclass(frozen=True)
class Helper:
    """An ``_lc`` function ready to copy, with the other helpers it calls (which must come too)."""

    text: str
    needs: tuple[str, ...]


@functools.cache
def functions_in(path: Path) -> Mapping[str, Function]:
    """The top-level functions of a Python file, in file order."""
    return MappingProxyType({name: d for name, d in definitions_in(path).items() if not d.is_class})


@functools.cache
def definitions_in(path: Path) -> Mapping[str, Function]:
    """The top-level functions and classes of a Python file, in file order."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: dict[str, Function] = {}
    for node in ast.parse(text, filename=str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            names = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
            text_lines = "\n".join(lines[first - 1: node.end_lineno])
            found[node.name] = Function(node.name, text_lines, names, isinstance(node, ast.ClassDef))
    return MappingProxyType(found)


def function_text(path: Path, name: str) -> str:
    """The source of one top-level function of ``path``; ``KeyError`` names what is missing."""
    try:
        return definitions_in(path)[name].text
    except KeyError:
        raise KeyError(f"{path} defines no function {name!r}") from None


def function_text_as(path: Path, name: str, new_name: str) -> str:
    """The source of one top-level function of ``path``, defined under another name."""
    text = function_text(path, name)
    return re.sub(rf"^((?:async[ \t]+)?def[ \t]+){re.escape(name)}\b", lambda m: m.group(1) + new_name, text,
                  count=1, flags=re.MULTILINE)


@functools.cache
def helpers_in(paths: tuple[Path, ...]) -> Mapping[str, Helper]:
    """The ``_lc`` functions of ``paths``, in order (file by file, then within each file).

    That order is the order in which a generated module holds them, so it must not depend on
    which helpers a layout happens to use first. A name defined twice is an error: a copied
    function must have one source.
    """
    found: dict[str, Function] = {}
    for path in paths:
        for name, function in definitions_in(path).items():
            if not name.startswith(HELPER_PREFIX):
                continue
            if name in found:
                raise ValueError(f"helper {name!r} is defined in more than one of {[str(p) for p in paths]}")
            found[name] = function
    return MappingProxyType({
        name: Helper(function.text, tuple(other for other in found if other != name and other in function.names))
        for name, function in found.items()
    })
