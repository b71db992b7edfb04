"""Property tests of the PyTorch rule pack: Hypothesis writes loss code from parts (how torch is
imported, which loss, which activation, how the activation reaches the loss, which reduction,
what the function is called) and the rule's verdict must equal the verdict the parts imply."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry

pytest.importorskip("losscheck_torch", reason="pip install -e plugins/torch")
BY_CODE = load_registry(plugins=True).by_code()

IMPORTS = {
    "F": "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n",
    "functional": "import torch\nfrom torch.nn import functional as F\nimport torch.nn as nn\n",
}
# loss spelling -> (functional name, whether it is a loss object)
LOSSES = {
    "F.cross_entropy({x}, y{kw})": "cross_entropy",
    "nn.CrossEntropyLoss({kw0})({x}, y)": "cross_entropy",
    "F.nll_loss({x}, y{kw})": "nll_loss",
    "F.binary_cross_entropy_with_logits({x}, y{kw})": "binary_cross_entropy_with_logits",
    "nn.BCEWithLogitsLoss({kw0})({x}, y)": "binary_cross_entropy_with_logits",
    "F.binary_cross_entropy({x}, y{kw})": "binary_cross_entropy",
    "F.mse_loss({x}, y{kw})": "mse_loss",
}
ACTIVATIONS = {
    "logits": None,
    "F.softmax(logits, dim=1)": "softmax",
    "torch.softmax(logits, 1)": "softmax",
    "logits.softmax(dim=1)": "softmax",
    "nn.Softmax(dim=1)(logits)": "softmax",
    "F.log_softmax(logits, dim=1)": "log_softmax",
    "torch.sigmoid(logits)": "sigmoid",
    "logits.sigmoid()": "sigmoid",
}
DOUBLE = {("cross_entropy", "softmax"), ("binary_cross_entropy_with_logits", "sigmoid"), ("nll_loss", "softmax")}


def _source(imports: str, name: str, body: list[str]) -> str:
    lines = [f"def {name}(logits, y):", *("    " + line for line in body)]
    return IMPORTS[imports] + "\n\n" + "\n".join(lines) + "\n"


def _codes(source: str, code: str) -> list[int]:
    return [f.line for f in lint_source(source, "x.py", rules=[BY_CODE[code]]) if f.code == code]


@settings(max_examples=150, deadline=None)
@given(
    imports=st.sampled_from(sorted(IMPORTS)),
    loss=st.sampled_from(sorted(LOSSES)),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    via=st.sampled_from(["inline", "variable", "reassigned"]),
    name=st.sampled_from(["loss_fn", "compute", "criterion_step"]),
)
def test_activation_rules_verdict(imports, loss, activation, via, name):
    if via == "inline":
        body = [f"return {loss.format(x=activation, kw='', kw0='')}"]
    elif via == "variable":
        body = [f"x = {activation}", f"return {loss.format(x='x', kw='', kw0='')}"]
    else:  # reassigned on one path: which value reaches the loss is not known statically
        body = [f"x = {activation}", "if y is None:", "    x = logits", f"return {loss.format(x='x', kw='', kw0='')}"]
    source = _source(imports, name, body)
    pair = (LOSSES[loss], ACTIVATIONS[activation])
    known = via != "reassigned"
    assert bool(_codes(source, "LTH102")) == (known and pair in DOUBLE), source
    redundant = pair == ("cross_entropy", "log_softmax")
    assert bool(_codes(source, "LTH103")) == (known and redundant), source


@settings(max_examples=150, deadline=None)
@given(
    imports=st.sampled_from(sorted(IMPORTS)),
    loss=st.sampled_from(sorted(LOSSES)),
    reduction=st.sampled_from([None, "mean", "sum", "none", "variable"]),
    name=st.sampled_from(["per_sample_loss", "unreduced_loss", "PerExample", "loss_fn", "batch_loss"]),
    weighted=st.booleans(),
)
def test_per_sample_reduction_verdict(imports, loss, reduction, name, weighted):
    if reduction is None:
        kw = kw0 = ""
    elif reduction == "variable":
        kw, kw0 = ", reduction=mode", "reduction=mode"
    else:
        kw, kw0 = f', reduction="{reduction}"', f'reduction="{reduction}"'
    call = loss.format(x="logits", kw=kw, kw0=kw0)
    fn_name = "per_example_loss" if name == "PerExample" else name
    params = "logits, y" + (", sample_weight" if weighted else "") + (", mode" if reduction == "variable" else "")
    ret = f"{call} * sample_weight" if weighted else call
    source = IMPORTS[imports] + f"\n\ndef {fn_name}({params}):\n    return {ret}\n"
    per_sample = fn_name.startswith(("per_", "unreduced"))
    batch_reduced = reduction in (None, "mean", "sum")
    expected = (per_sample or weighted) and batch_reduced
    assert bool(_codes(source, "LTH101")) == expected, source


@settings(max_examples=60, deadline=None)
@given(
    index=st.integers(-3, 3),
    evidence=st.sampled_from(["cross_entropy", "batch_size", "none"]),
    extra=st.sampled_from(["", ", :2", ", ..."]),
)
def test_batch_indexing_verdict(index, evidence, extra):
    lines = ["import torch", "import torch.nn.functional as F", "", "", "def aux_loss(logits, y):"]
    if evidence == "cross_entropy":
        lines.append("    ce = F.cross_entropy(logits, y)")
    elif evidence == "batch_size":
        lines.append("    batch_size = logits.shape[0]")
    lines.append(f"    head = logits[{index}{extra}]")
    lines.append("    return head.abs().mean()")
    source = "\n".join(lines) + "\n"
    assert bool(_codes(source, "LTH104")) == (evidence != "none"), source


EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "plugins" / "torch" / "examples"
EXAMPLES = [(EXAMPLES_DIR / name).read_text() for name in ("buggy_torch_losses.py", "good_torch_losses.py")]
TORCH_RULES = [r for r in BY_CODE.values() if r.origin == "losscheck-torch"]


@settings(max_examples=80, deadline=None)
@given(
    which=st.sampled_from([0, 1]),
    drop=st.sets(st.integers(0, 80), max_size=6),
    swap=st.lists(
        st.tuples(
            st.sampled_from(["logits", "pred", "target", "loss", "F", "torch", "self", "np"]),
            st.sampled_from(["x", "F", "torch", "np", "self", "logits", "1", "None", "loss.item()"]),
        ),
        max_size=3,
    ),
)
def test_mutated_loss_code_never_crashes_a_rule(which, drop, swap):
    """Lines dropped, names swapped: whatever still parses is linted without an internal error."""
    lines = [line for i, line in enumerate(EXAMPLES[which].splitlines()) if i not in drop]
    source = "\n".join(lines) + "\n"
    for old, new in swap:
        source = source.replace(old, new)
    findings = lint_source(source, "mutated.py", rules=TORCH_RULES)
    assert not [f for f in findings if f.code == "LCK997"], [f.message for f in findings if f.code == "LCK997"]
