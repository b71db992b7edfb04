"""Loading a generated module from its file: for the tests (through ``gen_helpers.import_file``)
and for the scripts that run one in a process of their own (``additions_backend_run.py``,
``tf_keras_additions_run.py``, ``variable_weights_fit.py``), which import it from their folder."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def load_module(path: str, name: str) -> ModuleType:
    """The module in ``path``, registered in ``sys.modules`` as an import would register it
    (``torch.compile`` looks a function's globals up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
