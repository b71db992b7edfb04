"""The example modules the Quickstart lints: every planted mistake is found, the good module is clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "losses"

# function in buggy_losses.py -> the rules that must fire inside it
EXPECTED = {
    "seg_loss": {"batch-mean-reduction"},
    "first_output_loss": {"wrong-axis"},
    "focal_loss": {"undefined-name"},
    "gated_regression": {"mask-from-prediction"},
    "masked_mse": {"masked-mean"},
    "keras2_bce": {"removed-keras-api"},
    "numpy_loss": {"numpy-in-loss"},
    "leaky_loss": {"model-tensor-in-loss"},
    "cls_loss": {"probabilities-as-logits"},
    "build_and_train": {"list-for-dict-outputs"},
}


def _lint(*paths: Path) -> tuple[int, list[dict]]:
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--isolated", "--format", "json", *map(str, paths)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    return proc.returncode, json.loads(proc.stdout)


def _function_at(lines: list[str], line: int) -> str:
    for text in reversed(lines[:line]):
        if text.startswith("def "):
            return text[4:].split("(")[0]
    return "<module>"


def test_every_planted_mistake_is_found_and_nothing_else():
    code, findings = _lint(EXAMPLES / "buggy_losses.py")
    assert code == 1
    lines = (EXAMPLES / "buggy_losses.py").read_text(encoding="utf-8").splitlines()
    found: dict[str, set[str]] = {}
    for f in findings:
        found.setdefault(_function_at(lines, f["line"]), set()).add(f["rule"])
    assert found == EXPECTED


def test_good_examples_are_clean():
    code, findings = _lint(EXAMPLES / "good_losses.py")
    assert (code, findings) == (0, [])
