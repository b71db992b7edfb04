"""The base of this pack's rules, and the bytes triggers the core's pre-filter runs for them.

``losscheck lint`` parses a file only when a trigger of a selected rule matches its bytes
(``losscheck/lint/prefilter.py``). A trigger must match every file the rule can report on (a
miss is a silent miss of the linter), so the trigger below is a *necessary* condition of every
rule of the pack: the file imports torch and holds loss code. Measured on the installed Keras
tree (11 MB): 0.4 s of regex scan, 28 of 904 files kept (they import torch: Keras's torch backend).
"""

from __future__ import annotations

from typing import ClassVar

from losscheck.lint.rule import Rule

TORCH_IMPORT = rb"(?:import|from)\s+torch\b"
_PRED = rb"pred|preds|prediction|predictions|logits|logit|output|outputs|out|input|inputs|y_pred|y_hat|yhat|scores|probs|predicted"
# Loss code as the pack sees it (_facts._is_loss, _losscalls): "loss"/"criterion" in a name (this
# also covers nll_loss and every nn.*Loss), cross_entropy (F.cross_entropy, ..._with_logits), or a
# def with a prediction-like parameter (two levels of parentheses allowed in the signature).
LOSS_CODE = (
    rb"(?i:loss|criterion)|cross_entropy"
    rb"|\bdef\s+\w+\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*?\b(?:" + _PRED + rb")\b"
)


def all_of(*patterns: bytes) -> bytes:
    """One regex that matches a file containing every pattern, in any order."""
    return rb"(?s)\A" + b"".join(rb"(?=.*?(?:" + p + rb"))" for p in patterns)


# One trigger for the whole pack: the pre-filter evaluates it once per file (the rules share the
# parse anyway), and it is a necessary condition of every rule: torch imported, and loss code.
PACK_TRIGGER = all_of(TORCH_IMPORT, LOSS_CODE)


class TorchRule(Rule):
    """A rule about PyTorch code: every rule of the pack needs a file that imports torch (the
    facts in ``_facts.py`` are empty otherwise) and loss code (see ``PACK_TRIGGER``)."""

    triggers: ClassVar[tuple[bytes, ...]] = (PACK_TRIGGER,)
