"""Support for the tests that run Keras 2 code through tf-keras and its migrated form through Keras 3.

``entries_module`` writes a module with one function per numeric check of the backend table
(``losscheck/lint/api/keras_backend.py``), in one of the import spellings people use.
``run_cases`` runs such a module in a subprocess: ``"tf_keras"`` with ``TF_USE_LEGACY_KERAS=1``
and every ``keras`` import served by ``tf_keras`` (the Keras 2 the code was written for), or
``"tensorflow"``/``"jax"``: Keras 3 on that backend. Each function gets the same float32 inputs;
the results come back as NumPy arrays (or the error a function raised).
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from losscheck.lint.api.keras_backend import REMOVED, BackendFunction

INPUTS = ("x", "y", "p", "t", "logits", "t1h", "labels", "cond", "a3", "b3", "ctc_probs", "ctc_labels",
          "ctc_input_length", "ctc_label_length")

# (import line, how a call is written: "K." / "backend." / "" for names imported from the backend)
SPELLINGS: dict[str, tuple[str | None, str]] = {
    "from keras import backend as K": ("from keras import backend as K", "K."),
    "import keras.backend as K": ("import keras.backend as K", "K."),
    "from tensorflow.keras import backend as K": ("from tensorflow.keras import backend as K", "K."),
    "import tensorflow.keras.backend as K": ("import tensorflow.keras.backend as K", "K."),
    "from keras import backend": ("from keras import backend", "backend."),
    "from keras.backend import NAME [as kNAME]": (None, ""),
}

# Entries migrated code can run: those with a fix (the others are reported, not rewritten).
FIXABLE = sorted(name for name, entry in REMOVED.items() if entry.fix is not None)


def entries_module(spelling: str, names: list[str]) -> tuple[str, dict[str, str]]:
    """The module's source and case -> kind ("values" or "distribution")."""
    import_line, prefix = SPELLINGS[spelling]
    kinds: dict[str, str] = {}
    bodies: list[str] = []
    used: set[str] = set()
    for name in names:
        entry: BackendFunction = REMOVED[name]
        for index, check in enumerate(entry.checks):
            case = f"case_{name}_{index}"
            kinds[case] = check.kind
            expression = check.keras2
            used.update(re.findall(r"\bK\.(\w+)", expression))
            expression = re.sub(r"\bK\.(\w+)", lambda m: f"{prefix}{_local(m.group(1))}" if prefix == "" else
                                f"{prefix}{m.group(1)}", expression)
            bodies.append(f"def {case}({', '.join(INPUTS)}):\n    return {expression}\n")
    if import_line is None:
        aliased = ", ".join(n if _local(n) == n else f"{n} as {_local(n)}" for n in sorted(used))
        import_line = f"from keras.backend import {aliased}"
    return f"{import_line}\n\n\n" + "\n\n".join(bodies), kinds


def _local(name: str) -> str:
    """A backend function imported by name: bare, unless that would shadow a builtin or an input."""
    clash = hasattr(builtins, name) or keyword.iskeyword(name) or name in INPUTS
    return f"k{name}" if clash else name


_RUNNER = textwrap.dedent(
    '''
    import importlib.util, os, pickle, sys

    mode, out_path, *module_paths = sys.argv[1:]
    if mode == "tf_keras":
        from losscheck.testing_tf_keras import serve_keras_from_tf_keras

        serve_keras_from_tf_keras()

    import numpy as np
    import keras

    rng = np.random.default_rng(7)
    shape = (4, 3)
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    p = rng.uniform(0.05, 0.95, size=shape)
    t = rng.integers(0, 2, size=shape).astype(float)
    labels = rng.integers(0, 3, size=(4,))
    raw = {
        "x": x, "y": y, "p": p, "t": t, "logits": x * 4.0, "t1h": np.eye(3)[labels], "labels": labels.astype("int32"),
        "cond": x > 0.5, "a3": rng.normal(size=(2, 3, 4)), "b3": rng.normal(size=(2, 4, 5)),
        "ctc_probs": rng.dirichlet(np.ones(5), size=(2, 6)),
        "ctc_labels": np.array([[1, 2, 3], [0, 1, 0]], dtype="int32"),
        "ctc_input_length": np.array([[6], [5]], dtype="int32"),
        "ctc_label_length": np.array([[3], [2]], dtype="int32"),
    }
    if mode == "tf_keras":
        import tensorflow as tf
        convert = lambda a: tf.constant(a, dtype="float32" if a.dtype.kind == "f" else a.dtype)
    else:
        convert = lambda a: keras.ops.convert_to_tensor(a, dtype="float32" if a.dtype.kind == "f" else a.dtype.name)
    inputs = {k: convert(v) for k, v in raw.items()}

    def as_array(value):
        if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
            try:
                return np.asarray(value.numpy())
            except Exception:
                pass
        if isinstance(value, (tuple, list)) or type(value).__name__ == "TensorShape":
            return np.asarray([int(v) if not hasattr(v, "shape") or v is None else np.asarray(v) for v in value])
        return np.asarray(value)

    every = {}
    for module_path in module_paths:
        stem = os.path.splitext(os.path.basename(module_path))[0]
        spec = importlib.util.spec_from_file_location(stem, module_path)
        module = importlib.util.module_from_spec(spec)
        results = every[stem] = {"__keras__": keras.__version__}
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            results["__import__"] = f"{type(exc).__name__}: {exc}"
            continue
        for name in sorted(n for n in dir(module) if n.startswith("case_")):
            try:
                results[name] = as_array(getattr(module, name)(**inputs))
            except Exception as exc:
                results[name] = f"{type(exc).__name__}: {exc}"
    with open(out_path, "wb") as fh:
        pickle.dump(every, fh)
    '''
)


def run_cases(module_paths: list[Path], mode: str, workdir: Path) -> dict[str, dict[str, Any]]:
    """Run every ``case_*`` function of the modules at ``module_paths`` under ``mode``
    ("tf_keras", "tensorflow" or "jax"), in one subprocess; module stem -> case -> array, or the
    error's text ("__import__": the module did not import; "__keras__": the Keras version)."""
    runner = workdir / "run_cases.py"
    runner.write_text(_RUNNER)
    out = workdir / f"results-{mode}.pkl"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_USE_LEGACY_KERAS", None)
    if mode == "tf_keras":
        env["TF_USE_LEGACY_KERAS"] = "1"
        env["KERAS_BACKEND"] = "tensorflow"
    else:
        env["KERAS_BACKEND"] = mode
    command = [sys.executable, str(runner), mode, str(out), *map(str, module_paths)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=workdir, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out, "rb") as fh:
        return pickle.load(fh)


def differences(original: dict[str, Any], migrated: dict[str, Any], kinds: dict[str, str], *,
                check_dtype: bool, rtol: float = 1e-5) -> dict[str, str]:
    """case -> how the migrated result differs from the original's (empty: all agree)."""
    import numpy as np

    found: dict[str, str] = {}
    for case, kind in kinds.items():
        a, b = original.get(case), migrated.get(case)
        if isinstance(a, str):
            found[case] = f"the original failed: {a}"
            continue
        if isinstance(b, str) or b is None:
            found[case] = f"the migrated code failed: {b}"
            continue
        if a.shape != b.shape:
            found[case] = f"shape {a.shape} vs {b.shape}"
            continue
        if a.dtype.kind not in "fiub" or b.dtype.kind not in "fiub":  # dtype names and the like
            if not np.array_equal(a, b):
                found[case] = f"{a!r} vs {b!r}"
            continue
        a64, b64 = a.astype("float64"), b.astype("float64")
        if kind == "distribution":
            spread = max(a64.std(), 1e-3)
            if abs(a64.mean() - b64.mean()) > 0.05 * spread or abs(a64.std() - b64.std()) > 0.05 * spread:
                found[case] = f"mean/std {a64.mean():.3f}/{a64.std():.3f} vs {b64.mean():.3f}/{b64.std():.3f}"
            continue
        if check_dtype and a.dtype != b.dtype:
            found[case] = f"dtype {a.dtype} vs {b.dtype}"
            continue
        if not np.allclose(b64, a64, rtol=rtol, atol=0.0, equal_nan=True):
            worst = float(np.max(np.abs(a64 - b64) / np.maximum(np.abs(a64), 1e-30)))
            found[case] = f"values differ (relative {worst:.3g})"
    return found


def summary(found: dict[str, str]) -> str:
    return json.dumps(found, indent=1)
