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
