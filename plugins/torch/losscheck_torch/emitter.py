"""``framework: "torch"``: the layout's losses as PyTorch code (``torch`` + ``torch.nn.functional``).

The generated module has the same shape as the Keras one (spec layout-v1: ``LOSSES``,
``LOSS_WEIGHTS``, ``TASK_LOSSES``, ``pack_targets``) and the same per-example semantics: each
function takes ``(y_true, y_pred)`` for one whole output, in the output's own layout (channels
first where ``channel_axis`` is 1), and returns one value per example, shape ``(B,)``.

It is built on the core's :class:`SourceEmitter`, so the slicing, masking and term structure
are the very code the Keras emitter runs; this module only gives the PyTorch spelling of each
op and helper. Formulas follow Keras 3's (TensorFlow backend) to the letter -- the same
epsilon (1e-7) and clipping for probabilities, the same normalisation of categorical
probabilities -- so both modules give the same numbers (tests/plugins/test_torch_emitter.py).

Adapted to PyTorch:
- ``pack_targets`` returns a ``torch.Tensor`` (it accepts NumPy arrays or tensors);
- ``total_loss(y_true, y_pred, sample_weight=None)`` does what Keras does after the losses:
  per output, weight each example, average over the batch, and sum with ``LOSS_WEIGHTS``.

Nothing here imports torch: the emitter writes text; only the generated module imports torch.
"""

from __future__ import annotations

from losscheck.gen.emitters._source import _LN2, SourceEmitter
from losscheck.gen.plan import Plan

PLUGIN_API = 1
EPSILON = "1e-07"  # keras.config.epsilon()'s default, for the same clipping as Keras

_HELPERS = {
    "_lc_check": '''def _lc_check(truth, pred, output, rank, true_channels, pred_channels, channel_axis):
    """Fail when the tensors do not fit the layout, naming the output."""
    for role, tensor, channels in (("y_true", truth, true_channels), ("y_pred", pred, pred_channels)):
        shape = tuple(tensor.shape)
        if len(shape) != rank or shape[channel_axis] != channels:
            raise ValueError(
                f"output {output!r}: {role} has shape {shape}, but the layout expects rank {rank} "
                f"with {channels} channels on axis {channel_axis}"
            )''',
    "_lc_masked_mean": '''def _lc_masked_mean(loss, mask, axes):
    """Mean of ``loss`` over the positions where ``mask`` is 1, per example; 0 where none counts."""
    return torch.sum(loss * mask, dim=axes) / torch.clamp(torch.sum(mask, dim=axes), min=1.0)''',
    "_lc_mean_squared_error": """def _lc_mean_squared_error(truth, pred):
    return F.mse_loss(pred, truth, reduction="none").mean(dim=-1)""",
    "_lc_mean_absolute_error": """def _lc_mean_absolute_error(truth, pred):
    return F.l1_loss(pred, truth, reduction="none").mean(dim=-1)""",
    "_lc_huber": """def _lc_huber(truth, pred, delta):
    return F.huber_loss(pred, truth, reduction="none", delta=delta).mean(dim=-1)""",
    "_lc_log_cosh": f"""def _lc_log_cosh(truth, pred):
    error = pred - truth
    return torch.mean(error + F.softplus(-2.0 * error) - {_LN2}, dim=-1)""",
    "_lc_bce_elements": f'''def _lc_bce_elements(truth, pred, from_logits):
    """Element-wise binary crossentropy, as Keras computes it (probabilities clipped to [eps, 1 - eps])."""
    if from_logits:
        return F.binary_cross_entropy_with_logits(pred, truth, reduction="none")
    return F.binary_cross_entropy(torch.clamp(pred, {EPSILON}, 1.0 - {EPSILON}), truth, reduction="none")''',
    "_lc_binary_crossentropy": """def _lc_binary_crossentropy(truth, pred, from_logits, pos_weight=None):
    elements = _lc_bce_elements(truth, pred, from_logits)
    if pos_weight is not None:
        elements = elements * (truth * pos_weight + (1.0 - truth))
    return elements.mean(dim=-1)""",
    "_lc_binary_focal_crossentropy": """def _lc_binary_focal_crossentropy(truth, pred, from_logits, gamma, alpha):
    if from_logits:
        pred = torch.sigmoid(pred)
    bce = _lc_bce_elements(truth, pred, False)
    p_t = truth * pred + (1.0 - truth) * (1.0 - pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if alpha is not None:
        focal = (truth * alpha + (1.0 - truth) * (1.0 - alpha)) * focal
    return focal.mean(dim=-1)""",
    "_lc_categorical_crossentropy": f"""def _lc_categorical_crossentropy(truth, pred, from_logits):
    if from_logits:  # F.cross_entropy takes the classes on dim 1 and accepts probability targets
        return F.cross_entropy(torch.movedim(pred, -1, 1), torch.movedim(truth, -1, 1), reduction="none")
    pred = torch.clamp(pred / torch.sum(pred, dim=-1, keepdim=True), {EPSILON}, 1.0 - {EPSILON})
    return -torch.sum(truth * torch.log(pred), dim=-1)""",
    "_lc_sparse_categorical_crossentropy": f"""def _lc_sparse_categorical_crossentropy(index, pred, from_logits):
    index = index[..., 0].long()
    if not from_logits:  # Keras: log of the clipped probabilities, used as logits
        pred = torch.log(torch.clamp(pred, {EPSILON}, 1.0 - {EPSILON}))
    return F.cross_entropy(torch.movedim(pred, -1, 1), index, reduction="none")""",
    "_lc_categorical_focal_crossentropy": f"""def _lc_categorical_focal_crossentropy(truth, pred, from_logits, alpha, gamma):
    if from_logits:
        pred = torch.softmax(pred, dim=-1)
    pred = torch.clamp(pred / torch.sum(pred, dim=-1, keepdim=True), {EPSILON}, 1.0 - {EPSILON})
    return torch.sum(alpha * torch.pow(1.0 - pred, gamma) * (-truth * torch.log(pred)), dim=-1)""",
    "_lc_dice": f"""def _lc_dice(truth, pred, axes):
    overlap = torch.sum(truth * pred, dim=axes)
    total = torch.sum(truth, dim=axes) + torch.sum(pred, dim=axes) + {EPSILON}
    return 1.0 - 2.0 * overlap / total""",
}

# The Keras module's docstring tells Keras users what to do; ours tells PyTorch users.
_KERAS_USAGE = (
    "Use: ``model.compile(loss=LOSSES, loss_weights=LOSS_WEIGHTS)``, then\n"
    "``model.fit(x, {name: pack_targets(name, targets) for name in LOSSES})``.\n"
    "Every loss returns one value per example, shape (batch,): Keras applies\n"
    "sample_weight and the batch mean.\n"
)
_TORCH_USAGE = (
    "Use: ``loss = total_loss({name: pack_targets(name, targets) for name in LOSSES}, preds)``\n"
    "where ``preds`` maps output names to the model's tensors, then ``loss.backward()``.\n"
    "Every function in LOSSES and TASK_LOSSES returns one value per example, shape (batch,);\n"
    "``total_loss`` weights the examples, averages over the batch and applies LOSS_WEIGHTS.\n"
)

_PACK_AND_TOTAL = '''


def pack_targets(output, targets, dtype=torch.float32):
    """Pack one output's per-task targets into its ``y_true``, as a ``torch.Tensor``.

    ``targets`` maps each task name of ``output`` to an array or tensor of shape
    (B, *spatial, c), channels last, or (B, *spatial) when the task has one y_true channel.
    The result is laid out like the output (channels first when its channel axis is 1).
    """
    arrays = {
        name: value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        for name, value in targets.items()
    }
    return torch.as_tensor(_lc_pack_numpy(output, arrays, dtype="float32"), dtype=dtype)


def total_loss(y_true, y_pred, sample_weight=None):
    """The training loss Keras would compute: per output, the per-example loss times
    ``sample_weight`` (one weight per example, or a dict of them by output), averaged over the
    batch, then summed with ``LOSS_WEIGHTS``. ``y_true`` and ``y_pred`` map output names to tensors."""
    result = 0.0
    for name, fn in LOSSES.items():
        per_example = fn(y_true[name], y_pred[name])
        weight = sample_weight.get(name) if isinstance(sample_weight, dict) else sample_weight
        if weight is not None:
            per_example = per_example * torch.as_tensor(weight, dtype=per_example.dtype).reshape(-1)
        result = result + LOSS_WEIGHTS[name] * torch.mean(per_example, dim=0)
    return result'''


_IDENTITY = "lambda fn: fn"
_REGISTER_DEF = '''def _lc_register(fn):
    """PyTorch keeps no registry of loss functions: they are plain Python, nothing to register."""
    return fn
'''


class TorchEmitter(SourceEmitter):
    """Emits a PyTorch module for a layout (``losscheck gen layout.json --framework torch``)."""

    framework = "torch"
    imports = ("import numpy as np", "import torch", "import torch.nn.functional as F")
    HELPERS = _HELPERS
    OPS = {
        "cast": "{0}.to({1})",
        "transpose": "{0}.permute{1}",
        "equal": "torch.eq({0}, {1})",
        "logical_not": "torch.logical_not({0})",
        "logical_and": "torch.logical_and({0}, {1})",
        "any_last": "torch.any({0}, dim=-1)",
        "where": "torch.where({0}, {1}, {2})",
        "fill_like": "{1}",  # torch.where takes a Python number and keeps the tensor's dtype
        "one_hot": "F.one_hot({0}[..., 0].long(), {1}).to(y_pred.dtype)",
        "mean": "torch.mean({0}, dim={1})",
        "take_last": "{0}[..., {1}]",
        "sigmoid": "torch.sigmoid({0})",
        "softmax_last": "torch.softmax({0}, dim=-1)",
        "zeros_per_example": "torch.zeros_like(torch.sum(y_pred, dim={1}))",
    }

    def register_decorator(self, package: str) -> str:
        # PyTorch has no serialization registry for functions: the decorator is the identity
        # (written as a def in emit(), so the module reads cleanly under flake8 too).
        return _IDENTITY

    def term_expr(self, output, task, term):  # type: ignore[no-untyped-def]
        # binary crossentropy's element-wise helper is shared by two helpers: declare it used
        if term.loss in ("binary_crossentropy", "binary_focal_crossentropy"):
            self.use("_lc_bce_elements")
        return super().term_expr(output, task, term)

    def pack_targets(self, plan: Plan) -> str:
        numpy_version = super().pack_targets(plan)
        if 'def pack_targets(output, targets, dtype="float32"):' not in numpy_version:
            raise RuntimeError("losscheck's pack_targets template changed: update losscheck-torch")
        numpy_version = numpy_version.replace(
            'def pack_targets(output, targets, dtype="float32"):',
            'def _lc_pack_numpy(output, targets, dtype="float32"):',
        )
        return numpy_version + _PACK_AND_TOTAL

    def emit(self, plan: Plan) -> str:
        source = super().emit(plan).replace(_KERAS_USAGE, _TORCH_USAGE)
        return source.replace(f"_lc_register = {_IDENTITY}\n", _REGISTER_DEF, 1)


EMITTER = TorchEmitter()
