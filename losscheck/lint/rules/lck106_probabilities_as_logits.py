"""LCK106 probabilities-as-logits."""

from __future__ import annotations

import re

from losscheck.lint.context import FileContext
from losscheck.lint.ignored_params import ignored_parameters
from losscheck.lint.logit_sinks import logits_sinks, pairings
from losscheck.lint.logits_messages import (
    TWICE,
    compiled_elsewhere,
    drop_activation_hint,
    sink_message,
)
from losscheck.lint.probabilities import probability_model
from losscheck.lint.rule import Invalid, Rule, Valid
from losscheck.lint.summaries import code_with_helpers

# What the in-file checks need: a call that expects logits (the activation may be in this file
# or in a model another module passes in), or a function that takes `from_logits`. Loss code
# without them can still be compiled elsewhere in the project with a softmax/sigmoid model
# (``compiled_models.py``), which only needs the loss code.
# One pattern per spelling, each led by a literal that the regex engine finds at C speed (as one
# alternation they took 0.2 s on the Keras tree, for the 100 files that hold "logits" or "softmax").
_IN_FILE_TRIGGERS = (
    rb"_with_logits\s*\(",
    rb"from_logits\s*=\s*True",
    rb"sigmoid_cross_entropy\s*\(",
    rb"softmax_cross_entropy\s*\(",
    rb"sequence_loss\s*\(",
    *(name + rb"\s*\([^)]*\blogits\s*=" for name in (b"Bernoulli", b"Categorical", b"Binomial", b"Multinomial")),
    rb"def\s+\w+\s*\([^)]*\bfrom_logits\b",
    rb"def\s+compile\s*\(\s*self\b",  # a model's own compile(), which may keep a loss passed in
)
_IN_FILE = [re.compile(pattern) for pattern in _IN_FILE_TRIGGERS]

class ProbabilitiesAsLogits(Rule):
    """
    ## What it does
    Checks for values that are already probabilities (the result of a softmax or sigmoid: a
    `tf.sigmoid(...)`, `keras.ops.softmax(...)`, a layer called with `activation="softmax"`, a
    helper or model step that returns one) passed where a loss expects logits: the `logits=`
    argument of TensorFlow's `*_cross_entropy_with_logits` functions and of the sequence losses
    (`tfa.seq2seq.sequence_loss`), the `logits=` of TensorFlow Probability's `Bernoulli` and
    `Categorical`, or the prediction of a Keras crossentropy
    (`keras.losses.binary_crossentropy`, `keras.ops.categorical_crossentropy`, a
    `BinaryCrossentropy` object) called or built with `from_logits=True`. It follows the value
    through assignments, reshapes and casts, helpers that return it, the parameters of
    functions that every call in the file gives it (`compute_cost(forward(x), y)`), attributes
    every assignment of which is one (`self.prob = tf.nn.softmax(...)`), methods of the same
    class that return one (`self.generator(x)`), methods of an instance of a class of the
    project (`d = Discriminator()`, `d.run(x)`), and models called in the file whose last layer
    is one, however they were built or passed in. A `from_logits=True` Loss object handed to a
    helper that calls it on another of its parameters (`discriminator_loss(bce, real_output)`)
    makes that argument a logits argument too, and so does one that a model's own
    `compile(self, ..., loss_fn)` keeps (`self.loss_fn = loss_fn`) when every call of that
    `compile`, in this module or in a training script of the project, passes one.

    It also checks `model.compile(loss=...)` where the model's last layer (the last of a
    `Sequential` list or of its `model.add(...)` calls, or a functional model's `outputs`) has a
    softmax or sigmoid activation (every output of a model with several) and the loss is built
    with `from_logits=True`; a `Model` or `Layer` subclass ends where its `call` returns (`return self.head(x)` with
    `self.head = Dense(3, activation="softmax")`, or `return tf.nn.softmax(x)`); a pretrained
    `keras.applications` model keeps its classifier by default, which ends in a softmax unless
    `classifier_activation=None` (or `include_top=False`). Across the
    modules of a project, it reports a loss that treats its prediction as logits (applies a
    softmax/sigmoid to it, or passes it where logits are expected) when another module compiles
    it with such a model, built there or by a builder function of any module of the project
    (`model = build_classifier(...)`), or when a training step in another module calls it with
    such a model's output (`scores = discriminator(x)`, then `disc_loss(labels, scores)`), the
    model being built there, or a parameter of the training function that every caller fills
    with such a model (`train(Unet(), dataset)` in `main.py`).

    A function that returns a model and a `from_logits=True` Loss object together (a factory or a
    test fixture: `return model, loss`) is checked like `compile()`. Wrappers that keep
    TensorFlow's name (`compat.softmax_cross_entropy_with_logits(logits=...)`) expect logits
    too. Two values count as probabilities with no activation in sight: either branch of a
    conditional expression (`p.op.inputs[0] if p.op.type == "Softmax" else p` passes `p` itself
    whenever its last op is not literally a softmax), and a parameter whose name promises
    probabilities (`probs`, `y_prob`; not `log_probs`), whatever its callers pass: the message
    then says so, and renaming the parameter is the fix when it really holds logits. Local
    variables are not judged by their names: real code often calls logits `probs`.

    ## Why is this bad?
    A loss that takes logits applies the softmax or sigmoid itself. Given probabilities, it
    applies it a second time: training runs without an error, but the loss is computed on the
    wrong values and the gradients shrink, so the model learns slowly or not at all.

    ## Example
    ```python
    def compute_cost(y_true, logits):
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits)

    probabilities = tf.sigmoid(dense(x))
    cost = compute_cost(y, probabilities)
    ```

    ## Use instead
    Pass the values before the activation (or keep the activation and drop `from_logits=True`):
    ```python
    logits = dense(x)
    cost = compute_cost(y, logits)
    probabilities = tf.sigmoid(logits)  # for predictions
    ```
    """

    code = "LCK106"
    name = "probabilities-as-logits"
    summary = "A softmax or sigmoid output is passed where the loss expects logits"
    severity = "error"
    # A file with both an activation and a call that expects logits, or a function that takes
    # `from_logits`: the mistake is as common in training steps and model definitions as in loss
    # functions, so no loss-code check follows for those. Loss code that applies an activation or
    # expects logits may be compiled with a probability model in another module: "loss-code"
    # (such files are parsed for the other loss rules anyway).
    triggers = ("logits", "softmax", "sigmoid", "def compile")
    trigger_checks = (*_IN_FILE_TRIGGERS, "loss-code")

    VALID = [
        Valid(
            """
            import tensorflow as tf

            class Classifier(tf.keras.Model):  # a linear head: logits, as from_logits=True says
                def __init__(self, classes):
                    super().__init__()
                    self.head = tf.keras.layers.Dense(classes)

                def call(self, x):
                    return self.head(x)

            model = Classifier(10)
            model.compile("adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # the model emits logits; the activation is for the metric only
                probs = tf.sigmoid(y_pred)
                return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
            """
        ),
        Valid(
            """
            import keras

            def loss(y_true, y_pred):
                probs = keras.ops.softmax(y_pred)
                return keras.losses.categorical_crossentropy(y_true, probs)  # from_logits=False
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def head(x, training):
                z = dense(x)
                if not training:
                    z = tf.sigmoid(z)  # only at inference
                return z

            def step(x, y):
                return tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=head(x, True))
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def cost(labels, scores):
                return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores)

            print(cost(y, tf.nn.softmax(z)), cost(y, z))  # one caller passes logits
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def focal(y_true, y_pred):
                p = tf.sigmoid(y_pred)
                p = y_pred  # rebound before use
                return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=p)
            """
        ),
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            probabilities = keras.layers.Softmax()(model.outputs[0])  # for predictions
            """
        ),
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
            """
        ),
        Valid(
            """
            def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0): ...
            """
        ),
        # log-probabilities are valid logits, whatever the parameter says
        Valid(
            """
            import tensorflow as tf

            def sequence_cost(targets, log_probs):
                return tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=log_probs)
            """
        ),
        # a local variable named `probs` is judged by where it comes from, not by its name
        Valid(
            """
            import tensorflow as tf

            def feature_cost(head, features, targets):
                probs = head(features, apply_sigmoid=False)
                return tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=probs)
            """
        ),
        # a pretrained model without its classifier's softmax, or without its classifier
        Valid(
            """
            import keras

            def fine_tune(classes):
                model = keras.applications.MobileNetV2(weights=None, classes=classes, classifier_activation=None)
                model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
                base = keras.applications.ResNet50(include_top=False, pooling="avg")
                head = keras.Model(base.input, keras.layers.Dense(classes)(base.output))
                head.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
                return model, head
            """
        ),
        # a model without an output activation, returned with its logits loss
        Valid(
            """
            import keras

            def classifier_and_loss(classes):
                model = keras.Sequential([keras.layers.Dense(classes)])
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                return model, loss
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            class PolicyNet:
                def __init__(self, board):
                    self.scores = tf.layers.dense(board, 64)
                    self.prob = tf.nn.softmax(self.scores)
                    self.target = tf.placeholder(tf.float32, [None, 64])
                    self.loss = self.make_loss()

                def make_loss(self):
                    return tf.losses.softmax_cross_entropy(self.target, self.prob)
            """,
            message="`self.prob` holds values that are already probabilities",
            line=12,
        ),
        Invalid(
            """
            import tensorflow as tf

            class Segmenter:
                def build(self, images, masks):
                    self.masks_out = self.generator(images)
                    return tf.reduce_mean(
                        tf.nn.sigmoid_cross_entropy_with_logits(labels=masks, logits=self.masks_out)
                    )

                def generator(self, images):
                    x = tf.layers.conv2d(images, 1, 3, padding="same")
                    return tf.nn.sigmoid(x)
            """,
            message="`self.masks_out` holds values that are already probabilities (a sigmoid, line 13)",
            line=8,
        ),
        Invalid(
            """
            import tensorflow as tf

            class Classifier(tf.keras.Model):
                def __init__(self, classes):
                    super().__init__()
                    self.hidden = tf.keras.layers.Dense(64, activation="relu")
                    self.head = tf.keras.layers.Dense(classes, activation="softmax")

                def call(self, x):
                    return self.head(self.hidden(x))

            model = Classifier(10)
            model.compile("adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            """,
            message="the model ends in a softmax (line 8)",
            line=14,
        ),
        Invalid(
            """
            import keras

            def focal(y_true, y_pred, gamma=2.0, from_logits=False):
                p = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
                return keras.ops.mean(-y_true * (1 - p) ** gamma * keras.ops.log(p), axis=-1)
            """,
            message="accepts `from_logits` and never uses it",
            line=4,
        ),
        Invalid(
            """
            import tensorflow as tf

            def forward(x, w):
                z = tf.matmul(x, w)
                a = tf.sigmoid(z)
                return a

            def compute_cost(a, y):
                logits = tf.transpose(a)
                labels = tf.transpose(y)
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=labels))

            a = forward(x, w)
            cost = compute_cost(a, y)
            """,
            message="already probabilities",
            line=12,
        ),
        Invalid(
            """
            import keras

            def loss(y_true, y_pred):
                probs = keras.ops.softmax(y_pred, axis=-1)
                return keras.losses.categorical_crossentropy(y_true, probs, from_logits=True)
            """,
            message="softmax",
            line=6,
        ),
        Invalid(
            """
            import tensorflow as tf

            class Focal(tf.keras.losses.Loss):
                def __init__(self):
                    super().__init__()
                    self.bce = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")

                def call(self, y_true, y_pred):
                    y_pred = tf.nn.sigmoid(y_pred)
                    return self.bce(y_true, y_pred)
            """,
            message="BinaryCrossentropy",
            line=11,
        ),
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras import layers

            def train_step(x, y):
                with tf.GradientTape() as tape:
                    out = layers.Dense(10, activation="softmax")(encoder(x))
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, out))
                return tape.gradient(loss, weights)
            """,
            message="sparse_softmax_cross_entropy_with_logits",
            line=8,
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential()
            model.add(tf.keras.layers.Dense(64, activation="relu"))
            model.add(tf.keras.layers.Dense(10, activation="softmax"))
            model.compile(
                optimizer="adam",
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
            )
            """,
            message="the model ends in a softmax (line 6)",
            line=9,
        ),
        Invalid(
            """
            import keras

            inputs = keras.Input((32,))
            outputs = keras.layers.Dense(1, activation="sigmoid")(inputs)
            model = keras.Model(inputs, outputs)
            bce = keras.losses.BinaryCrossentropy(from_logits=True)
            model.compile(optimizer="adam", loss=bce)
            """,
            message="sigmoid",
            line=8,
        ),
        Invalid(
            """
            from keras import backend as K

            def loss(y_true, y_pred):
                p = K.clip(K.sigmoid(y_pred), 1e-7, 1 - 1e-7)
                return K.mean(K.binary_crossentropy(y_true, p, from_logits=True), axis=-1)
            """,
            message="sigmoid",
        ),
        # a parameter documented and named as probabilities, used as logits unless its op is a softmax
        Invalid(
            """
            import tensorflow as tf

            def adversarial_objective(onehot, probs):
                logits = probs.op.inputs[0] if probs.op.type == "Softmax" else probs
                return tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)
            """,
            message="`logits` may hold `probs`, which is named as probabilities",
            line=6,
        ),
        # a wrapper that keeps TensorFlow's name and keywords
        Invalid(
            """
            import tensorflow as tf
            from mylib.compat import sigmoid_cross_entropy_with_logits

            def vote_cost(votes, scores):
                return sigmoid_cross_entropy_with_logits(labels=votes, logits=tf.sigmoid(scores))
            """,
            message="`tf.sigmoid(scores)` holds values that are already probabilities",
        ),
        # a pretrained classifier ends in a softmax unless `classifier_activation=None`
        Invalid(
            """
            import keras

            def fine_tune(classes):
                model = keras.applications.EfficientNetB0(weights=None, classes=classes)
                model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
                return model
            """,
            message="Pass `classifier_activation=None` to `keras.applications.EfficientNetB0`",
            line=6,
        ),
        # a fixture handing out a softmax model with a logits loss
        Invalid(
            """
            import keras

            def small_classifier(classes):
                return keras.Sequential([keras.layers.Dense(classes), keras.layers.Softmax()])

            def model_and_loss():
                model = small_classifier(3)
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                return model, loss
            """,
            message="`loss`, returned together with it, is",
            line=10,
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        self._compiled_elsewhere(ctx)
        if not any(pattern.search(ctx.source.encode("utf-8", "surrogatepass")) for pattern in _IN_FILE):
            return  # parsed for the other loss rules: nothing here for the in-file checks to find
        model = probability_model(ctx)
        for pairing in pairings(model):
            output = pairing.output
            ctx.report(
                self,
                pairing.loss,
                f"the model ends in a {output.activation} ({output.where(ctx)}), and "
                + pairing.how.format(loss=ctx.code_for(pairing.loss),
                                     construction=f"{ctx.code_for(pairing.construction.func)}(from_logits=True)")
                + f", which applies the {output.activation} again: {TWICE[output.activation]}. "
                + drop_activation_hint(ctx, model, output),
            )
        self._ignored_from_logits(ctx)
        for sink in logits_sinks(model):
            found = model.of(sink.argument)
            if found is None:
                continue
            ctx.report(self, sink.argument, sink_message(ctx, sink, found))

    def _compiled_elsewhere(self, ctx: FileContext) -> None:
        """A loss that treats its prediction as logits, compiled (or called by a training step)
        in another module of the project with a model whose last layer is a softmax or sigmoid."""
        for node, message in compiled_elsewhere(ctx):
            ctx.report(self, node, message)

    def _ignored_from_logits(self, ctx: FileContext) -> None:
        """A loss (or a helper it calls) that accepts `from_logits` and never reads it."""
        for code in code_with_helpers(ctx, ctx.functions):
            for param in ignored_parameters(code.node, frozenset({"from_logits"})):
                ctx.report(
                    self,
                    param,
                    f"`{code.name}` accepts `from_logits` and never uses it: it treats `y_pred` the same way "
                    "whether the caller passes logits or probabilities, so one of the two is silently wrong. "
                    "Apply the activation when `from_logits` is true (or pass it on), or remove the parameter.",
                )
