"""The rest of a project decides the Keras target when the config, the pins and the file's own
imports do not: Keras 2-only APIs in any file say Keras 2, Keras 3-only APIs anywhere say Keras 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from target_helpers import LOSS, lint, project

from losscheck.lint import config as cfg
from losscheck.lint import keras_project, keras_target
from losscheck.lint import project as project_files

REPORTED = ["5:12", "5:19", "5:26"]  # K.sqrt, K.mean, K.square in LOSS


@pytest.mark.parametrize(
    "train,expected",
    [
        ("model.fit_generator(batches, steps_per_epoch=10)\n", "2"),
        ("history = model.predict_generator(gen)\n", "2"),
        ("from keras.optimizers import Adam\nopt = Adam(lr=1e-3)\n", "2"),
        ("opt = keras.optimizers.SGD(0.1, momentum=0.9,\n    lr=0.01)\n", "2"),
        ("import tensorflow as tf\nsess = tf.Session()\n", "2"),
        ("import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 3])\n", "2"),
        ("from keras.layers.core import Dense\n", "2"),
        ("from tensorflow.python.keras.engine.base_layer import Layer\n", "2"),
        ("model.fit(x, y, nb_epoch=3)\n", "2"),
        ("import tensorflow as tf\nimport tensorflow_addons as tfa\nopt = tfa.optimizers.AdamW(1e-4, 1e-3)\n", "2"),
        # what Keras 3 has too: no evidence
        ("model.fit(x, y, epochs=3)\n", "3"),
        ("opt = Adam(learning_rate=1e-3)\n", "3"),
        ("# model.fit_generator(gen) is gone: use fit\n", "3"),  # a comment is not evidence
        ("lr = 0.1\nschedule(lr=lr)\n", "3"),
        # PyTorch's optimizers take `lr`, and a PyTorch docstring may cite TensorFlow 1
        ("import torch, keras\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n", "3"),
        ('class Attention:\n    """As in tf.contrib.seq2seq.BahdanauAttention."""\n', "3"),
    ],
)
def test_other_files_decide(tmp_path: Path, train: str, expected: str) -> None:
    module = project(tmp_path, {"train.py": train}, loss_at="loss.py")
    assert lint(module) == ([] if expected == "2" else REPORTED)
    rows = keras_target.describe([str(module)], cfg.build_settings([str(module)]), where="")
    assert rows[0]["target"] == expected
    if expected == "2":
        assert rows[0]["source"] == "project" and "train.py:" in rows[0]["reason"]


def test_keras3_evidence_anywhere_wins(tmp_path: Path) -> None:
    files = {"train.py": "model.fit_generator(batches)\n", "new/layers.py": "from keras import ops\n"}
    module = project(tmp_path, files, loss_at="loss.py")
    assert lint(module) == REPORTED
    rows = keras_target.describe([str(module)], cfg.build_settings([str(module)]), where="")
    assert rows[0]["source"] == "project" and "new/layers.py:1" in rows[0]["reason"]


def test_pins_and_the_files_own_imports_come_first(tmp_path: Path) -> None:
    module = project(tmp_path, {"train.py": "model.fit_generator(g)\n", "requirements.txt": "keras>=3\n"},
                     loss_at="loss.py")
    assert lint(module) == REPORTED  # the pin decides
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert lint(module) == []


def test_backend_calls_are_not_evidence(tmp_path: Path) -> None:
    """A project is not Keras 2 because it calls what removed-keras-api reports."""
    module = project(tmp_path, {"metrics.py": "import keras.backend as K\nK.get_session()\nK.mean(x)\n"},
                     loss_at="loss.py")
    assert lint(module) == REPORTED


def test_no_project_no_scan(tmp_path: Path) -> None:
    """Without `.git` or a dependency file above the file, nothing around it is read."""
    (tmp_path / "train.py").write_text("model.fit_generator(g)\n")
    module = tmp_path / "loss.py"
    module.write_text(LOSS)
    assert project_files.project_root(str(tmp_path)) is None
    assert lint(module) == REPORTED


def test_isolated_reads_no_project_file(tmp_path: Path) -> None:
    module = project(tmp_path, {"train.py": "model.fit_generator(g)\n"}, loss_at="loss.py")
    assert lint(module) == []
    assert lint(module, isolated=True) == REPORTED


def test_hidden_folders_and_virtual_environments_are_skipped(tmp_path: Path) -> None:
    files = {
        ".tox/old/train.py": "model.fit_generator(g)\n",
        "venv/lib/site.py": "model.fit_generator(g)\n",
        "venv/pyvenv.cfg": "home = /usr\n",
        "node_modules/x.py": "model.fit_generator(g)\n",
    }
    module = project(tmp_path, files, loss_at="loss.py")
    assert lint(module) == REPORTED


@pytest.mark.parametrize(
    "source,expected",
    [
        ('["x = 1  # a comment\\n", "model.fit_generator(train_gen)\\n"]', "2"),
        ('["from keras.layers.core import Dense\\n"]', "2"),
        ('["x = 1\\n", "# model.fit_generator(train_gen)\\n"]', "3"),
    ],
)
def test_notebooks_count(tmp_path: Path, source: str, expected: str) -> None:
    """A notebook is JSON on one line: its code lines end with an escaped newline."""
    cell = '{"cells": [{"cell_type": "code", "source": ' + source + "}]}"
    module = project(tmp_path, {"Train.ipynb": cell}, loss_at="src/loss.py")
    assert lint(module) == ([] if expected == "2" else REPORTED)


def test_bounded_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"m{i:02}.py": "x = 1\n" for i in range(20)}
    files["z_train.py"] = "model.fit_generator(g)\n"
    module = project(tmp_path, files, loss_at="loss.py")
    monkeypatch.setattr(project_files, "MAX_FILES", 5)
    keras_project.clear()
    assert keras_project.scan(str(tmp_path)).keras is None  # judged on the first five files
    monkeypatch.setattr(project_files, "MAX_FILES", 50)
    keras_project.clear()
    assert keras_project.scan(str(tmp_path)).keras == "2"
    del module


def test_cache_follows_the_project_verdict(tmp_path: Path) -> None:
    module = project(tmp_path, {"train.py": "model.fit_generator(g)\n"}, loss_at="loss.py")
    assert lint(module, use_cache=True) == []
    (tmp_path / "train.py").write_text("model.fit(g)\n")
    assert lint(module, use_cache=True) == REPORTED
    (tmp_path / "extra.py").write_text("from keras.optimizers import Adam\nopt = Adam(lr=0.1)\n")
    assert lint(module, use_cache=True) == []
