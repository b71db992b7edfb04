"""The loss-function finder: which functions Keras calls as fn(y_true, y_pred)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.context import FileContext
from losscheck.lint.finder import is_loss_pair
from losscheck.lint.loss_roles import is_keras_called


def found(source: str) -> list[tuple[str, str, str | None, str | None, str, tuple[str, ...]]]:
    source = textwrap.dedent(source)
    ctx = FileContext("t.py", source, cst.parse_module(source))
    return [(f.name, f.kind, f.y_true, f.y_pred, f.origin, f.outputs) for f in ctx.functions]


@pytest.mark.parametrize(
    "params",
    ["y_true, y_pred", "labels, logits", "target, output", "y, y_hat", "gt, pred", "true, pred",
     "y_true, logits", "targets, predictions", "ytrue, ypred", "y_true_u, y_pred_u", "y_true_f, pred"],
)
def test_loss_like_signatures(params: str) -> None:
    result = found(f"def my_loss({params}):\n    return 0\n")
    first, second = [p.strip() for p in params.split(",")]
    assert result == [("my_loss", "loss", first, second, "signature", ())]


@pytest.mark.parametrize(
    "params",
    ["label, output", "x, y", "self, y_true", "y_pred, y_true", "a, y_true, y_pred", "y_true", "output, target",
     "y_true_, y_pred_", "y_truest, y_predict"],
)
def test_other_signatures_are_not_losses(params: str) -> None:
    assert found(f"def render({params}):\n    return 0\n") == []


def test_compile_dict_list_factory_lambda_and_metrics() -> None:
    result = found(
        """
        def seg_loss(a, b):
            return a

        def make_loss(weight):
            def inner(t, p):
                return weight * (t - p)
            return inner

        def make_lambda(w):
            return lambda t, p: w * t

        def dice_coef(y_true, y_pred):
            return 1.0

        losses = {"seg": seg_loss, "cls": make_loss(3)}
        model.compile(optimizer="adam", loss=losses, metrics=[dice_coef, make_lambda(2)])
        other.compile("sgd", [lambda u, v: u - v])
        """
    )
    assert result == [
        ("seg_loss", "loss", "a", "b", "compile", ("seg",)),
        ("inner", "loss", "t", "p", "factory", ("cls",)),
        ("<lambda>", "metric", "t", "p", "lambda", ()),
        ("dice_coef", "metric", "y_true", "y_pred", "signature", ()),
        ("<lambda>", "loss", "u", "v", "lambda", ()),
    ]


def test_used_as_loss_wins_over_metric_name() -> None:
    result = found(
        """
        def dice_coef(y_true, y_pred):
            return 1.0

        model.compile(loss=dice_coef, metrics=[dice_coef])
        """
    )
    assert [(name, kind) for name, kind, *_ in result] == [("dice_coef", "loss")]


def test_loss_subclasses_through_a_local_base_and_aliases() -> None:
    result = found(
        """
        import tensorflow as tf
        from keras import losses

        class Base(tf.keras.losses.Loss):
            pass

        class Dice(Base):
            def call(self, y_true, y_pred):
                return y_true

        class Focal(losses.Loss):
            def call(self, labels, probs):
                return labels

        class NotALoss:
            def call(self, a, b):
                return a

            def helper(self, y_true, y_pred):  # not named like a loss, not a Loss class
                return a
        """
    )
    assert [(r[0], r[4], r[2], r[3]) for r in result] == [
        ("Dice.call", "loss-subclass", "y_true", "y_pred"),
        ("Focal.call", "loss-subclass", "labels", "probs"),
    ]


def test_metric_subclasses_update_state_is_metric_code() -> None:
    result = found(
        """
        import keras
        from tensorflow.keras import metrics

        class Base(keras.metrics.Metric):
            pass

        class Gap(Base):
            def update_state(self, y_true, y_pred, sample_weight=None):
                pass

            def result(self):
                return 0.0

        class Hits(metrics.Mean):
            def update_state(self, labels, predictions, sample_weight=None):
                pass

        class Plain:
            def update_state(self, y_true, y_pred):  # not a Keras metric
                pass
        """
    )
    assert [(r[0], r[1], r[4], r[2], r[3]) for r in result] == [
        ("Gap.update_state", "metric", "metric-subclass", "y_true", "y_pred"),
        ("Hits.update_state", "metric", "metric-subclass", "labels", "predictions"),
    ]


def test_functions_given_to_keras_wrappers_are_loss_and_metric_code() -> None:
    result = found(
        """
        import tensorflow as tf
        from keras.metrics import MeanMetricWrapper

        def gap(a, b):
            return a - b

        def spread(first, second):
            return first + second

        class Weighted(tf.keras.losses.LossFunctionWrapper):
            def __init__(self):
                def inner(p, q):
                    return p * q

                super().__init__(fn=inner, name="weighted")

        metric = MeanMetricWrapper(gap, name="gap")
        """
    )
    assert [(r[0], r[1], r[2], r[3]) for r in result] == [
        ("gap", "metric", "a", "b"),
        ("inner", "loss", "p", "q"),
    ]


def test_test_case_reference_implementations_are_skipped() -> None:
    source = """
    class HuberLossTest(testing.TestCase):
        def huber_loss(self, y_true, y_pred, delta=1.0):
            return np.abs(y_true - y_pred)
    """
    assert found(source) == []


def test_output_comment_binds_outputs() -> None:
    result = found(
        """
        def depth_loss(y_true, y_pred):  # losscheck: output=depth, depth_aux
            return y_true

        # losscheck: output=mask
        def mask_loss(y_true, y_pred):
            return y_true
        """
    )
    assert [(r[0], r[5]) for r in result] == [("depth_loss", ("depth", "depth_aux")), ("mask_loss", ("mask",))]


def test_no_duplicates_and_extra_params() -> None:
    source = textwrap.dedent(
        """
        def wl(y_true, y_pred, sample_weight=None, *, smooth=1.0):
            return y_true

        model.compile(loss={"a": wl, "b": wl}, metrics=[wl])
        """
    )
    ctx = FileContext("t.py", source, cst.parse_module(source))
    (fn,) = ctx.functions
    assert fn.outputs == ("a", "b") and fn.kind == "loss" and fn.extra_params == ("sample_weight", "smooth")


def test_is_keras_called_distinguishes_weak_pairs() -> None:
    source = "def helper(targets, outputs):\n    return 0\n\ndef loss(y_true, y_pred):\n    return 0\n"
    ctx = FileContext("t.py", source, cst.parse_module(source))
    assert [is_keras_called(f) for f in ctx.functions] == [False, True]


names = st.sampled_from(["y_true", "labels", "target", "y", "gt", "true", "x", "a", "inputs", "label"])
preds = st.sampled_from(["y_pred", "logits", "output", "y_hat", "pred", "predictions", "b", "z", "probs"])


@settings(max_examples=80, deadline=None)
@given(first=names, second=preds, decorate=st.booleans(), nested=st.booleans())
def test_finder_agrees_with_the_pair_predicate(first: str, second: str, decorate: bool, nested: bool) -> None:
    body = f"def fn({first}, {second}):\n    return 0\n"
    if decorate:
        body = "@tf.function\n" + body
    if nested:
        body = "def outer():\n" + textwrap.indent(body, "    ") + "    return fn\n"
    result = found(body)
    assert (len(result) == 1) == is_loss_pair(first, second)
    # deterministic: the same source gives the same answer
    assert found(body) == result


def test_partial_and_instances_passed_to_compile() -> None:
    result = found(
        """
        import functools
        from functools import partial

        def weighted(a, b, weight):
            return weight * (a - b)

        class Custom:
            def call(self, t, p):
                return t - p

        custom = Custom()
        model.compile(loss={"x": functools.partial(weighted, weight=2.0), "y": custom})
        model.compile(loss=partial(weighted, weight=3.0))
        """
    )
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in result] == [
        ("weighted", "a", "b", "compile", ("x",)),
        ("Custom.call", "t", "p", "loss-subclass", ("y",)),
    ]


def test_numpy_only_files_hold_evaluation_code_not_keras_losses() -> None:
    source = """
    import numpy as np
    from sklearn.metrics import r2_score

    def rmse(y_true, y_pred):
        return np.sqrt(np.mean((y_true - y_pred) ** 2))
    """
    assert found(source) == []
    # in a Keras file, a function of NumPy calls alone is evaluation code too, unless compile() uses it
    assert found("import tensorflow as tf\n" + textwrap.dedent(source)) == []
    used = "import tensorflow as tf\n" + textwrap.dedent(source) + "model.compile(loss=rmse)\n"
    assert [r[0] for r in found(used)] == ["rmse"]
    mixed = "import tensorflow as tf\nimport numpy as np\ndef rmse(y_true, y_pred):\n    return np.sqrt(tf.reduce_mean(y_true))\n"
    assert [r[0] for r in found(mixed)] == ["rmse"]
    # a bare snippet (no imports) is checked
    assert [r[0] for r in found("def rmse(y_true, y_pred):\n    return 0\n")] == ["rmse"]


def test_functions_called_directly_outside_loss_code_are_dropped_and_training_step_losses_kept() -> None:
    """A function called only from code that is not loss code is dropped (evaluation code), unless
    every caller is a training step: a custom loop's loss is loss code (origin "loop"), held to
    every rule but batch-mean reduction."""
    result = found(
        """
        import tensorflow as tf

        def evaluate(y_true, y_pred):  # called on model.predict output: NumPy land
            return tf.reduce_mean(tf.abs(y_true - y_pred))

        def step_loss(y_true, y_pred):  # a custom training loop wants a scalar
            return tf.reduce_mean(tf.square(y_true - y_pred))

        def dice(y_true, y_pred):  # a helper of a loss: still loss code
            return tf.reduce_sum(y_true * y_pred, axis=-1)

        def dice_loss(y_true, y_pred):
            return 1.0 - dice(y_true, y_pred)

        def both(y_true, y_pred):
            return y_true

        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = step_loss(y, model(x))
            return loss

        print(evaluate(y_test, model.predict(x_test)), both(1, 2))
        model.compile(loss=both)
        """
    )
    assert [(r[0], r[4]) for r in result] == [
        ("step_loss", "loop"), ("dice", "signature"), ("dice_loss", "signature"), ("both", "signature"),
    ]


def test_a_call_that_cannot_see_a_nested_def_does_not_make_it_evaluation_code() -> None:
    """`loss(x)` at module level names some other `loss` (here a star import's), not the one
    defined inside `seg_loss`: the nested loss stays loss code. A call from inside the function
    that defines it still counts (evaluation code calling its own nested helper)."""
    source = """
        import tensorflow as tf
        from .helpers import *

        def seg_loss(y_true, y_pred):
            def loss(y_true, y_pred):
                return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
            return loss

        def metric(x):
            return loss(x) + 1
        """
    assert [r[0] for r in found(source)] == ["seg_loss", "loss"]
    inside = """
        import tensorflow as tf

        def evaluate(x):
            def loss(y_true, y_pred):
                return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
            return loss(x, x)
        """
    assert [r[0] for r in found(inside)] == []


def test_a_function_whose_every_call_goes_to_add_loss_wants_one_value() -> None:
    """``self.add_loss(self.nll(y_true, y_pred))``: the model adds the value itself, so a scalar is
    right (origin "loop", like a training step's loss); called anywhere else too, it is a loss."""
    result = found(
        """
        import tensorflow as tf

        class Likelihood(tf.keras.layers.Layer):
            def nll_loss(self, y_true, y_pred):
                return -tf.reduce_mean(y_true * tf.math.log(y_pred))

            def call(self, y_true, y_pred):
                self.add_loss(self.nll_loss(y_true, y_pred))
                return y_pred

        def penalty_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))

        def reported_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))

        def build(model, y, p):
            model.add_loss(penalty_loss(y, p))
            model.add_loss(reported_loss(y, p))
            return reported_loss(y, p)
        """
    )
    origins = {name: origin for name, _kind, _t, _p, origin, _o in result}
    assert origins.get("Likelihood.nll_loss") == "loop" and origins.get("penalty_loss") == "loop"
    assert origins.get("reported_loss") != "loop"
