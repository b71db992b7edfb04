"""Large inputs complete with bounded memory, at test-suite scale.

benchmarks/large_inputs.py holds the generators and the full-size run (10 MB file, 5,000-task
layout); here the same generators at a size the CI budget allows, through the real CLI under
/usr/bin/time, with an upper bound on the peak RSS and a check that the work was really done.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"losscheck_bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


large = _load("large_inputs")
needs_time = pytest.mark.skipif(not shutil.which("time") and not Path("/usr/bin/time").exists(),
                                reason="GNU time (Debian package `time`) measures the peak RSS")


@needs_time
@pytest.mark.slow
def test_large_python_file_lints_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    shape = large.make_python_file(path, 0.1)  # ~3,000 lines, 64 copies of the loss block
    run = large.measure("lint", [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json",
                                 str(path)], timeout=600)
    assert run.returncode == 1, run.stderr_tail  # findings, no diagnostics
    assert "Traceback" not in run.stderr_tail
    # each block has a batch-mean loss (LCK101) and a y_true[0] - y_pred[0] loss (LCK102 twice):
    # every copy must be found, so the whole file was checked
    assert run.findings is not None and run.findings >= 3 * shape["blocks"], (run.findings, shape)
    assert run.max_rss_mb < 500, f"peak RSS {run.max_rss_mb:.0f} MB for a {shape['bytes']:,}-byte file"


@needs_time
@pytest.mark.slow
def test_large_layout_generates_with_bounded_memory(tmp_path: Path) -> None:
    layout = tmp_path / "layout.json"
    shape = large.make_layout(layout, 1000)
    out = tmp_path / "gen_losses.py"
    run = large.measure("gen", [sys.executable, "-m", "losscheck", "gen", str(layout), "-o", str(out)], timeout=600)
    assert run.returncode == 0, run.stderr_tail
    text = out.read_text(encoding="utf-8")
    compile(text, str(out), "exec")  # valid Python (not imported: that would need Keras)
    spec = json.loads(layout.read_text())
    tasks = [(o["name"], t["name"]) for o in spec["outputs"] for t in o["tasks"]]
    assert len(tasks) == shape["tasks"] == 1000
    missing = [f"{o}.{t}" for o, t in tasks if f"'{o}.{t}'" not in text and f'"{o}.{t}"' not in text]
    assert not missing, missing[:5]
    assert run.max_rss_mb < 400, f"peak RSS {run.max_rss_mb:.0f} MB for {shape['tasks']} tasks"


def test_generators_are_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    large.make_layout(a, 120)
    large.make_layout(b, 120)
    assert a.read_bytes() == b.read_bytes()
    kinds = collections.Counter(t["type"] for o in json.loads(a.read_text())["outputs"] for t in o["tasks"])
    assert set(kinds) == {"binary", "multilabel", "categorical", "regression"}
