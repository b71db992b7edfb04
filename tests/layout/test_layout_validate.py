"""Validation: the JSON Schema plus every semantic rule of layout-v1, all problems at once,
each with file, line and JSON path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from losscheck.cli import main
from losscheck.layout.load import format_path, parse
from losscheck.layout.model import Term
from losscheck.layout.validate import LayoutError, check, schema, validate

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples", "layouts").glob("*.json"))

BASE = {
    "version": 1,
    "outputs": [
        {
            "name": "seg",
            "spatial": [8, 8],
            "tasks": [
                {"name": "mask", "type": "binary", "units": 1, "loss": ["binary_crossentropy", {"name": "dice"}]},
                {"name": "lesion", "type": "categorical", "units": 3, "targets": "sparse", "ignore_value": -1},
                {"name": "size", "type": "regression", "units": 2, "loss": {"name": "huber", "delta": 0.5},
                 "when": {"task": "mask", "equals": 1}},
                {"name": "kind", "type": "categorical", "units": 4},
            ],
        }
    ],
}


def problems_of(layout) -> list[tuple[str, str]]:
    # JSON has no infinity; 1e999 is how a file spells one (it parses to inf)
    text = json.dumps(layout, indent=2).replace("Infinity", "1e999")
    return [(format_path(p.path), p.message) for p in check(parse(text, "l.json"))]


def mutate(fn):
    layout = copy.deepcopy(BASE)
    fn(layout)
    return layout


T = "$.outputs[0].tasks"
CASES = [
    # (id, mutation, JSON path, words in the message)
    ("version", lambda l: l.update(version=2), "$.version", "must be 1"),
    ("framework", lambda l: l.update(framework="kera"), "$.framework", "did you mean 'keras'"),
    ("unknown-field", lambda l: l["outputs"][0]["tasks"][0].update(unit=1), f"{T}[0].unit", "did you mean 'units'"),
    ("keyword-output", lambda l: l["outputs"][0].update(name="lambda"), "$.outputs[0].name", "keyword"),
    ("keyword-task", lambda l: l["outputs"][0]["tasks"][0].update(name="None"), f"{T}[0].name", "keyword"),
    ("not-identifier", lambda l: l["outputs"][0].update(name="my-out"), "$.outputs[0].name", "identifier"),
    ("non-ascii", lambda l: l["outputs"][0].update(name="caf\u00e9"), "$.outputs[0].name", "identifier"),
    ("injection", lambda l: l["outputs"][0]["tasks"][0].update(name='x"); import os; ("'),
     f"{T}[0].name", "identifier"),
    ("duplicate-task", lambda l: l["outputs"][0]["tasks"][1].update(name="mask"), f"{T}[1].name", "duplicate task"),
    ("duplicate-output", lambda l: l["outputs"].append(copy.deepcopy(l["outputs"][0])), "$.outputs[1].name",
     "duplicate output"),
    ("binary-units", lambda l: l["outputs"][0]["tasks"][0].update(units=2), f"{T}[0].units", "exactly 1 unit"),
    ("categorical-units", lambda l: l["outputs"][0]["tasks"][3].update(units=1), f"{T}[3].units", ">= 2"),
    ("units-bool", lambda l: l["outputs"][0]["tasks"][3].update(units=True), f"{T}[3].units", "expected an integer"),
    ("units-zero", lambda l: l["outputs"][0]["tasks"][2].update(units=0), f"{T}[2].units", ">= 1"),
    ("type", lambda l: l["outputs"][0]["tasks"][3].update(type="categoric"), f"{T}[3].type", "did you mean"),
    ("targets-on-binary", lambda l: l["outputs"][0]["tasks"][0].update(targets="dense"), f"{T}[0].targets",
     "categorical tasks only"),
    ("loss-unknown", lambda l: l["outputs"][0]["tasks"][2].update(loss="hubber"), f"{T}[2].loss",
     "did you mean 'huber'"),
    ("loss-wrong-type", lambda l: l["outputs"][0]["tasks"][2].update(loss="dice"), f"{T}[2].loss",
     "not for regression"),
    ("loss-term-wrong-type", lambda l: l["outputs"][0]["tasks"][3].update(loss=[{"name": "mse"}]),
     f"{T}[3].loss[0].name", "not for categorical"),
    ("pos-weight-other-loss", lambda l: l["outputs"][0]["tasks"][0].update(loss="dice", pos_weight=2),
     f"{T}[0].pos_weight", "binary_crossentropy"),
    ("pos-weight-regression", lambda l: l["outputs"][0]["tasks"][2].update(pos_weight=2), f"{T}[2].pos_weight",
     "binary and multilabel"),
    ("pos-weight-zero", lambda l: l["outputs"][0]["tasks"][0].update(pos_weight=0), f"{T}[0].pos_weight", "> 0"),
    ("dice-when", lambda l: l["outputs"][0]["tasks"][3].update(loss="dice", when={"task": "mask", "equals": 0}),
     f"{T}[3].when", "dice cannot be combined"),
    ("dice-ignore", lambda l: l["outputs"][0]["tasks"][0].update(ignore_value=-1), f"{T}[0].ignore_value",
     "dice cannot be combined"),
    ("dice-sparse", lambda l: l["outputs"][0]["tasks"][1].update(loss="dice"), f"{T}[1].loss", "dense targets"),
    ("when-missing", lambda l: l["outputs"][0]["tasks"][2]["when"].update(task="mask2"), f"{T}[2].when.task",
     "did you mean 'mask'"),
    ("when-self", lambda l: l["outputs"][0]["tasks"][2]["when"].update(task="size"), f"{T}[2].when.task", "itself"),
    ("when-not-binary", lambda l: l["outputs"][0]["tasks"][1].update(when={"task": "size", "equals": 1}),
     f"{T}[1].when.task", "needs a binary task"),
    ("when-equals", lambda l: l["outputs"][0]["tasks"][2]["when"].update(equals=2), f"{T}[2].when.equals",
     "ground truth is 0 or 1, not 2"),
    ("when-class-out-of-range", lambda l: l["outputs"][0]["tasks"][2].update(when={"task": "kind", "in": [1, 4]}),
     f"{T}[2].when.in[1]", "out of range for 4 classes"),
    ("when-class-repeated", lambda l: l["outputs"][0]["tasks"][2].update(when={"task": "kind", "in": [1, 1]}),
     f"{T}[2].when.in[1]", "repeated"),
    ("when-in-empty", lambda l: l["outputs"][0]["tasks"][2].update(when={"task": "kind", "in": []}),
     f"{T}[2].when.in", "must not be empty"),
    ("class-weights-count", lambda l: l["outputs"][0]["tasks"][3].update(class_weights=[1, 2]),
     f"{T}[3].class_weights", "one weight per class: 4, got 2"),
    ("class-weights-not-categorical", lambda l: l["outputs"][0]["tasks"][2].update(class_weights=[1, 2]),
     f"{T}[2].class_weights", "categorical tasks only"),
    ("class-weights-dice", lambda l: l["outputs"][0]["tasks"][3].update(class_weights=[1, 1, 1, 1], loss="dice"),
     f"{T}[3].class_weights", "dice"),
    ("smoothing-range", lambda l: l["outputs"][0]["tasks"][3].update(label_smoothing=1),
     f"{T}[3].label_smoothing", ""),
    ("smoothing-regression", lambda l: l["outputs"][0]["tasks"][2].update(label_smoothing=0.1),
     f"{T}[2].label_smoothing", "crossentropy and focal"),
    ("pool-with-when", lambda l: l["outputs"][0]["tasks"][2].update(pool="mean"), f"{T}[2].pool", "\"when\""),
    ("pool-kind", lambda l: l["outputs"][0]["tasks"][3].update(pool="median"), f"{T}[3].pool", ""),
    ("metric-for-type", lambda l: l["outputs"][0]["tasks"][3].update(metrics=["mae"]), f"{T}[3].metrics[0]",
     "not for categorical"),
    ("metric-unknown", lambda l: l["outputs"][0]["tasks"][3].update(metrics=["accuracy"]), f"{T}[3].metrics[0]", ""),
    ("metric-classes", lambda l: l["outputs"][0]["tasks"][3].update(metrics=[{"name": "f1", "classes": [0, 9]}]),
     f"{T}[3].metrics[0].classes[1]", "out of range"),
    ("metric-k", lambda l: l["outputs"][0]["tasks"][3].update(metrics=[{"name": "f1", "k": 2}]),
     f"{T}[3].metrics[0].k", "top_k"),
    ("metric-twice", lambda l: l["outputs"][0]["tasks"][3].update(metrics=["f1", {"name": "f1"}]),
     f"{T}[3].metrics[1]", "twice"),
    ("weights-mode", lambda l: l.update(weights="dynamic"), "$.weights", ""),
    ("additions-plugin", lambda l: l.update(framework="torch") or l["outputs"][0]["tasks"][3].update(pool="max"),
     f"{T}[3].pool", "frameworks \"keras\" and \"tf.keras\" only, not 'torch'"),
    ("when-equals-bool", lambda l: l["outputs"][0]["tasks"][2]["when"].update(equals=True), f"{T}[2].when.equals",
     "expected an integer"),
    ("when-cycle", lambda l: l["outputs"][0]["tasks"].extend([
        {"name": "a", "type": "binary", "units": 1, "when": {"task": "b", "equals": 1}},
        {"name": "b", "type": "binary", "units": 1, "when": {"task": "a", "equals": 1}}]),
     f"{T}[4].when.task", "cycle: a -> b -> a"),
    ("classes-range", lambda l: l["outputs"][0]["tasks"][3].update(
        loss={"name": "categorical_crossentropy", "classes": [0, 4]}), f"{T}[3].loss.classes[1]", "out of range"),
    ("classes-repeated", lambda l: l["outputs"][0]["tasks"][3].update(
        loss={"name": "dice", "classes": [1, 2, 1]}), f"{T}[3].loss.classes[2]", "repeated"),
    ("classes-one-ce", lambda l: l["outputs"][0]["tasks"][3].update(
        loss={"name": "categorical_crossentropy", "classes": [1]}), f"{T}[3].loss.classes", "always 0"),
    ("classes-sparse", lambda l: l["outputs"][0]["tasks"][1].update(
        loss={"name": "categorical_crossentropy", "classes": [0, 1]}), f"{T}[1].loss.classes", "dense targets"),
    ("classes-binary", lambda l: l["outputs"][0]["tasks"][0].update(
        loss={"name": "binary_crossentropy", "classes": [0]}), f"{T}[0].loss.classes", "categorical tasks only"),
    ("delta-not-huber", lambda l: l["outputs"][0]["tasks"][3].update(
        loss={"name": "categorical_crossentropy", "delta": 1}), f"{T}[3].loss.delta", "parameter of huber"),
    ("gamma-not-focal", lambda l: l["outputs"][0]["tasks"][2].update(loss={"name": "mse", "gamma": 1}),
     f"{T}[2].loss.gamma", "focal"),
    ("alpha-range", lambda l: l["outputs"][0]["tasks"][3].update(
        loss={"name": "categorical_focal_crossentropy", "alpha": 2}), f"{T}[3].loss.alpha", "<= 1"),
    ("from-logits-regression", lambda l: l["outputs"][0]["tasks"][2].update(from_logits=True),
     f"{T}[2].from_logits", "regression"),
    ("negative-weight", lambda l: l["outputs"][0].update(weight=-1), "$.outputs[0].weight", ">= 0"),
    ("weight-inf", lambda l: l["outputs"][0].update(weight=float("inf")), "$.outputs[0].weight", "not finite"),
    ("ignore-inf", lambda l: l["outputs"][0]["tasks"][1].update(ignore_value=float("-inf")),
     f"{T}[1].ignore_value", "not finite"),
    ("channel-axis", lambda l: l["outputs"][0].update(channel_axis=2), "$.outputs[0].channel_axis", "not one of"),
    ("spatial-zero", lambda l: l["outputs"][0].update(spatial=[8, 0]), "$.outputs[0].spatial[1]", ">= 1"),
    ("spatial-string", lambda l: l["outputs"][0].update(spatial=["8"]), "$.outputs[0].spatial[0]",
     "expected an integer or null"),
    ("no-outputs", lambda l: l.update(outputs=[]), "$.outputs", "must not be empty"),
    ("no-tasks", lambda l: l["outputs"][0].update(tasks=[]), "$.outputs[0].tasks", "must not be empty"),
    ("missing-units", lambda l: l["outputs"][0]["tasks"][3].pop("units"), f"{T}[3]", "missing required field 'units'"),
    ("loss-empty-list", lambda l: l["outputs"][0]["tasks"][3].update(loss=[]), f"{T}[3].loss", "must not be empty"),
    ("loss-number", lambda l: l["outputs"][0]["tasks"][3].update(loss=3), f"{T}[3].loss", "got an integer 3"),
]


def test_base_layout_is_valid():
    assert problems_of(BASE) == []


@pytest.mark.parametrize("mutation,path,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_named_with_its_path(mutation, path, words):
    found = problems_of(mutate(mutation))
    assert any(p == path and words in m for p, m in found), found


def test_all_problems_are_reported_at_once_with_lines(tmp_path, capsys):
    text = """{
  "version": 1,
  "outputs": [
    {
      "name": "seg",
      "tasks": [
        {"name": "a", "type": "binary", "units": 2},
        {"name": "b", "type": "regression", "units": 1, "loss": "dice"},
        {"name": "b", "type": "categorical", "units": 3, "when": {"task": "zz", "equals": 1}}
      ]
    }
  ]
}
"""
    path = tmp_path / "bad.json"
    path.write_text(text)
    out = tmp_path / "bad_losses.py"
    assert main(["gen", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert lines == [
        f"{path}:7: $.outputs[0].tasks[0].units: a binary task has exactly 1 unit, got 2 (use type \"multilabel\" "
        "for several independent binary channels)",
        f"{path}:8: $.outputs[0].tasks[1].loss: loss 'dice' is not for regression tasks; use one of "
        "mean_squared_error, mean_absolute_error, huber, log_cosh",
        f"{path}:9: $.outputs[0].tasks[2].name: duplicate task name 'b' in output \"seg\"",
        f"{path}:9: $.outputs[0].tasks[2].when.task: no task 'zz' in this output",
    ]
    assert "4 problems" in err and "Traceback" not in err
    assert not out.exists()


def test_duplicate_json_keys_are_problems():
    doc = parse('{"version": 1, "version": 1, "outputs": [{"name": "o", "tasks": '
                '[{"name": "t", "type": "binary", "units": 1}]}]}', "d.json")
    with pytest.raises(LayoutError) as info:
        validate(doc)
    assert "$.version: duplicate key 'version'" in str(info.value)


def test_typed_model_resolves_defaults_and_aliases():
    layout = validate(parse(json.dumps(BASE)))
    seg = layout.outputs[0]
    assert layout.framework == "keras" and seg.channel_axis == -1 and seg.weight == 1.0 and seg.spatial == (8, 8)
    mask, lesion, size, kind = seg.tasks
    assert mask.terms == (Term("binary_crossentropy"), Term("dice"))
    assert lesion.targets == "sparse" and lesion.true_units == 1 and lesion.ignore_value == -1
    assert size.terms == (Term("huber", delta=0.5),) and size.when.task == "mask"
    assert kind.terms == (Term("categorical_crossentropy"),) and kind.true_units == 4
    mse = validate(parse(json.dumps(mutate(lambda l: l["outputs"][0]["tasks"][2].update(loss="mse")))))
    assert mse.outputs[0].tasks[2].terms == (Term("mean_squared_error"),)


def test_schema_is_valid_draft_2020_12_and_accepts_the_examples():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert EXAMPLES, "examples/layouts is empty"
    for path in EXAMPLES:
        jsonschema.validate(json.loads(path.read_text()), schema(), cls=jsonschema.Draft202012Validator)
        validate(parse(path.read_text(), str(path)))


def test_schema_command_prints_the_schema(capsys, tmp_path):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema()
    target = tmp_path / "layout.schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert json.loads(target.read_text()) == schema()


def test_problem_lines_have_the_documented_shape(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(mutate(lambda l: l["outputs"][0]["tasks"][0].update(units=5, weight=-2)), indent=2))
    assert main(["gen", str(path)]) == 2
    for line in capsys.readouterr().err.splitlines()[:-1]:
        assert re.fullmatch(rf"{re.escape(str(path))}:\d+: \$[^ ]*: .+", line), line
