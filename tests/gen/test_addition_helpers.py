"""The helpers of the layout Additions, imported from their own modules and checked against
NumPy: class gates, true-class weights and smoothed positive-weighted crossentropy for both
built-in frameworks (keras_ops.py, tf_keras.py), and Keras 3's task metric wrapper and weight
scheduler (keras_runtime.py; test_gen_additions_tf_keras.py runs tf_keras_runtime.py's on
tf-keras)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.keras]
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from losscheck.gen.helpers import keras_ops, keras_runtime  # noqa: E402
from losscheck.gen.helpers import tf_keras as tf_keras_ops  # noqa: E402

# (the helper module, how its tensors are made)
HELPERS: dict[str, tuple[ModuleType, Callable[[Any], Any]]] = {
    "keras": (keras_ops, keras.ops.convert_to_tensor),
    "tf.keras": (tf_keras_ops, tf.constant),
}
FRAMEWORK = pytest.mark.parametrize("framework", list(HELPERS))


@FRAMEWORK
@settings(max_examples=20, deadline=None)
@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=12),
       classes=st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True))
def test_in_classes_is_membership(framework, labels, classes):
    helpers, tensor = HELPERS[framework]
    got = np.asarray(helpers._lc_in_classes(tensor(np.array(labels, "float32")), classes))
    np.testing.assert_array_equal(got, np.isin(labels, classes))
    # a dense gate's labels are argmax indices (int64 on TensorFlow)
    got = np.asarray(helpers._lc_in_classes(tensor(np.array(labels, "int64")), classes))
    np.testing.assert_array_equal(got, np.isin(labels, classes))


@FRAMEWORK
@settings(max_examples=20, deadline=None)
@given(index=st.lists(st.integers(0, 2), min_size=1, max_size=10),
       weights=st.lists(st.floats(0, 10, width=32, allow_subnormal=False), min_size=3, max_size=3))
def test_true_class_weight_dense_and_sparse(framework, index, weights):
    helpers, tensor = HELPERS[framework]
    index = np.array(index)
    dense = helpers._lc_true_class_weight(tensor(np.eye(3, dtype="float32")[index]), weights, sparse=False)
    sparse = helpers._lc_true_class_weight(tensor(index[:, None].astype("float32")), weights, sparse=True)
    expected = np.asarray(weights, "float32")[index]
    np.testing.assert_allclose(np.asarray(dense), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(sparse), expected, rtol=1e-6)


def _own_smoothed_crossentropy(framework: str) -> Callable[..., Any]:
    """The framework's own smoothed binary crossentropy: Keras 3's, or tf-keras's (Keras 2)."""
    if framework == "keras":
        return keras.losses.binary_crossentropy
    return pytest.importorskip("tf_keras").losses.binary_crossentropy


@FRAMEWORK
@pytest.mark.parametrize("from_logits", [False, True])
def test_smoothed_positive_weighted_crossentropy(framework, from_logits):
    helpers, tensor = HELPERS[framework]
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (4, 3)).astype("float32")
    pred = (rng.normal(size=(4, 3)) if from_logits else rng.uniform(0.05, 0.95, (4, 3))).astype("float32")
    smoothing, pos_weight = 0.2, 3.0
    got = helpers._lc_smoothed_binary_crossentropy(tensor(truth), tensor(pred), from_logits, pos_weight=pos_weight,
                                                   label_smoothing=smoothing)
    p = 1 / (1 + np.exp(-pred.astype("float64"))) if from_logits else pred.astype("float64")
    p = np.clip(p, 1e-7, 1 - 1e-7)
    t = truth * (1 - smoothing) + 0.5 * smoothing
    elements = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * (truth * pos_weight + (1 - truth))
    np.testing.assert_allclose(np.asarray(got), elements.mean(-1), rtol=1e-4)
    # pos_weight 1 is the framework's own smoothed crossentropy (tf-keras's puts + epsilon in the log)
    plain = helpers._lc_smoothed_binary_crossentropy(tensor(truth), tensor(pred), from_logits, pos_weight=1.0,
                                                     label_smoothing=smoothing)
    expected = _own_smoothed_crossentropy(framework)(truth, pred, from_logits=from_logits, label_smoothing=smoothing)
    np.testing.assert_allclose(np.asarray(plain), np.asarray(expected), rtol=1e-6 if framework == "keras" else 1e-5)


@keras.saving.register_keras_serializable(package="losscheck.tests")
def _inputs_last_two(y_true, y_pred):
    keep = keras.ops.cast(keras.ops.not_equal(y_true[..., 2], 0.0), "float32")
    return y_true[..., 0:2], y_pred[..., 0:2], keep


def test_task_metric_weighs_out_the_masked_positions_and_round_trips():
    truth = np.array([[[1, 0, 1], [0, 1, 0]], [[0, 1, 1], [1, 0, 1]]], "float32")  # (B=2, S=2, 3)
    pred = np.array([[[0.9, 0.1, 0], [0.8, 0.2, 0]], [[0.3, 0.7, 0], [0.2, 0.8, 0]]], "float32")
    metric = keras_runtime._lc_TaskMetric(_inputs_last_two, keras.metrics.CategoricalAccuracy(), name="m")
    metric.update_state(truth, pred)
    # positions kept: (0,0) right, (1,0) right, (1,1) wrong -> 2/3; (0,1) is wrong but masked out
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.update_state(truth, pred, sample_weight=np.array([0.0, 1.0], "float32"))  # example 0 weighs 0
    assert float(metric.result()) == pytest.approx(3 / 5)
    again = keras_runtime._lc_TaskMetric.from_config(metric.get_config())
    again.update_state(truth, pred)
    assert float(again.result()) == pytest.approx(2 / 3)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_weight_scheduler_assigns_per_epoch_and_keeps_other_keys():
    weights = {"a": keras.Variable(1.0, trainable=False), "b": keras.Variable(2.0, trainable=False)}
    scheduler = keras_runtime.WeightScheduler(weights, {"a": lambda epoch: 0.1 * epoch})
    for epoch in range(3):
        scheduler.on_epoch_begin(epoch)
        assert float(weights["a"].numpy()) == pytest.approx(0.1 * epoch)
    assert float(weights["b"].numpy()) == 2.0
    with pytest.raises(ValueError, match="no loss weight named \\['c'\\]"):
        keras_runtime.WeightScheduler(weights, {"c": lambda epoch: 1.0})


def _loss_weights() -> dict:
    return {key: keras.Variable(value, dtype="float32", trainable=False, name=f"loss_weight-{key}")
            for key, value in (("y", 2.0), ("y-a", 0.5))}


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2, name="y")

    def call(self, x):
        return self.dense(x)


def _models() -> dict:
    inputs = keras.Input((3,))
    models = {"functional": keras.Model(inputs, keras.layers.Dense(2, name="y")(inputs)),
              "sequential": keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="y")]),
              "subclassed": _Subclassed()}
    models["subclassed"](np.zeros((1, 3), "float32"))  # built
    return models


@pytest.mark.parametrize("kind", ["functional", "sequential", "subclassed"])
def test_attached_weights_are_model_variables_not_model_weights(kind):
    """The trainers pass model.variables to a compiled step; saving and get_weights read
    model.weights, which stay the kernel and the bias."""
    weights = _loss_weights()
    model = _models()[kind]
    before = (len(model.weights), model.count_params(), len(model.variables))
    keras_runtime.attach_weights(model, weights)
    keras_runtime.attach_weights(model, weights)  # a second time changes nothing
    held = [v for v in model.non_trainable_variables if any(v is w for w in weights.values())]
    assert len(held) == len(weights)
    assert not any(v is w for v in model.trainable_variables for w in weights.values())
    assert (len(model.weights), model.count_params(), len(model.variables)) == (
        before[0], before[1], before[2] + len(weights))


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_a_model_holding_weights_saves_and_loads_like_one_without(kind, tmp_path):
    model = _models()[kind]
    keras_runtime.attach_weights(model, _loss_weights())
    x = np.arange(6, dtype="float32").reshape(2, 3)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0))
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = _models()[kind]  # holds no loss weights
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_the_scheduler_makes_its_model_hold_the_weights():
    weights = _loss_weights()
    model = _models()["functional"]
    scheduler = keras_runtime.WeightScheduler(weights, {"y": lambda epoch: 1.0})
    scheduler.set_model(model)
    assert sum(any(v is w for w in weights.values()) for v in model.variables) == len(weights)


def test_a_loss_weight_is_read_in_the_prediction_dtype():
    weight = keras.Variable(0.25, dtype="float32", trainable=False)
    like = keras.ops.ones((2, 3), dtype="float16")
    value = keras_runtime._lc_loss_weight(weight, like)
    assert keras.backend.standardize_dtype(value.dtype) == "float16" and float(value) == 0.25
    weight.assign(4.0)
    assert float(keras_runtime._lc_loss_weight(weight, like)) == 4.0
