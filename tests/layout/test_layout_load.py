"""The position-keeping JSON reader: same values as ``json.loads``, positions, strict errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from losscheck.errors import UserError
from losscheck.layout.load import format_path, load, parse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 0, 2]))
def test_parse_agrees_with_json_loads(value, indent):
    text = json.dumps(value, indent=indent)
    doc = parse(text)
    assert doc.value == json.loads(text)
    assert doc.duplicate_keys == []


@given(json_values)
def test_every_value_has_a_position_that_points_at_it(value):
    text = json.dumps(value, indent=1)
    doc = parse(text)
    lines = text.split("\n")

    def walk(v, path):
        line, col = doc.positions[path]
        rest = lines[line - 1][col - 1:]
        start = json.dumps(v, indent=1).split("\n")[0]  # the value's text starts right there
        assert rest.startswith(start[:20]), (path, rest, start)
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, path + (k,))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, path + (i,))

    walk(doc.value, ())


def test_line_of_a_missing_path_falls_back_to_the_nearest_ancestor():
    doc = parse('{\n  "outputs": [\n    {"name": "a"}\n  ]\n}')
    assert doc.line_of(("outputs", 0, "name")) == 3
    assert doc.line_of(("outputs", 0, "tasks", 2, "units")) == 3
    assert doc.line_of(("nothing",)) == 1


@pytest.mark.parametrize(
    "text,line,col,words",
    [
        ('{"a": 1,}', 1, 9, "property name"),
        ('{\n  "a": [1, 2\n}', 3, 1, "',' or ']'"),
        ('{"a": NaN}', 1, 7, "unexpected character"),
        ('{"a": Infinity}', 1, 7, "unexpected character"),
        ("[1] [2]", 1, 5, "extra data"),
        ("", 1, 1, "end of the file"),
        ('{"a": "x', 1, 7, "Unterminated string"),
        ("// comment\n{}", 1, 1, "unexpected character"),
        ('{"a" 1}', 1, 6, "':'"),
    ],
)
def test_invalid_json_says_line_and_column(text, line, col, words):
    with pytest.raises(UserError) as info:
        parse(text, "f.json")
    message = str(info.value)
    assert message.startswith(f"f.json:{line}: invalid JSON")
    assert f"(line {line}, column {col})" in message
    assert words in message


def test_duplicate_keys_are_recorded_with_their_line():
    doc = parse('{"a": 1,\n "b": {"x": 1,\n  "x": 2}}')
    assert doc.duplicate_keys == [(("b",), "x", 3)]
    assert doc.value["b"]["x"] == 2


def test_numbers_keep_their_kind_and_huge_exponents_become_inf():
    doc = parse('[1, 1.0, -0, 2e3, 1e999]')
    assert [type(v) for v in doc.value] == [int, float, int, float, float]
    assert math.isinf(doc.value[4])  # parsed; the validator reports it as not finite
    with pytest.raises(UserError, match="too many digits"):
        parse("1" * 5000)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(UserError, match="nested more than"):
        parse("[" * 10000 + "]" * 10000)


def test_load_names_the_file_for_io_and_encoding_problems(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load(tmp_path / "missing.json")
    with pytest.raises(UserError, match="is a directory"):
        load(tmp_path)
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(UserError, match="not UTF-8") as info:
        load(bad)
    assert str(bad) in str(info.value)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"version": 1}')
    assert load(bom).value == {"version": 1}


def test_format_path():
    assert format_path(()) == "$"
    assert format_path(("outputs", 0, "tasks", 1, "units")) == "$.outputs[0].tasks[1].units"
    assert format_path(("$schema", "a b")) == '$["$schema"]["a b"]'
