"""The layout Additions in the schema that ``losscheck schema`` serves, and their errors as
``losscheck gen`` prints them: one line per problem naming the JSON path, exit 2, nothing written."""

from __future__ import annotations

import json

from losscheck.cli import main
from losscheck.layout.validate import schema

NEW_TASK_FIELDS = ("class_weights", "label_smoothing", "pool", "metrics")


def test_the_served_schema_describes_every_addition(capsys):
    assert main(["schema"]) == 0
    served = json.loads(capsys.readouterr().out)
    assert served == schema()
    assert served["properties"]["weights"]["enum"] == ["static", "variable"]
    assert served["properties"]["weights"]["description"]
    task = served["$defs"]["task"]["properties"]
    for field in NEW_TASK_FIELDS:
        assert task[field].get("description"), field
    assert {"equals", "in"} <= {key for branch in task["when"]["oneOf"] for key in branch["properties"]}
    assert served["$defs"]["metric"]["properties"]["classes"]["description"]


def test_addition_errors_are_one_line_each_with_the_json_path(tmp_path, capsys):
    layout = {"version": 1, "weights": "sometimes", "outputs": [{"name": "o", "spatial": [4], "tasks": [
        {"name": "c", "type": "categorical", "units": 3, "class_weights": [1, 2]},
        {"name": "g", "type": "binary", "units": 1, "when": {"task": "c", "in": [0, 3]}, "pool": "mean"},
        {"name": "r", "type": "regression", "units": 1, "metrics": ["precision"], "label_smoothing": 0.1},
    ]}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(layout, indent=1))
    out = tmp_path / "bad_losses.py"
    assert main(["gen", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert "Traceback" not in err
    for place in ("$.weights", "$.outputs[0].tasks[0].class_weights", "$.outputs[0].tasks[1].when.in[1]",
                  "$.outputs[0].tasks[1].pool", "$.outputs[0].tasks[2].metrics[0]",
                  "$.outputs[0].tasks[2].label_smoothing"):
        lines = [line for line in err.splitlines() if f": {place}: " in line]
        assert len(lines) >= 1, (place, err)
        assert all(line.startswith(f"{path}:") for line in lines)


# Every Addition once: variable weights, a categorical "in" gate, a categorical "equals" gate,
# class weights, label smoothing, pooling and metrics.
EVERY_ADDITION = {"version": 1, "weights": "variable", "outputs": [{"name": "o", "spatial": [4], "tasks": [
    {"name": "c", "type": "categorical", "units": 3, "class_weights": [1, 2, 3], "label_smoothing": 0.1,
     "metrics": ["f1"]},
    {"name": "g", "type": "binary", "units": 1, "when": {"task": "c", "in": [0, 2]}},
    {"name": "h", "type": "binary", "units": 1, "when": {"task": "c", "equals": 1}},
    {"name": "p", "type": "categorical", "units": 2, "pool": "mean"},
]}]}
ADDITION_PATHS = ["$.weights", "$.outputs[0].tasks[0].class_weights", "$.outputs[0].tasks[0].label_smoothing",
                  "$.outputs[0].tasks[0].metrics", "$.outputs[0].tasks[1].when.in",
                  "$.outputs[0].tasks[2].when.task", "$.outputs[0].tasks[3].pool"]


def _problems(layout: dict, framework: str) -> list[tuple[str, str]]:
    from losscheck.layout.load import format_path, parse
    from losscheck.layout.validate import check

    text = json.dumps(dict(layout, framework=framework))
    return [(format_path(p.path), p.message) for p in check(parse(text, "l.json"))]


def test_both_built_in_frameworks_take_every_addition():
    assert _problems(EVERY_ADDITION, "keras") == []
    assert _problems(EVERY_ADDITION, "tf.keras") == []


def test_a_plugin_framework_refuses_each_addition_at_its_path():
    found = _problems(EVERY_ADDITION, "torch")
    for place in ADDITION_PATHS:
        assert any(path == place and 'frameworks "keras" and "tf.keras" only' in message
                   for path, message in found), (place, found)


def test_gen_framework_option_is_checked_like_the_layout_framework(tmp_path, capsys):
    path = tmp_path / "every.json"
    path.write_text(json.dumps(EVERY_ADDITION, indent=1))
    assert main(["gen", str(path), "--framework", "tf.keras", "-o", str(tmp_path / "tfk.py"), "-q"]) == 0
    assert main(["gen", str(path), "--framework", "torch", "-o", str(tmp_path / "torch.py"), "-q"]) == 2
    err = capsys.readouterr().err
    assert all(f": {place}: " in err for place in ADDITION_PATHS), err
    assert not (tmp_path / "torch.py").exists()
