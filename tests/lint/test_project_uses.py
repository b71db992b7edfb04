"""Losses used only in custom training loops of other modules: batch-mean-reduction and the
output-indexing checks rest on Keras calling the loss, and do not apply to them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from project_helpers import lint_findings

from losscheck.lint import project_uses

LOSSES = textwrap.dedent(
    """\
    import tensorflow as tf

    def gan_loss(y_true, y_pred):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred))

    class HeadsLoss(tf.keras.losses.Loss):
        def call(self, y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred[0])) + tf.reduce_mean(tf.abs(y_true - y_pred[1]))
    """
)

LOOP = textwrap.dedent(
    """\
    import tensorflow as tf
    from training import losses

    def train(model, data, optimizer):
        heads = losses.HeadsLoss()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                out = model(x)
                value = losses.gan_loss(y, out) + heads(y, out)
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        for x, y in data:
            step(x, y)
    """
)

COMPILED = textwrap.dedent(
    """\
    from training.losses import gan_loss, HeadsLoss

    def build(model):
        model.compile(optimizer="adam", loss=gan_loss, metrics=[HeadsLoss()])
    """
)


def make(tmp_path: Path, others: dict[str, str], *, git: bool = True) -> Path:
    if git:
        (tmp_path / ".git").mkdir()
    (tmp_path / "training").mkdir()
    module = tmp_path / "training" / "losses.py"
    module.write_text(LOSSES)
    for name, text in others.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return module


def lint(path: Path, *, isolated: bool = False, use_cache: bool = False) -> list[str]:
    found = lint_findings(path, isolated=isolated, use_cache=use_cache)
    return sorted(f"{f.code}@{f.line}" for f in found if f.code in ("LCK101", "LCK102", "LCK103"))


KERAS_FINDINGS = ["LCK101@4", "LCK101@8", "LCK102@8", "LCK102@8"]


def test_used_only_in_a_training_loop(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP})
    assert lint(module) == []


def test_compiled_elsewhere_is_reported(tmp_path: Path) -> None:
    module = make(tmp_path, {"build.py": COMPILED})
    assert lint(module) == KERAS_FINDINGS


def test_a_loop_and_a_compile_is_reported(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP, "build.py": COMPILED})
    assert lint(module) == KERAS_FINDINGS


@pytest.mark.parametrize(
    "other",
    [
        # module level: may be handed to compile anywhere
        "from training.losses import gan_loss, HeadsLoss\nLOSS = gan_loss\nHEADS = HeadsLoss()\n",
        # a function without a tape
        "import training.losses as L\n\ndef pick():\n    return L.gan_loss, L.HeadsLoss\n",
        # a tape and a compile in the same function
        ("from training import losses\n\ndef both(m, tf):\n    m.compile(loss=losses.gan_loss)\n"
         "    h = losses.HeadsLoss()\n    with tf.GradientTape() as t:\n        pass\n"),
    ],
)
def test_other_uses_are_reported(tmp_path: Path, other: str) -> None:
    module = make(tmp_path, {"train.py": LOOP, "other.py": other})
    assert lint(module) == KERAS_FINDINGS


def test_no_uses_at_all_is_reported(tmp_path: Path) -> None:
    assert lint(make(tmp_path, {"README.py": "print('losses')\n"})) == KERAS_FINDINGS


def test_without_a_project_nothing_is_read(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP}, git=False)
    assert lint(module) == KERAS_FINDINGS


def test_isolated_reads_no_other_module(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP})
    assert lint(module, isolated=True) == KERAS_FINDINGS


def test_a_broken_module_is_skipped(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP, "broken.py": "from training import losses\ndef (:\n"})
    assert lint(module) == []


def test_the_cache_follows_the_other_modules(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP})
    assert lint(module, use_cache=True) == []
    (tmp_path / "build.py").write_text(COMPILED)
    assert lint(module, use_cache=True) == KERAS_FINDINGS
    (tmp_path / "build.py").unlink()
    assert lint(module, use_cache=True) == []


def test_uses_say_where(tmp_path: Path) -> None:
    module = make(tmp_path, {"train.py": LOOP, "build.py": COMPILED})
    uses = project_uses.uses_of(str(module), str(tmp_path))
    assert uses["gan_loss"].loop == ("train.py:11",)
    assert uses["gan_loss"].compiled == ("build.py:4",)
    assert uses["HeadsLoss"].loop == ("train.py:5",) and uses["HeadsLoss"].compiled == ("build.py:4",)
    assert not uses["gan_loss"].loop_only


def test_other_modules_are_read_only_for_a_loss_with_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from losscheck.lint import project

    module = make(tmp_path, {"train.py": LOOP})
    module.write_text("import tensorflow as tf\n\ndef per_example(y_true, y_pred):\n"
                      "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n")
    reads: list[str] = []
    real = project.importers

    def counting(root: str) -> dict[str, tuple[str, ...]]:
        reads.append(root)
        return real(root)

    counting.cache_clear = real.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(project, "importers", counting)
    assert lint(module) == []
    assert reads == []
    module.write_text(LOSSES)
    assert lint(module) == []  # the loop-only uses are read now
    assert reads


def test_the_import_index(tmp_path: Path) -> None:
    from losscheck.lint import project

    (tmp_path / "a.py").write_text("from pkg.losses import (\n    dice,\n    focal,\n)\nimport numpy as np\n")
    (tmp_path / "b.py").write_text("x = 'from losses import dice'  # not at the start of a line\n")
    index = project.importers(str(tmp_path))
    assert index["losses"] == index["focal"] == index["np"] == (str(tmp_path / "a.py"),)
    assert "dice" in index and str(tmp_path / "b.py") not in index["dice"]


METRIC_NAMED = textwrap.dedent(
    """\
    from keras import backend as K

    def iou(y_true, y_pred, eps=1e-6):
        inter = K.sum(y_true * y_pred, axis=[1, 2, 3])
        union = K.sum(y_true + y_pred, axis=[1, 2, 3]) - inter
        return -K.mean((inter + eps) / (union + eps), axis=0)
    """
)


@pytest.mark.parametrize(
    "compile_call,expected",
    [
        ("model.compile(optimizer='adam', loss=iou)", ["LCK101@6"]),
        ("model.compile('adam', iou)", ["LCK101@6"]),
        ("model.compile(optimizer='adam', loss='bce', metrics=[iou])", []),  # a metric may reduce the batch
        ("print(iou)", []),
    ],
)
def test_a_metric_by_its_name_compiled_as_the_loss(tmp_path: Path, compile_call: str, expected: list[str]) -> None:
    module = make(tmp_path, {"train.py": f"from training.losses import iou\n\ndef build(model):\n    {compile_call}\n"})
    module.write_text(METRIC_NAMED)
    assert lint(module) == expected


NUMPY_METRIC = textwrap.dedent(
    """\
    import numpy as np
    import tensorflow as tf

    def mean_dice(y_true, y_pred, labels=3):
        t = y_true.numpy()
        p = y_pred.numpy()
        return np.sum(t * p) / labels
    """
)


TRACED = ["LCK201@5", "LCK201@6", "LCK201@7"]


@pytest.mark.parametrize(
    "uses,expected",
    [
        # every compile runs it eagerly: the metric gets eager tensors and needs no gradient
        (["model.compile(loss='bce', metrics=[mean_dice], run_eagerly=True)"], []),
        (["model = load_model(path, custom_objects={'mean_dice': mean_dice})",
          "model.compile('adam', 'bce', [mean_dice], run_eagerly=True)"], []),
        # a traced compile, or a loss
        (["model.compile(loss='bce', metrics=[mean_dice])"], TRACED),
        (["model.compile(loss='bce', metrics=[mean_dice], run_eagerly=True)",
          "model.compile(loss='bce', metrics=[mean_dice])"], TRACED),
        (["model.compile(loss=mean_dice, run_eagerly=True)"], TRACED),
        (["model.compile(loss='bce', metrics=[mean_dice], run_eagerly=eager)"], TRACED),
        (["model.compile(loss='bce', metrics=[mean_dice], run_eagerly=True)", "score = mean_dice"],
         TRACED),
    ],
)
def test_a_numpy_metric_compiled_only_eagerly(tmp_path: Path, uses: list[str], expected: list[str]) -> None:
    body = "".join(f"    {line}\n" for line in uses)
    module = make(tmp_path, {"train.py": f"from training.losses import mean_dice\n\ndef build(model, path, eager):\n{body}"})
    module.write_text(NUMPY_METRIC)
    found = lint_findings(module)
    assert sorted(f"{f.code}@{f.line}" for f in found if f.code == "LCK201") == expected


def test_the_cache_follows_run_eagerly(tmp_path: Path) -> None:
    traced = "from training.losses import mean_dice\n\ndef build(model):\n    model.compile(loss='bce', metrics=[mean_dice]{})\n"
    module = make(tmp_path, {"train.py": traced.format("")})
    module.write_text(NUMPY_METRIC)
    codes = lambda: sorted(f"{f.code}@{f.line}" for f in lint_findings(module, use_cache=True) if f.code == "LCK201")  # noqa: E731
    assert codes() == TRACED
    (tmp_path / "train.py").write_text(traced.format(", run_eagerly=True"))
    assert codes() == []


def _notebook(*cells: str) -> str:
    import json

    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": cell.splitlines(keepends=True)} for cell in cells],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5,
    })


def test_a_notebook_that_uses_the_loss_in_a_training_loop(tmp_path: Path) -> None:
    notebook = _notebook(
        "import tensorflow as tf\nfrom training import losses\n%matplotlib inline\n",
        "@tf.function\ndef step(x, y):\n    with tf.GradientTape() as tape:\n"
        "        value = losses.gan_loss(y, model(x)) + losses.HeadsLoss()(y, model(x))\n"
        "    return tape.gradient(value, model.trainable_variables)\n",
        "def evaluate(x, y):\n    return losses.gan_loss(y, model(x))\n",  # a direct call: not Keras's
    )
    module = make(tmp_path, {"train.ipynb": notebook})
    assert lint(module) == []
    uses = project_uses.uses_of(str(module), str(tmp_path))
    assert uses["gan_loss"].loop == ("train.ipynb:cell 2:4",) and uses["gan_loss"].called == ("train.ipynb:cell 3:2",)
    assert uses["gan_loss"].loop_only


def test_a_notebook_that_compiles_the_loss(tmp_path: Path) -> None:
    notebook = _notebook("from training.losses import gan_loss, HeadsLoss\n",
                         "model.compile(optimizer='adam', loss=gan_loss, metrics=[HeadsLoss()])\n")
    module = make(tmp_path, {"train.py": LOOP, "build.ipynb": notebook})
    assert lint(module) == KERAS_FINDINGS
