"""LCK501 sequential-multi-output and LCK502 list-for-dict-outputs: properties and extra cases."""

from __future__ import annotations

import ast
import keyword
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.rules.lck501_sequential_multi_output import SequentialMultiOutput
from losscheck.lint.rules.lck502_list_for_dict_outputs import ListForDictOutputs

IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
OUTPUT_NAMES = st.lists(IDENT, min_size=2, max_size=6, unique=True)


def lint(source: str, rule) -> list:
    return [f for f in lint_source(textwrap.dedent(source), "t.py", rules=[rule]) if f.code == rule.code]


def dict_outputs_source(names: list[str], call: str, dict_form: str = "literal") -> str:
    heads = "\n".join(f"{n}_head = keras.layers.Dense(1, name={n!r})(inputs)" for n in names)
    if dict_form == "literal":
        outputs = "{" + ", ".join(f"{n!r}: {n}_head" for n in names) + "}"
    else:
        outputs = "dict(" + ", ".join(f"{n}={n}_head" for n in names) + ")"
    model = f"model = keras.Model(inputs, outputs={outputs})"
    return f"import keras\ninputs = keras.Input((8,))\n{heads}\n{model}\n{call}\n"


@settings(max_examples=60)
@given(
    names=OUTPUT_NAMES,
    where=st.sampled_from(["loss", "loss_weights", "fit", "evaluate"]),
    bracket=st.sampled_from(["[]", "()"]),
    dict_form=st.sampled_from(["literal", "call"]),
)
def test_list_pairs_in_sorted_name_order(names: list[str], where: str, bracket: str, dict_form: str) -> None:
    entries = [f"{'loss' if where.startswith('loss') else 'y'}_{n}" for n in names]
    seq = bracket[0] + ", ".join(entries) + ("," if len(entries) == 1 else "") + bracket[1]
    if where == "loss":
        call = f"model.compile(optimizer='adam', loss={seq})"
    elif where == "loss_weights":
        losses = "{" + ", ".join(f"{n!r}: 'mse'" for n in names) + "}"
        call = f"model.compile(loss={losses}, loss_weights={seq})"
    else:
        call = f"model.{where}(x_train, {seq})"
    source = dict_outputs_source(names, call, dict_form)
    findings = lint(source, ListForDictOutputs)
    if names == sorted(names):
        assert findings == []  # the pairing Keras makes is the one written
        return
    assert len(findings) == 1
    finding = findings[0]
    label = {"loss": "loss", "loss_weights": "loss_weights"}.get(where, "y")
    expected = ", ".join(
        f"{label}[{i}] goes to output {n!r}" if i == 0 else f"{label}[{i}] to {n!r}"
        for i, n in enumerate(sorted(names)[:6])
    )
    assert expected in finding.message
    # the exact range: the list argument
    line = source.splitlines()[finding.line - 1]
    assert line[finding.column - 1 : finding.end_column - 1] == seq
    # the unsafe fix keys each entry by the output it was written for
    fixed, _ = apply_fixes(source, findings, unsafe=True)
    tree = ast.parse(fixed)
    call_node = tree.body[-1].value
    if where in ("fit", "evaluate"):
        new = call_node.args[1]
    else:
        new = next(k.value for k in call_node.keywords if k.arg == where)
    assert isinstance(new, ast.Dict)
    assert [k.value for k in new.keys] == names
    assert [v.id for v in new.values] == entries


@settings(max_examples=30)
@given(names=OUTPUT_NAMES)
def test_dicts_and_list_outputs_are_quiet(names: list[str]) -> None:
    as_dict = "{" + ", ".join(f"{n!r}: loss_{n}" for n in names) + "}"
    source = dict_outputs_source(names, f"model.compile(loss={as_dict})\nmodel.fit(x, {as_dict})")
    assert lint(source, ListForDictOutputs) == []
    heads = ", ".join(f"{n}_head" for n in names)
    source = (
        "import keras\n"
        + "\n".join(f"{n}_head = keras.layers.Dense(1)(inputs)" for n in names)
        + f"\nmodel = keras.Model(inputs, [{heads}])\nmodel.compile(loss=[{', '.join('loss_' + n for n in names)}])\n"
    )
    assert lint(source, ListForDictOutputs) == []


def test_names_bound_to_a_list_and_no_fix_there() -> None:
    source = dict_outputs_source(
        ["seg", "cls"], "weights = [1.0, 0.1]\nmodel.compile(loss={'seg': 'bce', 'cls': 'mse'}, loss_weights=weights)"
    )
    (finding,) = lint(source, ListForDictOutputs)
    assert "loss_weights[0] goes to output 'cls', loss_weights[1] to 'seg'" in finding.message
    assert finding.fix is None  # the list lives elsewhere and may be used elsewhere too


def test_many_outputs_message_is_summarised() -> None:
    names = [f"h{i}" for i in range(9, 0, -1)]
    call = "model.compile(loss=[" + ", ".join(f"l{i}" for i in range(9)) + "])"
    (finding,) = lint(dict_outputs_source(names, call), ListForDictOutputs)
    assert "loss[5] to 'h6', ..." in finding.message


# -- LCK501 --------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    count=st.integers(2, 5),
    form=st.sampled_from(["list", "tuple", "dict"]),
    method=st.sampled_from(["fit", "evaluate", "train_on_batch", "test_on_batch"]),
    by_keyword=st.booleans(),
)
def test_sequential_several_targets(count: int, form: str, method: str, by_keyword: bool) -> None:
    names = [f"y{i}" for i in range(count)]
    if form == "dict":
        targets = "{" + ", ".join(f"'out{i}': {n}" for i, n in enumerate(names)) + "}"
    else:
        targets = ("[{}]" if form == "list" else "({})").format(", ".join(names))
    arg = f"y={targets}" if by_keyword else targets
    source = f"import keras\nnet = keras.Sequential([keras.layers.Dense(1)])\nnet.{method}(X, {arg})\n"
    (finding,) = lint(source, SequentialMultiOutput)
    assert f"`net` is a Sequential model, which has one output, but `{method}` gets" in finding.message
    assert (f"{count} targets" if form != "dict" else f"targets for {count} named outputs") in finding.message
    line = source.splitlines()[finding.line - 1]
    assert line[finding.column - 1 : finding.end_column - 1] == targets


@pytest.mark.parametrize(
    "fit_args",
    ["X, y", "X, [y]", "X, [0, 1, 1]", "X, [[0.1], [0.2]]", "[a, b], y", "dataset", "X, *rest", "x=X, y=labels"],
)
def test_sequential_one_target_is_quiet(fit_args: str) -> None:
    source = f"import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.fit({fit_args})\n"
    assert lint(source, SequentialMultiOutput) == []


def test_sequential_message_names_the_first_loss() -> None:
    source = """
    import keras
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(loss=(keras.losses.Huber(), "mae"))
    """
    (first,) = lint(source, SequentialMultiOutput)
    assert "silently uses only the first (`keras.losses.Huber()`)" in first.message


@pytest.mark.parametrize(
    "compile_args, expected",
    [
        ('loss=["mae", "mse"], loss_weights=[3.0, 2.0]', "silently applies only the first (`3.0`), to the first loss"),
        ('loss="mse", loss_weights=[3.0, 2.0]', "Keras 3 raises ValueError"),
        ('loss="mse", loss_weights={"a": 3.0, "b": 2.0}', "Keras 3 and legacy tf.keras raise ValueError"),
    ],
)
def test_sequential_loss_weights_messages(compile_args: str, expected: str) -> None:
    source = f"import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile({compile_args})\n"
    weights = [f for f in lint(source, SequentialMultiOutput) if "loss weights" in f.message]
    assert len(weights) == 1 and expected in weights[0].message, weights
