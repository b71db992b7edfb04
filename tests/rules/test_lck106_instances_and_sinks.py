"""LCK106 probabilities-as-logits: what a method of an instance returns, and the calls besides the
crossentropies that take logits (sequence losses, TensorFlow Probability's distributions)."""

from __future__ import annotations

import textwrap

import pytest

from losscheck.lint.engine import lint_source
from losscheck.lint.rules.lck106_probabilities_as_logits import ProbabilitiesAsLogits


def lck106(source: str) -> list[tuple[int, str]]:
    found = lint_source(textwrap.dedent(source), "t.py", rules=[ProbabilitiesAsLogits])
    return [(f.line, f.message) for f in found if f.code == "LCK106"]


DISCRIMINATOR = """\
import tensorflow as tf


class Discriminator:
    def run(self, x):
        hidden = tf.layers.dense(x, 1)
        out = tf.nn.{final}(hidden)
        return out


class Gan:
    def __init__(self, images):
        {made}
        self.d_real = {use}.run(images)
        self.loss = tf.nn.sigmoid_cross_entropy_with_logits(logits=self.d_real, labels=tf.ones_like(self.d_real))
"""


@pytest.mark.parametrize("made,use", [
    ("discriminator = Discriminator()", "discriminator"),
    ("self.disc = Discriminator()", "self.disc"),
])
def test_a_method_of_an_instance_that_returns_a_sigmoid(made: str, use: str) -> None:
    ((line, message),) = lck106(DISCRIMINATOR.format(final="sigmoid", made=made, use=use))
    assert line == 15 and "a sigmoid, line 7" in message
    assert "from_logits" not in message  # the function takes logits by its nature


def test_a_method_that_returns_logits_is_fine() -> None:
    assert lck106(DISCRIMINATOR.format(final="relu", made="d = Discriminator()", use="d")) == []


def test_a_method_of_a_class_nothing_shows_is_not_guessed() -> None:
    source = DISCRIMINATOR.format(final="sigmoid", made="d = make_discriminator()", use="d")
    assert lck106(source) == []


def test_a_method_of_another_name_is_not_followed() -> None:
    source = DISCRIMINATOR.format(final="sigmoid", made="d = Discriminator()", use="d").replace(".run(images)", ".score(images)")
    assert lck106(source) == []


SEQUENCE = """\
import tensorflow as tf
import tensorflow_addons as tfa


class Decoder:
    def build(self, x):
        self.logits = tf.nn.softmax(tf.matmul(x, self.w))

    def set_loss(self, weights):
        self.loss = {call}
"""


@pytest.mark.parametrize("call,found", [
    ("tf.contrib.seq2seq.sequence_loss(self.logits, self.targets, weights)", True),
    ("tfa.seq2seq.sequence_loss(logits=self.logits, targets=self.targets, weights=weights)", True),
    ("tfa.seq2seq.sequence_loss(self.logits, self.targets, weights, softmax_loss_function=self.nll)", False),
    ("tfa.seq2seq.sequence_loss(tf.math.log(self.logits), self.targets, weights)", False),
])
def test_a_sequence_loss_takes_logits(call: str, found: bool) -> None:
    findings = lck106(SEQUENCE.format(call=call))
    assert bool(findings) is found
    if found:
        assert "a softmax, line 7" in findings[0][1]


@pytest.mark.parametrize("keyword,found", [("logits", True), ("probs", False)])
def test_a_distribution_given_probabilities_as_logits(keyword: str, found: bool) -> None:
    source = f"""\
    import tensorflow as tf
    import tensorflow_probability as tfp

    def likelihood(x, y):
        p = tf.sigmoid(tf.matmul(x, w))
        return tfp.distributions.Bernoulli({keyword}=p).log_prob(y)
    """
    assert bool(lck106(source)) is found


BRANCHED_BUILDER = """\
import tensorflow as tf
from tensorflow.keras.layers import Conv2D, Input


def build(deep=False, final="sigmoid"):
    image = Input((64, 64, 1))
    features = Conv2D(8, 3)(image)
    first = Conv2D(1, 1, activation={first})(features)
    second = Conv2D(1, 1, activation={second})(features)
    if deep:
        model = tf.keras.Model(inputs=image, outputs=[first, second])
    else:
        model = tf.keras.Model(inputs=image, outputs=[first])
    return model


model = build()
bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = bce(y, model(x, training=True))
    return tape.gradient(loss, model.trainable_variables)
"""


@pytest.mark.parametrize("first,second,found", [
    ("'sigmoid'", "'sigmoid'", True),  # every output of every branch ends in a sigmoid
    ("'sigmoid'", "None", False),  # one branch's model has an output with no activation
    ("None", "'sigmoid'", False),
])
def test_a_model_built_on_branches_with_several_outputs(first: str, second: str, found: bool) -> None:
    findings = lck106(BRANCHED_BUILDER.format(first=first, second=second))
    assert bool(findings) is found
    if found:
        assert findings[0][0] == 23 and "a sigmoid, line 8" in findings[0][1]


CUSTOM_COMPILE = """\
import tensorflow as tf


class Discriminator(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(64)
        self.head = tf.keras.layers.Dense(1, activation={activation})

    def call(self, x):
        return self.head(self.hidden(x))


class Gan(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.discriminator = Discriminator()

    def compile(self, optimizer, loss_fn):
        super().compile()
        self.optimizer = optimizer
        self.loss_fn = loss_fn

    def train_step(self, data):
        real, labels = data
        with tf.GradientTape() as tape:
            out = self.discriminator(real, training=True)
            loss = self.loss_fn(labels, out)
        grads = tape.gradient(loss, self.discriminator.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        return {{"loss": loss}}


gan = Gan()
gan.compile(optimizer=tf.keras.optimizers.Adam(), loss_fn={loss})
"""


@pytest.mark.parametrize("activation,loss,found", [
    ("'sigmoid'", "tf.keras.losses.BinaryCrossentropy(from_logits=True)", True),
    ("None", "tf.keras.losses.BinaryCrossentropy(from_logits=True)", False),  # the layer gives logits
    ("'sigmoid'", "tf.keras.losses.BinaryCrossentropy()", False),  # the loss takes probabilities
    ("'sigmoid'", "make_loss()", False),  # what the loss is, nothing here shows
])
def test_a_loss_kept_by_a_custom_compile_and_a_layer_subclass(activation: str, loss: str, found: bool) -> None:
    """`self.loss_fn = loss_fn` in the model's own `compile()`, given by the one call of it; the
    discriminator a `Layer` subclass whose `call` ends in a sigmoid layer."""
    findings = lck106(CUSTOM_COMPILE.format(activation=activation, loss=loss))
    assert bool(findings) is found
    if found:
        assert findings[0][0] == 28 and "a sigmoid, line 8" in findings[0][1]
        assert "passed as logits to `self.loss_fn` (`tf.keras.losses.BinaryCrossentropy(from_logits=True)`, " \
               "given by `gan.compile(...)` at line 35)" in findings[0][1]


@pytest.mark.parametrize("rebind,found", [
    ("p = tf.reshape(p, [-1])", True),  # the value's own read of `p` sees the sigmoid before it
    ("p = tf.reshape(x, [-1])", False),
    ("p = p * 2.0 - 1.0", False),  # no longer a probability
])
def test_a_name_rebound_from_itself(rebind: str, found: bool) -> None:
    source = f"""\
    import tensorflow as tf

    def step(x, y):
        p = tf.sigmoid(x)
        {rebind}
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=p)
    """
    assert bool(lck106(source)) is found
