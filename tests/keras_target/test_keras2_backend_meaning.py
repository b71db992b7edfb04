"""In a project written for Keras 2, removed-keras-api is silent while every other rule still
reads `K.*` calls with their Keras 2 meaning (the API tables: `K.argmax`'s default axis is -1,
`K.binary_crossentropy` is element-wise, `K.mean` without an axis reduces every axis).

Real lint runs (settings, plan, runner) of a module in a small repository whose pin decides the
target; the same module pinned to Keras 3 draws the same findings plus removed-keras-api's.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from target_helpers import project

from losscheck.lint import config as cfg
from losscheck.lint import runner

MODULE = textwrap.dedent(
    """\
    import numpy as np
    import keras
    import keras.backend as K


    def seg_loss(y_true, y_pred):
        return K.mean(K.binary_crossentropy(y_true, y_pred))


    def over_the_batch(y_true, y_pred):
        return K.mean(K.square(y_pred - y_true), axis=0)


    def with_numpy(y_true, y_pred):
        return K.mean(np.square(y_true - y_pred), axis=-1)


    def per_example_bce(y_true, y_pred):
        return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


    def accuracy(y_true, y_pred):
        return K.cast(K.equal(K.argmax(y_true), K.argmax(y_pred)), K.floatx())


    def accuracy_ops(y_true, y_pred):
        return keras.ops.cast(keras.ops.equal(keras.ops.argmax(y_true), keras.ops.argmax(y_pred)), "float32")
    """
)

# (code, line) of what the other rules find, whatever the target
KERAS2_MEANING = [
    ("LCK101", 7),  # K.mean with no axis reduces the batch axis too
    ("LCK101", 11),  # K.mean(..., axis=0)
    ("LCK201", 15),  # NumPy on a tensor
    ("LCK102", 27),  # keras.ops.argmax without an axis flattens the batch ...
    ("LCK102", 27),
]
# ... while K.argmax (default axis -1) on line 23 and the element-wise K.binary_crossentropy
# averaged over the last axis on line 19 are per-example code and draw nothing.


def findings(tmp_path: Path, requirements: str) -> list[tuple[str, int]]:
    module = project(tmp_path, {"requirements.txt": requirements}, loss_at="loss.py", source=MODULE)
    settings = cfg.build_settings([str(module)], overrides={"cache_dir": str(tmp_path / ".cache")})
    result = runner.run([str(module)], runner.plan(settings, use_cache=False), use_cache=False)
    return sorted((f.code, f.line) for f in result.findings)


def test_keras2_target_other_rules_read_the_backend_calls(tmp_path: Path) -> None:
    assert findings(tmp_path, "keras<3\n") == sorted(KERAS2_MEANING)


def test_keras3_target_adds_removed_keras_api_and_changes_nothing_else(tmp_path: Path) -> None:
    found = findings(tmp_path, "keras>=3\n")
    assert [f for f in found if f[0] != "LCK302"] == sorted(KERAS2_MEANING)
    removed_lines = {line for code, line in found if code == "LCK302"}
    assert removed_lines == {7, 11, 15, 19, 23}  # every line that calls a removed backend function


@pytest.mark.parametrize("line", [19, 23])
def test_the_per_example_keras2_code_is_clean_under_both_targets(tmp_path: Path, line: int) -> None:
    for index, requirements in enumerate(("keras<3\n", "keras>=3\n")):
        found = findings(tmp_path / str(index), requirements)
        assert [f for f in found if f[1] == line and f[0] != "LCK302"] == []
