"""The facts layer: what the rules know about a file, computed once per file, on demand.

A *fact provider* is a function of the :class:`~losscheck.lint.context.FileContext` declared
with :func:`fact`, naming the providers it reads. ``ctx.fact(provider)`` (or simply
``provider(ctx)``) computes it the first time it is asked for, its dependencies first, and
keeps the result on the context, so the file's facts live exactly as long as its tree. This is
how LibCST's metadata providers and ruff's ``SemanticModel`` work, and it is why a rule that
never asks for shapes never pays for them.

Facts that are keyed further (per function, per call) are providers whose value is a memo
table (``dict``), filled by the module that owns them::

    @fact()
    def reduced_returns_memo(ctx) -> dict[tuple, ReturnClassifier]:
        return {}

The dependency graph is explicit so that it can be read (``losscheck/lint/facts.py`` lists
every provider in :data:`PROVIDERS`) and checked: a cycle is a programming error, raised as
such the moment it is entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class FactProvider(Generic[T]):
    """One kind of fact about a file: its name, how to compute it, what it reads."""

    name: str
    compute: Callable[["FileContext"], T]
    depends: tuple["FactProvider[Any]", ...] = ()
    # read only on some paths (a whole-file walk that most files never need): part of the graph,
    # but computed when the provider asks for it, not before
    on_demand: tuple["FactProvider[Any]", ...] = ()

    def __call__(self, ctx: "FileContext") -> T:
        return ctx.fact(self)

    def __repr__(self) -> str:
        return f"<fact {self.name}>"


PROVIDERS: list[FactProvider[Any]] = []  # every provider declared, in import order


def fact(*depends: FactProvider[Any], on_demand: tuple[FactProvider[Any], ...] = ()
         ) -> Callable[[Callable[["FileContext"], T]], FactProvider[T]]:
    """Declare a fact provider: ``@fact(imports_fact, ...)`` above ``def name(ctx) -> T``;
    ``on_demand=(...)`` names the providers it reads only on some paths."""

    def declare(compute: Callable[["FileContext"], T]) -> FactProvider[T]:
        name = f"{compute.__module__.rsplit('.', 1)[-1]}.{compute.__name__}"
        provider = FactProvider(name, compute, tuple(depends), tuple(on_demand))
        PROVIDERS.append(provider)
        return provider

    return declare


class FactCycle(RuntimeError):
    """A provider asked, directly or not, for itself."""


_COMPUTING = object()  # marks a provider whose value is being computed (cycle detection)


def compute(ctx: "FileContext", store: dict[FactProvider[Any], Any], provider: FactProvider[T]) -> T:
    """``provider``'s value for ``ctx``, from ``store`` or computed (dependencies first)."""
    value = store.get(provider, None)
    if value is _COMPUTING:
        raise FactCycle(f"fact {provider.name} depends on itself")
    if provider in store:
        return value  # type: ignore[no-any-return]
    store[provider] = _COMPUTING
    try:
        for dependency in provider.depends:
            compute(ctx, store, dependency)
        value = provider.compute(ctx)
    except BaseException:
        del store[provider]
        raise
    store[provider] = value
    return value  # type: ignore[no-any-return]
