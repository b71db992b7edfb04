"""Packages whose ``__init__`` runs on first use instead of on import: ``libcst.metadata``.

``import libcst`` imports ``libcst.metadata.base_provider`` and ``libcst.metadata.wrapper``, and
importing a submodule runs its package's ``__init__`` first. ``libcst/metadata/__init__.py``
imports every metadata provider libcst has: scopes, type inference (which imports
``subprocess``), the full-repo manager, qualified names, spans: 17 modules, ~3-4 ms of a
one-file lint of ~170 ms (the import phase 62 -> 58 ms, medians of six alternating runs). The
linter resolves none of those providers (it keeps its own scope index, ``scope_index.py``, and
positions, ``positions.py``); it uses two submodules, which import what they need themselves.

How: while :func:`deferred_package_init` is active, a finder placed first on ``sys.meta_path``
answers for the packages named, and only for them: it asks the other finders for the real
spec, and the module it makes is the package with its ``__path__``, ``__file__`` and
``__spec__`` set but its ``__init__`` not yet run. Its submodules import as usual. The first
read of any name the package does not hold yet (``from libcst.metadata import ScopeProvider``,
``libcst.metadata.__all__``) runs the ``__init__``'s code in the package's namespace, as the
import would have, and the module becomes a plain module again.

Why it is safe: the ``__init__`` is the package's own compiled code, run once, in its own
namespace, before any of its names can be read; code that never reads them cannot tell. A
package whose loader cannot hand over its code (a zip import, a frozen or built-in module) is
imported as usual, and so is one already imported when the block starts. Only
``losscheck``'s commands turn it on, for their own process.
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

# The finder and loader below follow importlib's protocols without its abstract base classes:
# ``importlib.abc`` imports ``importlib.resources`` (~3 ms), which would eat much of the saving.

DEFERRED = ("libcst.metadata",)

_init_lock = _thread.RLock()


class _PendingPackage(ModuleType):
    """A package whose ``__init__`` has not run yet: reading a name it lacks runs it."""

    _pending_init: CodeType | None

    def __getattr__(self, name: str) -> Any:
        with _init_lock:
            code = self.__dict__.pop("_pending_init", None)
            if code is not None:
                try:
                    exec(code, self.__dict__)  # noqa: S102 - the package's own __init__, as its import would run it
                finally:
                    self.__class__ = ModuleType  # a plain module from now on, whatever happened
        if name in self.__dict__:
            return self.__dict__[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


class _DeferringLoader:
    """Makes the package module and keeps its ``__init__`` code for later."""

    def __init__(self, loader: Any, code: CodeType) -> None:
        self.loader = loader
        self.code = code

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return _PendingPackage(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["_pending_init"] = self.code
        # what reads the module's loader later (inspect, importlib.reload) gets the real one
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader


class _DeferringFinder:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = _spec_from_the_others(self, fullname, path, target)
        get_code = getattr(spec.loader, "get_code", None) if spec is not None else None
        if spec is None or get_code is None or spec.submodule_search_locations is None:
            return spec  # not a package, or a loader that keeps its code to itself: as usual
        try:
            code = get_code(fullname)
        except (ImportError, SyntaxError, OSError):
            return spec  # let the usual import raise what it raises
        if not isinstance(code, CodeType):
            return spec
        spec.loader = _DeferringLoader(spec.loader, code)
        return spec


def _spec_from_the_others(finder: _DeferringFinder, fullname: str, path: Any, target: Any) -> ModuleSpec | None:
    for other in sys.meta_path:
        if other is finder:
            continue
        find_spec = getattr(other, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


@contextmanager
def deferred_package_init(names: Sequence[str] = DEFERRED) -> Iterator[None]:
    """Inside the block, the packages ``names`` that are imported for the first time run their
    ``__init__`` on first use (see the module docstring). Packages imported in the block stay so
    after it: only the finder goes."""
    finder = _DeferringFinder([name for name in names if name not in sys.modules])
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        try:
            sys.meta_path.remove(finder)
        except ValueError:  # somebody else took it out
            pass
