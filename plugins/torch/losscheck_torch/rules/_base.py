"""The base of this pack's rules: what they share with the core's pre-filter."""

from __future__ import annotations

from typing import ClassVar

from losscheck.lint.rule import Rule


class TorchRule(Rule):
    """A rule about PyTorch code. Every rule of the pack needs a file that imports torch (the
    facts in ``_facts.py`` are empty otherwise), so the core's bytes pre-filter may skip, without
    parsing, every file that has no ``import torch`` / ``from torch``."""

    triggers: ClassVar[tuple[bytes, ...]] = (rb"(?:import|from)\s+torch\b",)
