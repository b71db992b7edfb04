"""The facts layer: providers are computed once per file, after their dependencies; a cycle is an
error; docs/architecture.md names every provider."""

from __future__ import annotations

import pathlib

import libcst as cst
import pytest

from losscheck.lint.context import FileContext
from losscheck.lint.facts import PROVIDERS, FactCycle, fact


def _ctx(source: str = "x = 1\n") -> FileContext:
    return FileContext(path="t.py", source=source, module=cst.parse_module(source))


def test_a_fact_is_computed_once_per_file_and_after_its_dependencies() -> None:
    calls: list[str] = []

    @fact()
    def base(ctx: FileContext) -> int:
        calls.append("base")
        return 2

    @fact(base)
    def derived(ctx: FileContext) -> int:
        calls.append("derived")
        return base(ctx) * 10

    ctx = _ctx()
    assert derived(ctx) == 20 and ctx.fact(derived) == 20 and base(ctx) == 2
    assert calls == ["base", "derived"]
    other = _ctx()
    assert derived(other) == 20
    assert calls == ["base", "derived", "base", "derived"]  # per file, not per process


def test_a_cycle_is_reported_and_a_failed_fact_is_not_kept() -> None:
    @fact()
    def selfish(ctx: FileContext) -> int:
        return selfish(ctx)

    with pytest.raises(FactCycle, match="selfish"):
        selfish(_ctx())

    attempts: list[int] = []

    @fact()
    def flaky(ctx: FileContext) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first time")
        return 7

    ctx = _ctx()
    with pytest.raises(ValueError):
        flaky(ctx)
    assert flaky(ctx) == 7


def test_the_architecture_page_names_every_provider() -> None:
    from losscheck.lint import engine  # noqa: F401 - imports the core's providers
    from losscheck.lint.registry import builtin_rules

    builtin_rules()
    import losscheck.shapes  # noqa: F401

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    core = [p for p in PROVIDERS if not p.compute.__module__.startswith("tests")
            and p.compute.__module__ != __name__]
    missing = [p.name for p in core if f"`{p.name.rsplit('.', 1)[1]}`" not in page]
    assert not missing, f"docs/architecture.md does not name: {missing}"
