"""The Keras 3 helpers of the layout Additions, imported from their own modules and checked
against NumPy: class gates, true-class weights, smoothed positive-weighted crossentropy, the task
metric wrapper and the weight scheduler (keras_ops.py, keras_runtime.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.keras]
keras = pytest.importorskip("keras")

from losscheck.gen.helpers import keras_ops, keras_runtime  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=12),
       classes=st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True))
def test_in_classes_is_membership(labels, classes):
    got = np.asarray(keras_ops._lc_in_classes(keras.ops.convert_to_tensor(np.array(labels, "float32")), classes))
    np.testing.assert_array_equal(got, np.isin(labels, classes))


@settings(max_examples=20, deadline=None)
@given(index=st.lists(st.integers(0, 2), min_size=1, max_size=10),
       weights=st.lists(st.floats(0, 10, width=32, allow_subnormal=False), min_size=3, max_size=3))
def test_true_class_weight_dense_and_sparse(index, weights):
    index = np.array(index)
    dense = keras_ops._lc_true_class_weight(np.eye(3, dtype="float32")[index], weights, sparse=False)
    sparse = keras_ops._lc_true_class_weight(index[:, None].astype("float32"), weights, sparse=True)
    expected = np.asarray(weights, "float32")[index]
    np.testing.assert_allclose(np.asarray(dense), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(sparse), expected, rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_smoothed_positive_weighted_crossentropy(from_logits):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (4, 3)).astype("float32")
    pred = (rng.normal(size=(4, 3)) if from_logits else rng.uniform(0.05, 0.95, (4, 3))).astype("float32")
    smoothing, pos_weight = 0.2, 3.0
    got = keras_ops._lc_smoothed_binary_crossentropy(truth, pred, from_logits, pos_weight=pos_weight,
                                                     label_smoothing=smoothing)
    p = 1 / (1 + np.exp(-pred.astype("float64"))) if from_logits else pred.astype("float64")
    p = np.clip(p, 1e-7, 1 - 1e-7)
    t = truth * (1 - smoothing) + 0.5 * smoothing
    elements = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * (truth * pos_weight + (1 - truth))
    np.testing.assert_allclose(np.asarray(got), elements.mean(-1), rtol=1e-4)
    # pos_weight 1 is Keras's own smoothed crossentropy
    plain = keras_ops._lc_smoothed_binary_crossentropy(truth, pred, from_logits, pos_weight=1.0,
                                                       label_smoothing=smoothing)
    expected = keras.losses.binary_crossentropy(truth, pred, from_logits=from_logits, label_smoothing=smoothing)
    np.testing.assert_allclose(np.asarray(plain), np.asarray(expected), rtol=1e-6)


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
