"""Mutated and random invalid layouts never produce a traceback: exit 2 with messages
in the documented shape (or exit 0 when a mutation happens to stay valid)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
from pathlib import Path

import gen_helpers as H
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.cli import main
from losscheck.layout.load import parse
from losscheck.layout.validate import check

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

json_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "binary", "dice", "mse", "sparse", "class", "a b", "x\ny", "é", "t0_a", "mask"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "type", "units", "loss", "tasks", "when", "task", "equals", "classes", "weight",
                         "spatial", "channel_axis", "targets", "junk"]), inner, max_size=3),
    max_leaves=8,
)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


@st.composite
def mutated_layouts(draw):
    layout = copy.deepcopy(draw(H.layouts()))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(layout))
        if len(paths) < 2:
            break  # nothing left to mutate
        path = draw(st.sampled_from(paths[1:]))
        parent = layout
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "add-key", "rename-ref"]))
        if action == "replace":
            parent[key] = draw(json_junk)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "add-key" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["when", "classes", "pos_weight", "targets", "ignore_value", "x"]))] = \
                draw(json_junk)
        elif action == "rename-ref" and isinstance(parent[key], str):
            parent[key] = draw(st.sampled_from(["t0_a", "t1_mask", "None", "out0", "9x", ""]))
    return layout


LINE = re.compile(r".+:\d+: \$\S*: .+")


def run_gen(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["gen", str(path), "-o", "-"])
    return rc, err.getvalue()


def assert_clean_failure(rc: int, err: str) -> None:
    assert rc in (0, 2), (rc, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if rc == 2:
        lines = [line for line in err.splitlines() if not line.startswith("losscheck: warning")]
        assert lines[-1].startswith("losscheck: error: "), err
        for line in lines[:-1]:
            assert LINE.fullmatch(line), line


@FUZZ
@given(layout=mutated_layouts())
def test_mutated_layouts_fail_cleanly(tmp_path_factory, layout):
    path = H.write_layout(layout, tmp_path_factory.mktemp("mut"))
    rc, err = run_gen(path)
    assert_clean_failure(rc, err)
    problems = check(parse(path.read_text(), str(path)))
    assert (rc == 0) == (not problems)


@FUZZ
@given(value=json_junk)
def test_random_json_fails_cleanly(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("junk") / "junk.json"
    path.write_text(json.dumps({"version": 1, "outputs": value} if isinstance(value, list) else value))
    assert_clean_failure(*run_gen(path))


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_fail_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "bytes.json"
    path.write_bytes(data)
    rc, err = run_gen(path)
    assert rc == 2 and "Traceback" not in err and "internal error" not in err
    assert err.strip().splitlines()[-1].startswith("losscheck: error: ")


@FUZZ
@given(layout=mutated_layouts() | H.layouts() | json_junk)
def test_fast_schema_gate_agrees_with_jsonschema(layout):
    """`conforms` (the fast yes/no gate in front of jsonschema) never says yes to an invalid file."""
    import jsonschema

    from losscheck.layout.validate import conforms, schema

    valid = jsonschema.Draft202012Validator(schema()).is_valid(layout)
    assert conforms(layout, schema(), schema()) == valid
