"""The PyTorch emitter (plugin `losscheck-torch`, framework "torch") computes the same numbers as
the Keras module generated from the same layout: per task and per output, within 1e-5, over
Hypothesis layouts (tests/gen_helpers.py: every type, loss, mask, class subset, channel axis).

Real Keras 3 (TensorFlow backend) on one side, real PyTorch 2.13 (CPU) on the other; no mocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gen_helpers as H

pytestmark = pytest.mark.keras
pytest.importorskip("losscheck_torch", reason="pip install -e plugins/torch")
torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples", "layouts").glob("*.json"))
TOL = dict(rtol=1e-5, atol=1e-5)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _targets_by_task(out: dict, yt: np.ndarray) -> dict[str, np.ndarray]:
    """Split an output's packed y_true back into per-task targets, channels last."""
    if out.get("channel_axis", -1) == 1:
        yt = np.moveaxis(yt, 1, -1)
    targets, at = {}, 0
    for task in out["tasks"]:
        n = H.true_units(task)
        targets[task["name"]] = yt[..., at : at + n]
        at += n
    return targets


def compare_modules(layout: dict, directory: Path, rng: np.random.Generator, batch: int = 3) -> None:
    keras_module, _ = H.generate_module(layout, directory, framework="keras")
    torch_module, text = H.generate_module(layout, directory, framework="torch")
    assert "import keras" not in text and "(framework torch)" in text
    assert torch_module.LOSS_WEIGHTS == keras_module.LOSS_WEIGHTS
    assert list(torch_module.TASK_LOSSES) == list(keras_module.TASK_LOSSES)
    for out in layout["outputs"]:
        name = out["name"]
        yt, yp = H.make_data(out, batch, rng)
        t_true, t_pred = torch.from_numpy(yt), torch.from_numpy(yp)
        for task in out["tasks"]:
            key = f"{name}.{task['name']}"
            got = torch_module.TASK_LOSSES[key](t_true, t_pred)
            assert tuple(got.shape) == (batch,)
            want = np.asarray(keras_module.TASK_LOSSES[key](yt, yp))
            np.testing.assert_allclose(got.numpy(), want, **TOL, err_msg=f"{key}: {json.dumps(task)}")
        got = torch_module.LOSSES[name](t_true, t_pred)
        np.testing.assert_allclose(got.numpy(), np.asarray(keras_module.LOSSES[name](yt, yp)), **TOL, err_msg=name)
        # pack_targets: same layout as the Keras module's, as a tensor
        targets = _targets_by_task(out, yt)
        packed = torch_module.pack_targets(
            name, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.items()}
        )
        assert isinstance(packed, torch.Tensor)
        np.testing.assert_array_equal(packed.numpy(), keras_module.pack_targets(name, targets))


@SETTINGS
@given(layout=H.layouts(), seed=st.integers(0, 2**16))
def test_torch_module_equals_keras_module(tmp_path_factory, layout, seed):
    compare_modules(layout, tmp_path_factory.mktemp("torch"), np.random.default_rng(seed))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_layouts(tmp_path, path):
    if H.uses_additions(json.loads(path.read_text())):
        pytest.skip("the torch plugin does not generate the layout's Additions (keras and tf.keras do)")
    compare_modules(json.loads(path.read_text()), tmp_path, np.random.default_rng(1), batch=2)


# Layouts written out so that each feature named in the plugin's brief is certainly covered,
# whatever Hypothesis draws: masks (when + ignore_value), classes, sparse, focal, dice, huber.
FEATURES = {
    "version": 1,
    "outputs": [
        {
            "name": "seg",
            "spatial": [3, 4],
            "channel_axis": 1,
            "tasks": [
                {
                    "name": "mask",
                    "type": "binary",
                    "units": 1,
                    "loss": ["binary_crossentropy", {"name": "dice", "weight": 0.5}],
                    "weight": 0.7,
                    "pos_weight": 3.0,
                },
                {
                    "name": "lesion",
                    "type": "categorical",
                    "units": 3,
                    "targets": "sparse",
                    "from_logits": True,
                    "weight": 0.3,
                    "ignore_value": -1,
                    "loss": ["categorical_crossentropy", "categorical_focal_crossentropy"],
                },
                {
                    "name": "size",
                    "type": "regression",
                    "units": 2,
                    "loss": {"name": "huber", "delta": 0.5},
                    "when": {"task": "mask", "equals": 1},
                },
            ],
        },
        {
            "name": "cls",
            "tasks": [
                {
                    "name": "kind",
                    "type": "categorical",
                    "units": 4,
                    "loss": [
                        {"name": "categorical_crossentropy", "classes": [0, 2, 3]},
                        {"name": "dice", "weight": 0.25},
                    ],
                },
                {
                    "name": "tags",
                    "type": "multilabel",
                    "units": 3,
                    "from_logits": True,
                    "loss": {"name": "binary_focal_crossentropy", "alpha": 0.25, "gamma": 1.5},
                },
                {
                    "name": "age",
                    "type": "regression",
                    "units": 1,
                    "loss": ["log_cosh", "mae", "mse"],
                    "ignore_value": 255,
                },
            ],
        },
    ],
}


def test_every_feature(tmp_path):
    for seed in range(3):
        compare_modules(FEATURES, tmp_path, np.random.default_rng(seed), batch=4)


def test_masks_that_select_nothing_give_zero_loss_and_finite_gradients(tmp_path):
    torch_module, _ = H.generate_module(FEATURES, tmp_path, framework="torch")
    out = FEATURES["outputs"][0]
    yt, yp = H.make_data(out, 2, np.random.default_rng(0))
    yt[:, 0] = 0.0  # no position has mask == 1: `size` counts nowhere
    yt[:, 1] = -1.0  # every lesion position is ignored
    yt[:, 2:] = np.nan  # ...and NaN `size` targets (missing labels) reach neither value nor gradient
    pred = torch.from_numpy(yp).requires_grad_(True)
    for key in ("seg.lesion", "seg.size"):
        value = torch_module.TASK_LOSSES[key](torch.from_numpy(yt), pred)
        assert torch.equal(value, torch.zeros(2)), (key, value)
    total = torch_module.LOSSES["seg"](torch.from_numpy(yt), pred).sum()
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(pred.grad).all()


def test_total_loss_is_the_keras_reduction_and_trains(tmp_path):
    """total_loss = sum over outputs of LOSS_WEIGHTS * mean(per-example loss * sample_weight)."""
    torch_module, _ = H.generate_module(FEATURES, tmp_path, framework="torch")
    rng = np.random.default_rng(3)
    data = {o["name"]: [torch.from_numpy(a) for a in H.make_data(o, 4, rng)] for o in FEATURES["outputs"]}
    y_true = {k: v[0] for k, v in data.items()}
    y_pred = {k: v[1] for k, v in data.items()}
    weights = torch.tensor([1.0, 0.0, 2.0, 0.5])
    want = sum(
        torch_module.LOSS_WEIGHTS[k] * torch.mean(torch_module.LOSSES[k](y_true[k], y_pred[k]) * weights)
        for k in torch_module.LOSSES
    )
    got = torch_module.total_loss(y_true, y_pred, sample_weight=weights)
    assert torch.allclose(got, want) and got.ndim == 0
    # a weight of zero for an example removes it: per-example semantics, not a batch mean
    only_first = torch_module.total_loss(y_true, y_pred, sample_weight=torch.tensor([1.0, 0.0, 0.0, 0.0]))
    first = {k: v[:1] for k, v in y_true.items()}, {k: v[:1] for k, v in y_pred.items()}
    assert torch.allclose(only_first * 4, torch_module.total_loss(*first), rtol=1e-5)

    # and it trains: a few SGD steps on learnable logits lower the loss
    torch.manual_seed(0)
    cls = FEATURES["outputs"][1]
    yt, _ = H.make_data(cls, 8, rng)
    logits = torch.zeros(8, 8, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=0.5)

    seg_true, seg_pred = (torch.from_numpy(a) for a in H.make_data(FEATURES["outputs"][0], 8, rng))

    def loss_now():
        pred = torch.cat([torch.softmax(logits[:, :4], -1), logits[:, 4:7], logits[:, 7:]], dim=-1)
        return torch_module.total_loss({"cls": torch.from_numpy(yt), "seg": seg_true}, {"cls": pred, "seg": seg_pred})

    start = loss_now().item()
    for _ in range(30):
        opt.zero_grad()
        loss_now().backward()
        opt.step()
    assert loss_now().item() < start


def test_shape_errors_name_the_output(tmp_path):
    torch_module, _ = H.generate_module(FEATURES, tmp_path, framework="torch")
    with pytest.raises(ValueError, match="output 'cls': y_pred has shape"):
        torch_module.LOSSES["cls"](torch.zeros(2, 8), torch.zeros(2, 7))
