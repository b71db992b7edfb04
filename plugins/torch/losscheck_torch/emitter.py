"""``framework: "torch"``: the layout's losses as PyTorch code (``torch`` + ``torch.nn.functional``).

The generated module has the same shape as the Keras one (spec layout-v1: ``LOSSES``,
``LOSS_WEIGHTS``, ``TASK_LOSSES``, ``pack_targets``) and the same per-example semantics: each
function takes ``(y_true, y_pred)`` for one whole output, in the output's own layout (channels
first where ``channel_axis`` is 1), and returns one value per example, shape ``(B,)``.

It is built on the core's :class:`SourceEmitter`, so the slicing, masking and term structure
are the very code the Keras emitter runs; this module only gives the PyTorch spelling of each
op. The helpers are real functions in ``helpers.py``, copied in verbatim: their formulas follow
Keras 3's (TensorFlow backend) to the letter -- the same epsilon (1e-7) and clipping for
probabilities, the same normalisation of categorical probabilities -- so both modules give the
same numbers (tests/plugins/test_torch_emitter.py, tests/plugins/test_torch_helpers.py).

Adapted to PyTorch:
- ``pack_targets`` returns a ``torch.Tensor`` (it accepts NumPy arrays or tensors);
- ``total_loss(y_true, y_pred, sample_weight=None)`` does what Keras does after the losses:
  per output, weight each example, average over the batch, and sum with ``LOSS_WEIGHTS``.

Nothing here imports torch: the emitter writes text; only the generated module imports torch.
"""

from __future__ import annotations

from pathlib import Path

from losscheck.gen.emitters._copy import function_text, function_text_as
from losscheck.gen.emitters._source import SourceEmitter, spell_ops
from losscheck.gen.helpers import COMMON
from losscheck.gen.plan import Plan

PLUGIN_API = 1
# The functions generated modules are made of (read as text: nothing here imports torch).
HELPERS = Path(__file__).with_name("helpers.py")


class TorchEmitter(SourceEmitter):
    """Emits a PyTorch module for a layout (``losscheck gen layout.json --framework torch``)."""

    framework = "torch"
    imports = ("import torch", "import torch.nn.functional as F")  # NumPy: in pack_targets only
    HELPER_FILES = (COMMON, HELPERS)
    USAGE = (
        "Use:\n"
        "``loss = total_loss({name: pack_targets(name, targets) for name in LOSSES}, preds)``\n"
        "where ``preds`` maps output names to the model's tensors, then ``loss.backward()``.\n"
        "Every function in LOSSES and TASK_LOSSES returns one value per example, shape\n"
        "(batch,); ``total_loss`` weights the examples, averages over the batch and applies\n"
        "LOSS_WEIGHTS.\n"
    )
    OPS = spell_ops(
        "torch",
        axis="dim",
        # no not_equal: an ignore_value is tested as "no channel equals it", whatever the count
        renamed={"equal": "eq", "not_equal": None},
        spelled={
            "cast": "{0}.to({1})",
            "transpose": "{0}.permute{1}",
            "take_last": "{0}[..., {1}]",
            "fill_like": "{1}",  # torch.where takes a Python number and keeps the tensor's dtype
            "one_hot": "F.one_hot({0}[..., 0].long(), {1}).to(y_pred.dtype)",
        },
    )

    def register_statement(self, package: str) -> str:
        # PyTorch has no serialization registry for functions: the decorator is the identity,
        # a def (not a lambda) so the module reads cleanly under flake8 too.
        return function_text(HELPERS, "_lc_register")

    def pack_targets(self, plan: Plan) -> str:
        # NumPy's pack_targets packs; the module's own wraps it to take and return tensors
        return "\n\n\n".join([
            self.packing_table(plan),
            function_text_as(COMMON, "pack_targets", "_lc_pack_numpy"),
            function_text(HELPERS, "pack_targets"),
            function_text(HELPERS, "total_loss"),
        ])


EMITTER = TorchEmitter()
