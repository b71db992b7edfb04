"""The PyTorch rule pack: every rule class, listed for the ``losscheck.rules`` entry point."""

from __future__ import annotations

from losscheck_torch.rules.activation import (
    LogSoftmaxBeforeCrossEntropy,
    SoftmaxBeforeCrossEntropy,
)
from losscheck_torch.rules.detach import ItemOrNumpyInLoss
from losscheck_torch.rules.indexing import TorchBatchIndexing
from losscheck_torch.rules.reduction import PerSampleBatchReduction

PLUGIN_API = 1

RULES = [
    PerSampleBatchReduction,
    SoftmaxBeforeCrossEntropy,
    LogSoftmaxBeforeCrossEntropy,
    TorchBatchIndexing,
    ItemOrNumpyInLoss,
]
