"""losscheck-torch: PyTorch support for losscheck, as a plugin (plugin API 1).

- ``losscheck_torch.rules``: a rule pack (codes LTH1xx / LTH2xx) for PyTorch loss code.
- ``losscheck_torch.emitter``: ``framework: "torch"`` for ``losscheck gen``.

Neither imports torch: only the generated module does.
"""

PLUGIN_API = 1
__version__ = "0.1.0"
