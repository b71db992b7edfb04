"""Precision: the core rules report nothing on installed Keras 3's own losses, metrics and activations.

The files are read as text (found through the installed package's location, without importing
Keras) and linted whole with lint_source.
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from losscheck.lint.context import FileContext
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import builtin_rules

CORE = {"LCK101", "LCK102", "LCK103", "LCK104", "LCK105", "LCK106", "LCK201", "LCK302", "LCK401"}
RULES = [r for r in builtin_rules() if r.code in CORE]


def _keras_src() -> pathlib.Path | None:
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = pathlib.Path(next(iter(spec.submodule_search_locations))) / "src"
    return root if root.is_dir() else None


KERAS_SRC = _keras_src()
FILES = (
    sorted(p for sub in ("losses", "metrics", "activations") for p in (KERAS_SRC / sub).rglob("*.py"))
    if KERAS_SRC
    else []
)


def test_all_core_rules_registered() -> None:
    assert {r.code for r in RULES} == CORE


@pytest.mark.skipif(not FILES, reason="Keras 3 is not installed")
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_zero_findings_on_keras_sources(path: pathlib.Path) -> None:
    source = path.read_text(encoding="utf-8")
    findings = [f for f in lint_source(source, str(path), rules=RULES) if f.code in CORE]
    assert findings == [], "\n".join(f"{f.line}:{f.column} {f.code} {f.message}" for f in findings)


@pytest.mark.skipif(not FILES, reason="Keras 3 is not installed")
def test_the_keras_losses_are_actually_inspected() -> None:
    """Guard against a vacuous precision test: the finder must see Keras's loss functions."""
    import libcst as cst

    path = KERAS_SRC / "losses" / "losses.py"
    source = path.read_text(encoding="utf-8")
    ctx = FileContext(str(path), source, cst.parse_module(source))
    names = {f.name for f in ctx.losses()}
    assert {"mean_squared_error", "binary_crossentropy", "categorical_crossentropy", "dice"} <= names


LAYOUTS = sorted((pathlib.Path(__file__).resolve().parents[2] / "examples" / "layouts").glob("*.json"))


@pytest.mark.skipif(not LAYOUTS, reason="no example layouts in this checkout")
@pytest.mark.parametrize("framework", ["keras", "tf.keras"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda p: p.stem)
def test_zero_findings_on_generated_modules(layout: pathlib.Path, framework: str) -> None:
    generate = pytest.importorskip("losscheck.gen.cli").generate
    import libcst as cst

    from losscheck.layout.validate import LayoutError

    try:
        text, _plan = generate(layout, framework)
    except LayoutError as error:
        if "is generated for framework" not in str(error) and "are generated for framework" not in str(error):
            raise
        pytest.skip(f"{layout.name} uses fields that {framework} does not generate: {error}")
    ctx = FileContext("generated.py", text, cst.parse_module(text))
    assert ctx.losses(), "the generated module's losses must be found (else this test proves nothing)"
    findings = [f for f in lint_source(text, "generated.py", rules=RULES) if f.code in CORE]
    assert findings == [], "\n".join(f"{f.line}:{f.column} {f.code} {f.message}" for f in findings)
