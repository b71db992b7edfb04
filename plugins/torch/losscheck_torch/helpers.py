"""PyTorch functions of generated loss modules (``framework: "torch"``).

Formulas follow Keras 3's (TensorFlow backend) to the letter -- the same epsilon (1e-07,
written out: the functions are copied alone), the same clipping of probabilities, the
same normalisation of categorical probabilities -- so a torch module and a Keras module
generated from the same layout give the same numbers. Each term function returns one
value per position, the channels (last axis) reduced.

The emitter copies each function it needs verbatim into the generated module, next to
the framework-neutral ones of ``losscheck.gen.helpers.common`` (``_lc_check``, and
NumPy's ``pack_targets`` renamed ``_lc_pack_numpy``). So a function here uses only the
names the generated module has: ``torch``, ``F``, ``np``, other ``_lc_`` functions, and
its tables (``LOSSES``, ``LOSS_WEIGHTS``).
"""

import torch
import torch.nn.functional as F

from losscheck.gen.helpers.common import pack_targets as _lc_pack_numpy

# The generated module defines its own tables; these empty ones let ``total_loss`` be
# imported and tested here.
LOSSES = {}
LOSS_WEIGHTS = {}


def _lc_register(fn):
    """PyTorch keeps no registry of loss functions: they are plain Python, nothing to
    register."""
    return fn


def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where
    none counts."""
    return torch.sum(loss * mask, dim=axes) / torch.clamp(
        torch.sum(mask, dim=axes), min=1.0
    )


def _lc_mean_squared_error(truth, pred):
    """Keras's ``mean_squared_error``: mean squared error over the last axis."""
    return F.mse_loss(pred, truth, reduction="none").mean(dim=-1)


def _lc_mean_absolute_error(truth, pred):
    """Keras's ``mean_absolute_error``: mean absolute error over the last axis."""
    return F.l1_loss(pred, truth, reduction="none").mean(dim=-1)


def _lc_huber(truth, pred, delta):
    """Keras's ``huber``: quadratic up to ``delta``, linear beyond, mean over the last
    axis."""
    return F.huber_loss(pred, truth, reduction="none", delta=delta).mean(dim=-1)


def _lc_log_cosh(truth, pred):
    """Keras's ``log_cosh``, in its overflow-free form: x + softplus(-2x) - log(2)."""
    error = pred - truth
    return torch.mean(error + F.softplus(-2.0 * error) - 0.6931471805599453, dim=-1)


def _lc_bce_elements(truth, pred, from_logits):
    """Element-wise binary crossentropy, as Keras computes it (probabilities clipped to
    [eps, 1 - eps])."""
    if from_logits:
        return F.binary_cross_entropy_with_logits(pred, truth, reduction="none")
    return F.binary_cross_entropy(
        torch.clamp(pred, 1e-07, 1.0 - 1e-07), truth, reduction="none"
    )


def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    """Keras's ``binary_crossentropy``; with ``pos_weight``, elements whose target is 1
    weigh ``pos_weight`` before the mean over the last axis."""
    elements = _lc_bce_elements(truth, pred, from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return elements.mean(dim=-1)


def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    """Keras's ``binary_focal_crossentropy``; ``alpha=None`` is
    ``apply_class_balancing=False``."""
    if from_logits:
        pred = torch.sigmoid(pred)
    bce = _lc_bce_elements(truth, pred, from_logits=False)
    p_t = truth * pred + (1.0 - truth) * (1.0 - pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if alpha is not None:
        focal = (truth * alpha + (1.0 - truth) * (1.0 - alpha)) * focal
    return focal.mean(dim=-1)


def _lc_categorical_crossentropy(truth, pred, from_logits):
    """Keras's ``categorical_crossentropy`` over the last axis (one-hot or soft
    targets)."""
    if (
        from_logits
    ):  # F.cross_entropy takes the classes on dim 1 and accepts probability targets
        return F.cross_entropy(
            torch.movedim(pred, -1, 1), torch.movedim(truth, -1, 1), reduction="none"
        )
    pred = torch.clamp(pred / torch.sum(pred, dim=-1, keepdim=True), 1e-07, 1.0 - 1e-07)
    return -torch.sum(truth * torch.log(pred), dim=-1)


def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    """Keras's ``sparse_categorical_crossentropy``; ``index`` holds the class in its one
    channel."""
    index = index[..., 0].long()
    if not from_logits:  # Keras: log of the clipped probabilities, used as logits
        pred = torch.log(torch.clamp(pred, 1e-07, 1.0 - 1e-07))
    return F.cross_entropy(torch.movedim(pred, -1, 1), index, reduction="none")


def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    """Keras's ``categorical_focal_crossentropy`` over the last axis."""
    if from_logits:
        pred = torch.softmax(pred, dim=-1)
    pred = torch.clamp(pred / torch.sum(pred, dim=-1, keepdim=True), 1e-07, 1.0 - 1e-07)
    return torch.sum(
        alpha * torch.pow(1.0 - pred, gamma) * (-truth * torch.log(pred)), dim=-1
    )


def _lc_dice(truth, pred, axes):
    """Keras 3's ``dice`` per example: 1 - 2 |truth * pred| / (|truth| + |pred|) over
    ``axes``."""
    overlap = torch.sum(truth * pred, dim=axes)
    total = torch.sum(truth, dim=axes) + torch.sum(pred, dim=axes) + 1e-07
    return 1.0 - 2.0 * overlap / total


def pack_targets(output, targets, dtype=torch.float32):
    """Pack one output's per-task targets into its ``y_true``, as a ``torch.Tensor``.

    ``targets`` maps each task name of ``output`` to an array or tensor of shape (B,
    *spatial, c), channels last, or (B, *spatial) when the task has one y_true channel.
    The result is laid out like the output (channels first when its channel axis is 1).
    """
    arrays = {
        name: value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        for name, value in targets.items()
    }
    return torch.as_tensor(_lc_pack_numpy(output, arrays, dtype="float32"), dtype=dtype)


def total_loss(y_true, y_pred, sample_weight=None):
    """The training loss Keras would compute: per output, the per-example loss times
    ``sample_weight`` (one weight per example, or a dict of them by output), averaged
    over the batch, then summed with ``LOSS_WEIGHTS``. ``y_true`` and ``y_pred`` map
    output names to tensors."""
    result = 0.0
    for name, fn in LOSSES.items():
        per_example = fn(y_true[name], y_pred[name])
        weight = (
            sample_weight.get(name)
            if isinstance(sample_weight, dict)
            else sample_weight
        )
        if weight is not None:
            per_example = per_example * torch.as_tensor(
                weight, dtype=per_example.dtype
            ).reshape(-1)
        result = result + LOSS_WEIGHTS[name] * torch.mean(per_example, dim=0)
    return result
