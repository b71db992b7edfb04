"""Run Keras 2 code on tf-keras in a process of its own: ``import keras`` (and ``keras.*``) is
served by ``tf_keras``, the Keras 2 such code was written for.

For the tests and benchmarks that compare a Keras 2 function (run here) with its Keras 3
rewrite (run in another process). Never imported by ``losscheck lint``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType


class _KerasIsTfKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "keras" or name.startswith("keras."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec) -> ModuleType:  # type: ignore[no-untyped-def]
        rest = spec.name[len("keras"):]
        for base in ("tf_keras", "tf_keras.src"):
            try:
                return importlib.import_module(base + rest)
            except ImportError:
                pass
        raise ImportError(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        pass


def serve_keras_from_tf_keras() -> None:
    """From now on in this process, ``import keras...`` gives the tf_keras module of that name."""
    sys.meta_path.insert(0, _KerasIsTfKeras())
