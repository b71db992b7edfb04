"""Generated modules read like hand-written code: ``ruff format --check`` and
``ruff check --select E,F,W,B,UP`` (ruff's defaults: 88 columns) pass on them unchanged, for
every example layout and every framework that generates it, and for random layouts, with and
without the Additions."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import gen_helpers as H
import pytest
from hypothesis import HealthCheck, given, settings

from losscheck.cli import main
from losscheck.layout.additions import ADDITIONS_FRAMEWORKS


def _ruff() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


RUFF = _ruff()
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (it is in the test extra)")
FRAMEWORKS = ["keras", "tf.keras", *(["torch"] if importlib.util.find_spec("losscheck_torch") else [])]


def _generate(layout_path: Path, framework: str, directory: Path) -> Path:
    module = directory / f"{layout_path.stem}_{framework.replace('.', '_')}_losses.py"
    assert main(["gen", str(layout_path), "--framework", framework, "-o", str(module), "-q", "--force"]) == 0
    return module


def ruff_problems(directory: Path) -> str:
    """What ruff would change or report in the files of ``directory`` ('' when nothing)."""
    assert RUFF is not None
    fmt = subprocess.run([*RUFF, "format", "--isolated", "--diff", str(directory)], capture_output=True,
                         text=True)
    check = subprocess.run([*RUFF, "check", "--isolated", "--select", "E,F,W,B,UP", "--output-format",
                            "concise", str(directory)], capture_output=True, text=True)
    problems = []
    if fmt.returncode != 0:
        problems.append(fmt.stdout + fmt.stderr)
    if check.returncode != 0:
        problems.append(check.stdout + check.stderr)
    return "\n".join(problems)


def test_example_modules_pass_ruff(tmp_path):
    count = 0
    for path in H.EXAMPLE_LAYOUTS:
        additions = H.uses_additions(json.loads(path.read_text()))
        for framework in FRAMEWORKS:
            if framework in ADDITIONS_FRAMEWORKS or not additions:  # a plugin's refuses the Additions
                _generate(path, framework, tmp_path)
                count += 1
    assert count >= len(H.EXAMPLE_LAYOUTS)
    assert ruff_problems(tmp_path) == ""


def test_the_ruff_check_can_fail(tmp_path):
    module = _generate(H.EXAMPLE_LAYOUTS[0], "keras", tmp_path)
    module.write_text(module.read_text().replace('"', "'", 4) + "\n\nx = [ 1,2 ]\n")
    assert ruff_problems(tmp_path) != ""


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts())
def test_random_layouts_give_ruff_clean_modules(tmp_path_factory, layout):
    tmp = tmp_path_factory.mktemp("ruff")
    path = H.write_layout(layout, tmp)
    for framework in FRAMEWORKS:
        _generate(path, framework, tmp)
    assert ruff_problems(tmp) == ""


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts_with_additions())
def test_random_layouts_with_additions_give_ruff_clean_modules(tmp_path_factory, layout):
    tmp = tmp_path_factory.mktemp("ruff_additions")
    path = H.write_layout(layout, tmp)
    for framework in ADDITIONS_FRAMEWORKS:
        _generate(path, framework, tmp)
    assert ruff_problems(tmp) == ""
