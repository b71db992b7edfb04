"""probabilities-as-logits across modules: a loss that treats its prediction as logits, compiled
in another module with a model whose last layer is a softmax or sigmoid."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from project_helpers import lint_findings


MODELS = textwrap.dedent(
    """\
    from keras import layers, models

    def build_classifier(classes, final="sigmoid"):
        inputs = layers.Input((32,))
        x = layers.Dense(64, activation="relu")(inputs)
        x = layers.Dense(classes)(x)
        x = layers.Activation("sigmoid")(x)
        return models.Model(inputs, x)

    def build_linear(classes):
        return models.Sequential([layers.Dense(64, activation="relu"), layers.Dense(classes)])

    def build_softmax(classes):
        return models.Sequential([layers.Dense(64), layers.Dense(classes, activation="softmax")])

    def wrapped(classes):
        model = build_softmax(classes)
        return model
    """
)

LOSSES = textwrap.dedent(
    """\
    import tensorflow as tf
    import keras

    def focal(y_true, logits):
        probs = tf.sigmoid(logits)
        return keras.ops.mean(keras.ops.square(y_true - probs), axis=-1)

    def with_logits(y_true, y_pred):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred), axis=-1)

    def object_loss(y_true, y_pred):
        return keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(y_true, y_pred)

    def rebound(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0)
        return keras.ops.mean(keras.ops.square(y_true - tf.sigmoid(y_pred)), axis=-1)

    def probabilities(y_true, y_pred):
        return keras.losses.binary_crossentropy(y_true, y_pred)
    """
)


def make(tmp_path: Path, train: str, *, git: bool = True) -> Path:
    if git:
        (tmp_path / ".git").mkdir()
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "__init__.py").write_text("")
    (tmp_path / "nets" / "models.py").write_text(MODELS)
    (tmp_path / "losses.py").write_text(LOSSES)
    (tmp_path / "train.py").write_text(textwrap.dedent(train))
    return tmp_path / "losses.py"


def lint(path: Path) -> list[str]:
    return [f"{f.line}:{f.message.split(' (')[0]}" for f in lint_findings(path) if f.code == "LCK106"]


TRAIN = """\
from nets.models import {builder}
from losses import {loss}

model = {builder}(3)
model.compile(optimizer="adam", loss={loss})
"""


@pytest.mark.parametrize(
    "builder,loss,expected",
    [
        ("build_classifier", "focal", ["5:`focal` treats its prediction `logits` as logits"]),
        ("build_classifier", "with_logits", ["9:`with_logits` treats its prediction `y_pred` as logits"]),
        ("build_softmax", "object_loss", ["12:`object_loss` treats its prediction `y_pred` as logits"]),
        ("wrapped", "focal", ["5:`focal` treats its prediction `logits` as logits"]),  # a builder's builder
        ("build_linear", "focal", []),  # the model emits logits: right
        ("build_classifier", "probabilities", []),  # the loss takes probabilities: right
        ("build_classifier", "rebound", []),  # the prediction is rebound: not followed
    ],
)
def test_compiled_in_another_module(tmp_path: Path, builder: str, loss: str, expected: list[str]) -> None:
    assert lint(make(tmp_path, TRAIN.format(builder=builder, loss=loss))) == expected


def test_a_model_built_where_it_is_compiled(tmp_path: Path) -> None:
    train = """\
        import keras
        import losses

        model = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss=losses.focal)
    """
    found = lint(make(tmp_path, train))
    assert found == ["5:`focal` treats its prediction `logits` as logits"]


def test_the_message_says_where(tmp_path: Path) -> None:
    losses = make(tmp_path, TRAIN.format(builder="build_classifier", loss="focal"))
    (finding,) = [f for f in lint_findings(losses) if f.code == "LCK106"]
    assert "compiled with it at train.py:5 already ends in a sigmoid (nets/models.py:7)" in finding.message


def test_no_project_reads_nothing(tmp_path: Path) -> None:
    assert lint(make(tmp_path, TRAIN.format(builder="build_classifier", loss="focal"), git=False)) == []


GAN_LOSSES = textwrap.dedent(
    """\
    import tensorflow as tf

    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def disc_loss(y_true, y_pred):
        return bce(y_true, y_pred)
    """
)

GAN_MODELS = textwrap.dedent(
    """\
    from tensorflow.keras import layers, models

    def build_discriminator():
        return models.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1, activation="sigmoid")])

    def build_critic():
        return models.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1)])
    """
)

GAN_STEP = """\
import tensorflow as tf
from nets.gan import {builder}
from losses import disc_loss

disc = {builder}()


@tf.function
def step(images, labels, optimizer):
    with tf.GradientTape() as tape:
        scores = disc(images, training=True)
        loss = disc_loss(labels, scores)
    grads = tape.gradient(loss, disc.trainable_variables)
    optimizer.apply_gradients(zip(grads, disc.trainable_variables))
"""


@pytest.mark.parametrize("builder,expected", [("build_discriminator", ["6:`disc_loss` treats its prediction `y_pred` as logits"]),
                                              ("build_critic", [])])
def test_a_training_step_in_another_module(tmp_path: Path, builder: str, expected: list[str]) -> None:
    losses = make(tmp_path, GAN_STEP.format(builder=builder))
    losses.write_text(GAN_LOSSES)
    (tmp_path / "nets" / "gan.py").write_text(GAN_MODELS)
    assert lint(losses) == expected
    if expected:
        (finding,) = [f for f in lint_findings(losses) if f.code == "LCK106"]
        assert "the training step at train.py:12 passes it `scores`, which already went through a sigmoid (nets/gan.py:4)" \
            in finding.message


NET = textwrap.dedent(
    """\
    import tensorflow as tf

    class SegNet(tf.keras.Model):
        def __init__(self, classes):
            super().__init__()
            self.body = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")
            self.head = tf.keras.layers.Conv2D(classes, 1)

        def call(self, x, training=False):
            return tf.keras.activations.softmax(self.head(self.body(x)), axis=-1)

    class HeadNet(tf.keras.Model):
        def __init__(self, classes):
            super().__init__()
            self.head = tf.keras.layers.Dense(classes, activation="sigmoid")

        def call(self, x):
            return self.head(x)

    class LinearNet(tf.keras.Model):
        def __init__(self, classes):
            super().__init__()
            self.head = tf.keras.layers.Dense(classes)

        def call(self, x):
            return self.head(x)
    """
)

PARTIAL = textwrap.dedent(
    """\
    import tensorflow as tf

    def segmentation_loss(predict, target):
        flat = tf.reshape(predict, [tf.shape(predict)[0], -1, predict.shape[-1]])
        labels = tf.reshape(target, [tf.shape(predict)[0], -1, predict.shape[-1]])
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=flat, labels=labels))
    """
)

RUN = """\
import tensorflow as tf
from losses import segmentation_loss


def train(model, dataset, optimizer):
    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            out = model(images, training=True)
            loss = segmentation_loss(out, labels)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for images, labels in dataset:
        step(images, labels)
"""

MAIN = """\
import tensorflow as tf
from nets.net import {model}
from run import train

train({model}(3), None, tf.keras.optimizers.Adam())
"""


@pytest.mark.parametrize("model,expected", [
    ("SegNet", ["6:`segmentation_loss` treats its prediction `predict` as logits"]),
    ("HeadNet", ["6:`segmentation_loss` treats its prediction `predict` as logits"]),
    ("LinearNet", []),  # the subclass ends in a linear layer: logits, right
])
def test_a_model_subclass_passed_to_the_training_function(tmp_path: Path, model: str, expected: list[str]) -> None:
    """`partial(predict, target)` (prediction first: a custom loop's loss) called in a training
    step on `model(images)`, where `model` is a parameter that another module fills with a
    `Model` subclass whose `call` ends in a softmax or sigmoid."""
    losses = project(tmp_path, {"nets/net.py": NET, "losses.py": PARTIAL, "run.py": RUN,
                                "main.py": MAIN.format(model=model)})
    assert lint(losses) == expected
    if expected:
        (finding,) = [f for f in lint_findings(losses) if f.code == "LCK106"]
        assert "the training step at run.py:10 passes it `out`" in finding.message


def project(root: Path, files: dict[str, str]) -> Path:
    """A project (a `.git` folder, a `nets` package) holding ``files``; its `losses.py`."""
    (root / ".git").mkdir()
    (root / "nets").mkdir()
    (root / "nets" / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(text)
    return root / "losses.py"


CUSTOM_NET = textwrap.dedent(
    """\
    import tensorflow as tf
    from nets import layers_wn

    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers_wn.Dense(64, activation=tf.nn.relu)
            self.out = layers_wn.Dense(10, activation=tf.nn.softmax)

        def call(self, x):
            return self.out(self.hidden(x))

    class LinearNet(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.out = layers_wn.Dense(10)

        def call(self, x):
            return self.out(x)
    """
)

SUPERVISED = textwrap.dedent(
    """\
    import tensorflow as tf

    def supervised_loss(images, labels, model):
        scores = model(images)
        return tf.losses.softmax_cross_entropy(labels, scores)

    def gradients(images, labels, model):
        with tf.GradientTape() as tape:
            loss = supervised_loss(images, labels, model)
        return tape.gradient(loss, model.variables)
    """
)

TRAIN_WITH = """\
from nets.custom import {model}
from losses import gradients

model = {model}()
for images, labels in []:
    grads = gradients(images, labels, model)
"""


@pytest.mark.parametrize("model,expected", [
    ("Net", ["5:`scores` holds values that are already probabilities"]),
    ("LinearNet", []),
])
def test_a_model_parameter_called_in_the_loss(tmp_path: Path, model: str, expected: list[str]) -> None:
    """`scores = model(images)` with `model` a parameter that an in-file function passes on and
    another module fills with a `Model` subclass ending in a layer of the project's own whose
    `activation=` is a softmax."""
    losses = project(tmp_path, {"nets/layers_wn.py": "class Dense:\n    pass\n", "nets/custom.py": CUSTOM_NET,
                                "losses.py": SUPERVISED, "train.py": TRAIN_WITH.format(model=model)})
    assert lint(losses) == expected
    if expected:
        (finding,) = [f for f in lint_findings(losses) if f.code == "LCK106"]
        assert "(a softmax, nets/custom.py:8)" in finding.message


GAN_HELPERS = textwrap.dedent(
    """\
    import tensorflow as tf

    def discriminator_loss(cross_entropy, real_output, fake_output):
        real = cross_entropy(tf.ones_like(real_output), real_output)
        fake = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real + fake

    def rebinding_loss(cross_entropy, real_output):
        real_output = tf.math.log(real_output / (1 - real_output))  # back to logits
        return cross_entropy(tf.ones_like(real_output), real_output)
    """
)

GAN_TRAINER = """\
import tensorflow as tf
from nets.gan import {builder}
from gan_losses import {helper}

bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)


@tf.function
def train_step(images, optimizer):
    with tf.GradientTape() as tape:
        real_output = discriminator(images, training=True)
        loss = {helper}(bce, real_output{more})
    grads = tape.gradient(loss, discriminator.trainable_variables)
    optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))


discriminator = {builder}()
"""


@pytest.mark.parametrize("builder,helper,more,expected", [
    ("build_discriminator", "discriminator_loss", ", real_output", ["12:`real_output` holds values that are already probabilities", "12:`real_output` holds values that are already probabilities"]),
    ("build_critic", "discriminator_loss", ", real_output", []),  # a linear critic: logits
    ("build_discriminator", "rebinding_loss", "", []),  # the helper turns them back into logits
])
def test_a_from_logits_loss_handed_to_a_helper(tmp_path: Path, builder: str, helper: str, more: str,
                                               expected: list[str]) -> None:
    """A training step hands a `from_logits=True` Loss object and a model's sigmoid output to a
    helper of another module, which calls the one on the other; the model comes from a builder of
    a third module, assigned at module level after the step."""
    project(tmp_path, {"nets/gan.py": GAN_MODELS, "gan_losses.py": GAN_HELPERS,
                       "trainer.py": GAN_TRAINER.format(builder=builder, helper=helper, more=more)})
    trainer = tmp_path / "trainer.py"
    assert lint(trainer) == expected
    if expected:
        finding = next(f for f in lint_findings(trainer) if f.code == "LCK106")
        assert "(a sigmoid, nets/gan.py:4)" in finding.message
        assert f"`tf.keras.losses.BinaryCrossentropy(from_logits=True) in {helper}()`" in finding.message


DISCRIMINATOR_MODULE = textwrap.dedent(
    """\
    import tensorflow as tf

    class Discriminator:
        def run(self, x):
            hidden = tf.layers.dense(x, 1)
            out = tf.nn.{final}(hidden, name="d")
            return out
    """
)

GAN = textwrap.dedent(
    """\
    import tensorflow as tf
    from nets.discriminator import Discriminator

    class Gan:
        def __init__(self, images):
            discriminator = Discriminator()
            self.d_real = discriminator.run(images)
            self.loss = tf.nn.sigmoid_cross_entropy_with_logits(logits=self.d_real, labels=tf.ones_like(self.d_real))
    """
)


@pytest.mark.parametrize("final,expected", [
    ("sigmoid", ["8:`self.d_real` holds values that are already probabilities (a sigmoid, nets/discriminator.py:6)"]),
    ("relu", []),
])
def test_a_method_of_an_instance_of_a_class_of_another_module(tmp_path: Path, final: str, expected: list[str]) -> None:
    """`discriminator.run(images)` where `Discriminator` comes from another module of the project
    and its `run` returns a sigmoid."""
    gan = project(tmp_path, {"nets/discriminator.py": DISCRIMINATOR_MODULE.format(final=final), "losses.py": GAN})
    found = [f"{f.line}:{f.message}" for f in lint_findings(gan) if f.code == "LCK106"]
    assert [m[: len(e)] for m, e in zip(found, expected)] == expected and len(found) == len(expected)


GAN_MODEL = textwrap.dedent(
    """\
    import tensorflow as tf
    from nets.discriminator import Discriminator

    class Gan(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.disc = Discriminator()

        def compile(self, optimizer, loss_fn):
            super().compile()
            self.loss_fn = loss_fn

        def train_step(self, data):
            images, labels = data
            scores = self.disc.run(images)
            return {"loss": self.loss_fn(labels, scores)}
    """
)

TRAIN_GAN = """\
import tensorflow as tf
from losses import Gan

gan = Gan()
gan.compile(optimizer=tf.keras.optimizers.Adam(), loss_fn=tf.keras.losses.BinaryCrossentropy({from_logits}))
"""


@pytest.mark.parametrize("from_logits,expected", [
    ("from_logits=True", ["16:`scores` holds values that are already probabilities (a sigmoid, nets/discriminator.py:6)"
                          " and is passed as logits to `self.loss_fn` (`tf.keras.losses.BinaryCrossentropy("
                          "from_logits=True)`, given by `gan.compile(...)` at train.py:5)"]),
    ("", []),
])
def test_a_loss_given_to_a_custom_compile_in_another_module(tmp_path: Path, from_logits: str,
                                                             expected: list[str]) -> None:
    """`gan.compile(loss_fn=...)` in a training script, kept by the model's own `compile()` and
    called in its `train_step` on what the discriminator (a class of a third module) returns."""
    gan = project(tmp_path, {"nets/discriminator.py": DISCRIMINATOR_MODULE.format(final="sigmoid"),
                             "losses.py": GAN_MODEL, "train.py": TRAIN_GAN.format(from_logits=from_logits)})
    found = [f"{f.line}:{f.message}" for f in lint_findings(gan) if f.code == "LCK106"]
    assert [m[: len(e)] for m, e in zip(found, expected)] == expected and len(found) == len(expected)
