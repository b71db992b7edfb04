"""removed-keras-api against a target: silent for Keras 2, table-driven messages and fixes for Keras 3."""

from __future__ import annotations

import textwrap

import pytest

from losscheck.lint.api.keras_backend import KERAS3_BACKEND, OUTSIDE_LOSS_CODE, REMOVED
from losscheck.lint.engine import lint_source
from losscheck.lint.finding import Finding
from losscheck.lint.fix import apply_fixes
from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi

HEADER = "import keras\nimport keras.backend as K\n"


def findings(source: str, target: str | None = None) -> list[Finding]:
    options = {"keras_target": {"setting": target, "pins": False}} if target else None
    code = textwrap.dedent(source)
    return [f for f in lint_source(code, "t.py", rules=[RemovedKerasApi], options=options) if f.code == "LCK302"]


def fixed(expression: str, unsafe: bool = True) -> str:
    """``value = <expression>`` after one pass of the rule's fixes."""
    source = f"{HEADER}value = {expression}\n"
    out, _ = apply_fixes(source, findings(source), unsafe=unsafe)
    compile(out, "t.py", "exec")  # a fix never breaks the file
    return out.split("value = ", 1)[1].rstrip("\n")


def test_keras2_target_is_silent_and_keras3_target_reports() -> None:
    source = "from keras.utils import np_utils\n" + HEADER + "def l(y_true, y_pred):\n    return K.mean(y_true)\n"
    assert findings(source) == []  # the imports say Keras 2
    assert len(findings(source, target="3")) == 1  # the config says Keras 3
    assert findings(HEADER + "x = K.mean(y)\n", target="2") == []


def test_an_assumed_keras3_says_how_to_switch_and_a_decided_one_does_not() -> None:
    source = HEADER + "def l(y_true, y_pred):\n    return K.mean(y_true)\n"
    (assumed,) = findings(source)  # nothing names the version
    assert 'set `target-keras = "2"`' in assumed.message
    (decided,) = findings(source, target="3")
    assert "target-keras" not in decided.message
    (imported,) = findings("from keras.backend import mean\n")
    assert "is assumed" in imported.message


@pytest.mark.parametrize(
    "call,replacement",
    [
        ("K.binary_crossentropy(t, p)", "use `keras.ops.binary_crossentropy`"),
        ("K.categorical_crossentropy(t, p)", "use `keras.ops.categorical_crossentropy`"),
        ("K.sparse_categorical_crossentropy(t, p)", "use `keras.ops.sparse_categorical_crossentropy`"),
        ("K.int_shape(x)", "use `x.shape`"),
        ("K.shape(x)", "use `keras.ops.shape`"),
        ("K.cast(x, 'float32')", "use `keras.ops.cast`"),
        ("K.switch(c, a, b)", "use `keras.ops.where`"),
        ("K.in_train_phase(a, b)", "use the `training` argument of `call`"),
        ("K.logsumexp(x)", "it has no direct Keras 3 equivalent"),
    ],
)
def test_messages_name_the_replacement(call: str, replacement: str) -> None:
    (finding,) = findings(f"{HEADER}value = {call}\n")
    assert replacement in finding.message
    assert "keras.losses.binary_crossentropy" not in finding.message  # it averages the last axis


@pytest.mark.parametrize("name", sorted(KERAS3_BACKEND))
def test_what_keras3_kept_draws_nothing(name: str) -> None:
    assert findings(f"{HEADER}value = K.{name}()\n", target="3") == []


def test_unsafe_entries_say_why() -> None:
    (finding,) = findings(f"{HEADER}value = K.argmax(x)\n")
    assert "not the same values everywhere: keras.ops.argmax returns int32" in finding.message


@pytest.mark.parametrize("name", sorted(n for n, e in REMOVED.items() if e.fix))
def test_fix_is_safe_exactly_for_safe_entries(name: str) -> None:
    entry = REMOVED[name]
    call = next(c.keras2 for c in entry.checks if c.keras3 is None)
    first = findings(f"{HEADER}value = {call}\n")[0]
    assert first.message.startswith(f"`K.{name}`")
    assert first.fix is not None, f"no fix for {call}"
    assert first.fix.safe is entry.safe


def test_table_and_pointers_do_not_overlap_with_keras3() -> None:
    assert not (set(REMOVED) | set(OUTSIDE_LOSS_CODE)) & KERAS3_BACKEND


# -- how the fixes rewrite calls ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,expected",
    [
        # keywords whose name changed are renamed
        ("K.clip(p, min_value=0.1, max_value=0.9)", "keras.ops.clip(p, x_min=0.1, x_max=0.9)"),
        ("K.reshape(x, shape=(2, 3))", "keras.ops.reshape(x, newshape=(2, 3))"),
        # Keras 2 defaults keras.ops does not share are written out, after a trailing comma too
        ("K.argmax(x)", "keras.ops.argmax(x, axis=-1)"),
        ("K.argmax(x,)", "keras.ops.argmax(x, axis=-1,)"),
        ("K.concatenate([a, b])", "keras.ops.concatenate([a, b], axis=-1)"),
        ("K.concatenate(\n    [a, b],\n)", "keras.ops.concatenate(\n    [a, b], axis=-1,\n)"),
        ("K.cumsum(x, 1)", "keras.ops.cumsum(x, 1)"),
        # templates: only the text around the arguments changes, operands get parentheses
        ("K.hard_sigmoid(a + b)", "keras.ops.clip(0.2 * (a + b) + 0.5, 0.0, 1.0)"),
        ("K.int_shape(a + b)[-1]", "(a + b).shape[-1]"),
        ("K.int_shape(model.output)", "model.output.shape"),
        ("K.sqrt(K.mean(d))", "keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(d), 0.0))"),
        ("K.gather(w, idx)", "keras.ops.take(w, idx, axis=0)"),
        ("K.l2_normalize(v, axis=1)", "keras.ops.normalize(v, axis=1, epsilon=1e-6)"),
        ("K.constant(0.5, dtype='float16')", "keras.ops.convert_to_tensor(0.5, dtype='float16')"),
        # arguments out of the template's order: the call is rewritten whole
        ("K.in_top_k(p, t, 1)", "keras.ops.in_top_k(t, p, 1)"),
        ("K.batch_flatten(x)", "keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))"),
    ],
)
def test_fix_rewrites(expression: str, expected: str) -> None:
    assert fixed(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "K.relu(x, alpha=0.1)",  # a parameter the fix does not handle
        "K.mean(*args)",
        "K.eye(3, 'int32')",  # Keras 3's second positional parameter is another one
        "K.batch_flatten(f(x))",  # would compute f(x) twice
        "K.in_top_k(p,  # scores\n    t, 1)",  # a rewrite would drop the comment
        "K.sparse_categorical_crossentropy(t, p, ignore_class=0)",
        "K.batch_dot(a, b)",  # no one replacement
    ],
)
def test_no_fix(expression: str) -> None:
    first = findings(f"{HEADER}value = {expression}\n")[0]
    assert first.fix is None


def test_the_caveat_is_in_the_message_when_there_is_no_fix() -> None:
    (finding,) = findings(f"{HEADER}value = K.relu(x, alpha=0.1)\n")
    assert "keras.ops.leaky_relu" in finding.message


def test_without_the_keras_name_the_fix_adds_the_ops_import() -> None:
    (finding,) = findings("import keras.backend as K\nvalue = K.mean(x)\n")
    assert finding.fix is not None
    assert [e.content for e in finding.fix.edits] == ["ops.mean", "from keras import ops\n"]


def test_no_fix_when_the_names_ops_and_keras_are_taken() -> None:
    (finding,) = findings("import keras.backend as K\nops = 1\nkeras = 2\nvalue = K.mean(x)\n")
    assert finding.fix is None


def test_ops_taken_writes_keras_ops_through_import_keras() -> None:
    (finding,) = findings("import keras.backend as K\nops = 1\nvalue = K.mean(x)\n")
    assert finding.fix is not None
    assert [e.content for e in finding.fix.edits] == ["keras.ops.mean", "import keras\n"]


def test_safe_fixes_only_without_unsafe() -> None:
    assert fixed("K.mean(K.binary_crossentropy(t, p), axis=-1)", unsafe=False) == (
        "keras.ops.mean(K.binary_crossentropy(t, p), axis=-1)")


def test_an_existing_ops_import_is_used_not_duplicated() -> None:
    from losscheck.lint.fixer import fix_source

    source = "from keras import ops\nimport keras.backend as K\n\nvalue = ops.abs(K.mean(x)) + K.sum(x)\n"
    fixed, _left, _count = fix_source(source, findings(source), [RemovedKerasApi], "t.py", {}, unsafe=False)
    assert fixed == "from keras import ops\n\nvalue = ops.abs(ops.mean(x)) + ops.sum(x)\n"
    assert fixed.count("import") == 1
