"""PyTorch loss code with the mistakes losscheck-torch finds. Each bad line ends with
`# expect: CODE` (tests/plugins/test_torch_rules.py checks exactly these findings, no more)."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def per_sample_bce(logits, target):
    """One value per sample, for hard-example mining."""
    return F.binary_cross_entropy_with_logits(logits, target)  # expect: LTH101


def weighted_mse_loss(pred, target, sample_weight):
    return F.mse_loss(pred, target) * sample_weight  # expect: LTH101


def classification_loss(logits, labels):
    probs = F.softmax(logits, dim=1)
    return F.cross_entropy(probs, labels)  # expect: LTH102


def multilabel_loss(logits, target):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target)  # expect: LTH102


def redundant_loss(logits, labels):
    return F.cross_entropy(F.log_softmax(logits, dim=1), labels)  # expect: LTH103


def aux_head_loss(logits, labels):
    ce = F.cross_entropy(logits, labels)
    aux = logits[1].pow(2).mean()  # expect: LTH104
    return ce + aux


def scaled_loss(pred, target):
    scale = pred.abs().max().item()  # expect: LTH201
    return F.l1_loss(pred, target) * scale


def numpy_loss(pred, target):
    return torch.tensor(np.mean((pred - target) ** 2))  # expect: LTH201


class PerSampleFocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        p = torch.sigmoid(logits)
        loss = -(target * (1 - p) ** self.gamma * torch.log(p))
        return loss.mean()  # expect: LTH101
