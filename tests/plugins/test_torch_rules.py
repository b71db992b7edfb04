"""The PyTorch rule pack's VALID/INVALID examples, run through the *installed* entry point,
plus the pack's precision on real PyTorch code and on the modules the torch emitter generates.

The core's tests/rules/ run the built-in rules only; this file runs the rules
that `losscheck_torch` contributes, loaded exactly as `losscheck lint` loads them, and the rule
of plugins/example_minimal (the docs' example, loaded from its source: tests/plugins/test_plugin_api.py
installs it for real).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
from losscheck.testing import add_lint_rule_tests_to_module

pytest.importorskip("losscheck_torch", reason="pip install -e plugins/torch")

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(plugins=True)
TORCH_RULES = [r for r in REGISTRY.rules if r.origin == "losscheck-torch"]


def _example_rules() -> list:
    path = REPO / "plugins" / "example_minimal" / "losscheck_example_minimal" / "__init__.py"
    spec = importlib.util.spec_from_file_location("losscheck_example_minimal_src", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PLUGIN_API == 1
    return list(module.RULES)


RULES = TORCH_RULES + _example_rules()

add_lint_rule_tests_to_module(globals(), RULES)  # each rule's docs, VALID and INVALID examples


def test_pack_is_loaded_through_the_entry_point():
    assert not [e for e in REGISTRY.errors if "losscheck-torch" in e.plugin], REGISTRY.errors
    codes = {r.code for r in TORCH_RULES}
    assert {"LTH101", "LTH102", "LTH103", "LTH104", "LTH201"} <= codes, codes
    for rule in TORCH_RULES:
        assert rule.code.startswith("LTH") and len(rule.code) == 6  # flake8-compatible: 3 capitals + 3 digits


# -- precision and speed beyond the examples ---------------------------------------------------
def test_prefilter_skips_files_the_pack_cannot_report_on():
    from losscheck.lint.prefilter import Prefilter

    pre = Prefilter(TORCH_RULES)
    model = (
        b"import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    keras = b"import tensorflow as tf\n\ndef loss(y_true, y_pred):\n    return tf.reduce_mean(y_pred[0])\n"
    assert not pre.wants(model) and not pre.wants(keras)
    assert pre.wants(b"import torch.nn.functional as F\n\ndef per_sample_loss(p, t):\n    return F.mse_loss(p, t)\n")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_triggers_cover_every_invalid_example(rule):
    """A trigger that misses a file the rule reports on would be a silent miss of the linter."""
    from losscheck.lint.prefilter import Prefilter

    pre = Prefilter([rule])
    for case in rule.invalid_examples():
        assert pre.wants(case.code.encode()), case.code


def test_quiet_on_pytorch_own_loss_code():
    """torch's own loss modules are full of `forward(input, target)` calling F.* with
    `reduction=self.reduction`, softmax and indexing: the pack must find nothing there."""
    torch_dir = Path(importlib.util.find_spec("torch").origin).parent if importlib.util.find_spec("torch") else None
    if torch_dir is None:
        pytest.skip("torch is not installed")
    for rel in ("nn/modules/loss.py", "nn/functional.py"):
        source = (torch_dir / rel).read_text()
        findings = lint_source(source, rel, rules=TORCH_RULES)
        assert findings == [], findings[:3]


PRECISION = [
    # a NumPy helper in a file that also uses torch (as in Keras's own tests): not torch code
    """
    import numpy as np
    import torch

    def _apply_masks(logits, mask):
        combined = np.ones_like(logits, dtype=np.bool_)
        return np.where(combined, logits, -1e9)

    def per_sample_loss(pred, target):
        return ((pred - target) ** 2).mean()
    """,
    # the reduction is the caller's setting (self.reduction): the mean branch is not a mistake
    """
    import torch.nn.functional as F
    from torch import nn

    class PerSampleFocal(nn.Module):
        def __init__(self, reduction="none"):
            super().__init__()
            self.reduction = reduction

        def forward(self, logits, target):
            loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            if self.reduction == "mean":
                return loss.mean()
            return loss
    """,
    # self.softmax is an nn.LogSoftmax: nll_loss on log-probabilities is right
    """
    import torch.nn.functional as F
    from torch import nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, logits, target):
            return F.nll_loss(self.softmax(logits), target)
    """,
    # a per-sample loss whose reduction comes from the caller: unknown, so quiet
    """
    import torch.nn.functional as F

    def per_sample_ce(logits, target, reduction="none"):
        return F.cross_entropy(logits, target, reduction=reduction)
    """,
    # sigmoid before binary_cross_entropy (probabilities) is right
    """
    import torch
    import torch.nn.functional as F

    def loss_fn(logits, target):
        return F.binary_cross_entropy(torch.sigmoid(logits), target)
    """,
    # a local function named softmax that is not torch's
    """
    import torch.nn.functional as F

    def softmax(x, dim):
        return x

    def loss_fn(logits, target):
        return F.cross_entropy(softmax(logits, 1), target)
    """,
    # `outputs` is a tuple of heads: outputs[0] is right
    """
    import torch.nn.functional as F

    def loss_fn(outputs, target):
        logits, aux = outputs[0], outputs[1]
        return F.cross_entropy(logits, target) + 0.1 * aux.mean()
    """,
    # .item() only for the log line, loss keeps its graph
    """
    import torch
    import torch.nn.functional as F

    class Criterion(torch.nn.Module):
        def forward(self, logits, target):
            loss = F.cross_entropy(logits, target)
            self.last = loss.item()
            return loss
    """,
]


@pytest.mark.parametrize("code", PRECISION)
def test_precision_cases(code):
    import textwrap

    assert lint_source(textwrap.dedent(code), "x.py", rules=TORCH_RULES) == []


def test_generated_torch_modules_draw_no_finding(tmp_path):
    """Every default-enabled rule, core and plugins, is quiet on the torch emitter's output."""
    from losscheck.gen.plan import build_plan
    from losscheck.layout.load import parse
    from losscheck.layout.validate import validate
    from losscheck_torch.emitter import EMITTER

    from losscheck.layout.validate import LayoutError

    rules = [r for r in REGISTRY.rules if r.default_enabled]
    layouts = sorted((REPO / "examples" / "layouts").glob("*.json"))
    emitted = 0
    for path in layouts:
        data = json.loads(path.read_text())
        data["framework"] = "torch"
        try:
            layout = validate(parse(json.dumps(data), path.name), frameworks=None)
        except LayoutError as error:
            if "generated for framework" in str(error):
                continue  # a layout that uses Keras 3-only fields
            raise
        emitted += 1
        plan = build_plan(layout, "torch")
        source = EMITTER.emit(plan)
        assert EMITTER.emit(plan) == source  # deterministic: same plan, same bytes
        findings = lint_source(source, f"{path.stem}_torch.py", rules=rules)
        assert findings == [], (path.name, findings[:3])
    assert emitted >= 4, "the example layouts for torch must be linted (else this test proves nothing)"


def test_example_files_of_the_plugin():
    """plugins/torch/examples: the buggy file gets exactly the findings its `# expect:` comments
    declare (line and code), the good one none; both through `losscheck lint`'s engine."""
    import re

    examples = REPO / "plugins" / "torch" / "examples"
    buggy = (examples / "buggy_torch_losses.py").read_text()
    expected = {
        (n, m.group(1))
        for n, line in enumerate(buggy.splitlines(), 1)
        if (m := re.search(r"# expect: ([A-Z]{1,3}[0-9]{3})$", line))
    }
    assert len(expected) >= 9
    got = {(f.line, f.code) for f in lint_source(buggy, "buggy_torch_losses.py", rules=TORCH_RULES)}
    assert got == expected
    good = (examples / "good_torch_losses.py").read_text()
    assert lint_source(good, "good_torch_losses.py", rules=TORCH_RULES) == []
