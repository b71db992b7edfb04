"""The test tree stays navigable: tests live in folders by what they test, basenames are unique
(pytest imports them by basename), and no test module imports another."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FOLDERS = {"cache", "cli", "gen", "keras_target", "layout", "lint", "migrate", "notebooks", "plugins", "robust", "rules", "server", "shapes"}


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)


def test_every_test_module_is_in_a_topic_folder() -> None:
    stray = [p.relative_to(TESTS) for p in _test_modules() if p.parent != TESTS and p.parent.name not in FOLDERS]
    top = [p.name for p in _test_modules() if p.parent == TESTS and p.name != Path(__file__).name]
    assert not stray and not top, f"put these under one of {sorted(FOLDERS)} (see tests/README.md): {stray + top}"


def test_basenames_are_unique() -> None:
    counts = Counter(p.name for p in _test_modules())
    assert [name for name, n in counts.items() if n > 1] == []


def test_no_test_module_imports_another() -> None:
    names = {p.stem for p in _test_modules()}
    offenders = []
    for path in _test_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(TESTS)} imports {m}" for m in modules if m.split(".")[0] in names]
    assert offenders == [], "shared code goes in a support module (no test_ prefix): " + "; ".join(offenders)
