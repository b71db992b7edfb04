"""Notebooks written as real files, and the CLI run as a real process, for tests/notebooks/."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_IDS = itertools.count(1)  # cell ids, unique within a test run

IMPORTS = "import tensorflow as tf\nimport keras"
BATCH_MEAN = "def seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))"
PER_EXAMPLE = "def seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"
# LCK302 (safe fix): Keras 2 backend calls through Keras 3's keras.backend
BACKEND_IMPORTS = "import keras\nimport keras.backend as K"
BACKEND_LOSS = "def rmse(y_true, y_pred):\n    return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))"
BACKEND_FIXED = (
    "def rmse(y_true, y_pred):\n"
    "    return keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1), 0.0))"
)


def code(source: str, *, split: bool = True, outputs: list[Any] | None = None, count: int | None = None, **extra: Any) -> dict:
    return {
        "cell_type": "code",
        "execution_count": count,
        "id": extra.pop("id", f"cell-{next(_IDS)}"),
        "metadata": extra.pop("metadata", {}),
        "outputs": outputs or [],
        "source": source.splitlines(keepends=True) if split else source,
        **extra,
    }


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": f"cell-{next(_IDS)}", "metadata": {}, "source": source.splitlines(keepends=True)}


def notebook(*cells: dict, metadata: dict | None = None) -> dict:
    return {
        "cells": list(cells),
        "metadata": metadata
        if metadata is not None
        else {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def jupyter_text(nb: dict) -> str:
    """As Jupyter saves a notebook: nbformat's writer (indent 1, sorted keys) and a final newline."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def write(path: Path, nb: dict, *, style: str = "jupyter") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "jupyter":
        path.write_text(jupyter_text(nb), encoding="utf-8")
    else:  # another writer's layout: two-space indent, keys in the order given
        path.write_text(json.dumps(nb, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run(cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``losscheck ARGS`` in ``cwd``; text output unless ``stdin`` is given (then bytes)."""
    environ = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".cache-test"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "losscheck", *args],
        cwd=cwd,
        input=stdin,
        check=False,
        capture_output=True,
        text=stdin is None,
        env=environ,
        timeout=120,
    )
