"""The base of this pack's rules, and the triggers the core's pre-filter runs for them.

``losscheck lint`` parses a file only when a trigger of a selected rule matches its bytes
(``losscheck/lint/prefilter.py``). A trigger must match every file the rule can report on (a
miss is a silent miss of the linter), so each trigger below is a *necessary* condition of its
rules: the file imports torch, and holds a loss function (or, for the activation rules, a loss
call and an activation).

The literal ``"torch"`` comes first (a plain substring test, ~5 ms on the 904 files of the Keras
tree), then the regexes, on the 152 files that say "torch", one part of each ``all_of`` at a time
(the torch import is looked for once for both): ~0.06 s for the pack in all, where the two
regexes took ~0.16 s each when run whole on every file.
"""

from __future__ import annotations

from typing import ClassVar

from losscheck.lint.prefilter import all_of  # run part by part by the pre-filter
from losscheck.lint.rule import Rule
from losscheck_torch._facts import LOSS_NAME_WORDS, PER_SAMPLE_WORDS

TORCH_IMPORT = rb"(?:import|from)\s+torch\b"
# Loss code as the pack sees it (_facts._is_loss): a def or class whose name holds a loss word,
# a def not named test* (pytest tests are not loss code; it keeps 0.6 MB of Keras tests unparsed).
LOSS_DEF = rb"(?:def\s+(?!test)|class\s+)\w*(?i:" + (LOSS_NAME_WORDS + "|" + PER_SAMPLE_WORDS).encode() + rb")"
# What LTH102/LTH103 need, anywhere in the file: a loss that applies an activation, and one.
LOSS_CALL = rb"cross_entropy|nll_loss|CrossEntropyLoss|NLLLoss|with_logits|BCEWithLogitsLoss"
ACTIVATION = rb"softmax|Softmax|sigmoid|Sigmoid|expit"


LOSS_CODE_TRIGGER = all_of(TORCH_IMPORT, LOSS_DEF)
ACTIVATION_TRIGGER = all_of(TORCH_IMPORT, LOSS_CALL, ACTIVATION)


class TorchRule(Rule):
    """A rule about PyTorch code: every rule of the pack needs a file that imports torch (the
    facts in ``_facts.py`` are empty otherwise) and a loss function; the activation rules say
    what they need instead (``ACTIVATION_TRIGGER``). The pre-filter runs each distinct trigger
    once per file, so the rules share the cost.

    PyTorch losses are not what the core calls loss code (``(y_true, y_pred)`` signatures,
    ``Loss`` subclasses...), so the pack names its own check instead of the default one."""

    triggers: ClassVar[tuple[str, ...]] = ("torch",)
    trigger_checks: ClassVar[tuple[bytes, ...]] = (LOSS_CODE_TRIGGER,)
