"""The same losses written right: losscheck-torch finds nothing here."""

import torch
import torch.nn.functional as F
from torch import nn


def per_sample_bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)


def weighted_mse_loss(pred, target, sample_weight):
    per_sample = F.mse_loss(pred, target, reduction="none").flatten(1).mean(1)
    return (per_sample * sample_weight).mean()


def classification_loss(logits, labels):
    return F.cross_entropy(logits, labels)


def multilabel_loss(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target)


def nll(logits, labels):
    return F.nll_loss(F.log_softmax(logits, dim=1), labels)


def aux_head_loss(logits, labels):
    ce = F.cross_entropy(logits, labels)
    return ce + logits[:, 1].pow(2).mean()


def scaled_loss(pred, target):
    scale = pred.abs().max().detach()
    return F.l1_loss(pred, target) * scale


def logged_loss(logits, labels):
    loss = F.cross_entropy(logits, labels)
    return loss, {"loss": loss.item(), "acc": (logits.argmax(1) == labels).float().mean().item()}


class PerSampleFocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        p = torch.sigmoid(logits)
        loss = -(target * (1 - p) ** self.gamma * torch.log(p))
        return loss.flatten(1).mean(1)
