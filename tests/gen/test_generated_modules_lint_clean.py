"""Generated modules draw no finding from `losscheck lint` (all default rules, with and
without the layout for shape inference), for both built-in frameworks, with and without the
layout's Additions."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import gen_helpers as H
import pytest
from hypothesis import HealthCheck, given, settings

from losscheck.cli import main
from losscheck.layout.additions import ADDITIONS_FRAMEWORKS

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples", "layouts").glob("*.json"))


def lint(module: Path, layout: Path | None) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    args = ["lint", str(module), "--format", "json", "--no-cache", "--isolated"]
    if layout is not None:
        args += ["--layout", str(layout)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    assert rc in (0, 1), err.getvalue()
    findings = json.loads(out.getvalue() or "[]")
    assert (rc == 1) == bool(findings)
    return findings


def generated(layout_path: Path, framework: str, tmp: Path) -> Path:
    module = tmp / f"{layout_path.stem}_{framework.replace('.', '_')}_losses.py"
    assert main(["gen", str(layout_path), "--framework", framework, "-o", str(module), "-q"]) == 0
    return module


@pytest.mark.parametrize("framework", ADDITIONS_FRAMEWORKS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_modules_are_lint_clean(tmp_path, path, framework):
    module = generated(path, framework, tmp_path)
    assert lint(module, None) == []
    assert lint(module, path) == []


def test_the_linter_does_find_things_in_a_broken_copy(tmp_path):
    """The check above can fail: a batch mean slipped into a generated function is reported."""
    module = generated(EXAMPLES[0].with_name("gated_regression.json"), "keras", tmp_path)
    text = module.read_text()
    broken = text.replace("    return _lc_masked_mean(loss, mask, axes=(1,))", "    return ops.mean(loss)", 1)
    assert broken != text
    module.write_text(broken)
    assert any(f["rule"] == "batch-mean-reduction" for f in lint(module, None))


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts())
def test_random_layouts_give_lint_clean_modules(tmp_path_factory, layout):
    tmp = tmp_path_factory.mktemp("lint")
    path = H.write_layout(layout, tmp)
    for framework in ("keras", "tf.keras"):
        module = generated(path, framework, tmp)
        assert lint(module, path) == [], module.read_text()


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts_with_additions())
def test_random_layouts_with_additions_give_lint_clean_modules(tmp_path_factory, layout):
    tmp = tmp_path_factory.mktemp("lint_additions")
    path = H.write_layout(layout, tmp)
    for framework in ADDITIONS_FRAMEWORKS:
        module = generated(path, framework, tmp)
        assert lint(module, path) == [], module.read_text()
