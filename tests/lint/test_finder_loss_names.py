"""The finder's name-qualified cases: pairs accepted only in loss-named functions, metric modules,
built-in loss classes as bases."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from losscheck.lint.context import FileContext


def found(source: str, path: str = "t.py") -> list[tuple[str, str, str | None, str | None]]:
    source = textwrap.dedent(source)
    ctx = FileContext(path, source, cst.parse_module(source))
    return [(f.name, f.kind, f.y_true, f.y_pred) for f in ctx.functions]


@pytest.mark.parametrize("params", ["real, pred", "targets, inputs", "target, input"])
def test_pairs_need_a_loss_name(params: str) -> None:
    first, second = [p.strip() for p in params.split(",")]
    assert found(f"def masked_loss({params}):\n    return 0\n") == [("masked_loss", "loss", first, second)]
    assert found(f"def ExtraEntropy({params}):\n    return 0\n") == [("ExtraEntropy", "loss", first, second)]
    assert found(f"def evaluate({params}):\n    return 0\n") == []


def test_inputs_fed_to_a_model_are_not_predictions() -> None:
    source = """
    def step_loss(targets, inputs):
        outputs = model(inputs)
        return tf.reduce_mean(tf.square(targets - outputs))
    """
    assert found(source) == []


def test_y_actual_pairs_with_y_pred() -> None:
    assert found("def triplet(y_actual, y_pred):\n    return 0\n") == [("triplet", "loss", "y_actual", "y_pred")]


def test_objective_in_a_name_means_loss() -> None:
    assert found("def scoreObjective(y_true, y_pred):\n    return 0\n")[0][1] == "loss"
    assert found("def score(y_true, y_pred):\n    return 0\n")[0][1] == "metric"


@pytest.mark.parametrize("path", ["metrics.py", "pkg/custom_metrics.py", "Utils/Metrics.py"])
def test_metrics_module_holds_metrics(path: str) -> None:
    source = "def rmse(y_true, y_pred):\n    return 0\n\ndef rmse_loss(y_true, y_pred):\n    return 0\n"
    assert [(n, k) for n, k, _t, _p in found(source, path)] == [("rmse", "metric"), ("rmse_loss", "loss")]


def test_metric_module_function_compiled_as_loss_is_a_loss() -> None:
    source = "def rmse(y_true, y_pred):\n    return 0\n\nmodel.compile(loss=rmse)\n"
    assert found(source, "metrics.py")[0][1] == "loss"


def test_builtin_loss_class_base() -> None:
    source = """
    import keras

    class Weighted(keras.losses.CategoricalCrossentropy):
        def call(self, target, output):
            return super().call(target, output)

    class NotALoss(keras.losses.Reduction):
        def call(self, a, b):
            return a
    """
    assert found(source) == [("Weighted.call", "loss", "target", "output")]
