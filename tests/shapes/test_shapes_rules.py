"""shape-mismatch end to end, the interpreter's control flow, and the shape-aware axis rules.

Precision checks: zero LCK401 findings on installed Keras's loss and metric modules, and on
every generated module from the example layouts with each function bound to its output
(where the interpreter does know the shapes, so a false positive would show).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from losscheck.cli import main
from losscheck.lint.context import FileContext
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
RULES = load_registry(plugins=False).by_code()
LCK401 = RULES["LCK401"]


def facts_for(source: str, name: str = "loss", options: dict | None = None):
    source = textwrap.dedent(source)
    ctx = FileContext("t.py", source, cst.parse_module(source), options=options or {})
    (fn,) = [f for f in ctx.functions if f.name == name]
    return ctx.shapes(fn)


def lint(source: str, *codes: str, options: dict | None = None) -> list:
    return lint_source(textwrap.dedent(source), "t.py", rules=[RULES[c] for c in codes], options=options)


# -- the interpreter's control flow -------------------------------------------------------------


def test_if_else_join_keeps_what_both_branches_agree_on():
    facts = facts_for(
        """
        import tensorflow as tf

        def loss(y_true, y_pred, flag=True):
            # y_pred shape: (batch_size, 4)
            if flag:
                x = y_pred[:, 0:2]
            else:
                x = y_pred[:, 2:4]
            z = y_pred[:, :1] if flag else y_pred[:, :3]
            return x, z
        """
    )
    ((_, value),) = facts.returns
    x, z = value.items
    assert str(x.shape) == "(B, 2)"
    assert str(z.shape) == "(B, ?)"


def test_names_assigned_in_loops_are_unknown_after_and_inside():
    facts = facts_for(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_pred shape: (batch_size, 4)
            # y_true shape: (batch_size, 4)
            acc = y_pred
            for i in range(3):
                bad = acc - y_true[:, 0]
                acc = tf.reduce_sum(acc, axis=-1)
            return acc
        """
    )
    assert facts.return_shapes() == [None]
    assert facts.problems == []  # `acc` is unknown inside the loop: nothing claimed


def test_tuple_unpacking_and_shape_unpacking():
    facts = facts_for(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_pred shape: (batch_size, 4, 2)
            a, b = y_pred[..., 0], y_pred[..., 1]
            batch, n, c = y_pred.shape
            return tf.one_hot(tf.cast(a, tf.int32), n) + b[..., None]
        """
    )
    assert [str(s) for s in facts.return_shapes()] == ["(B, 4, 4)"]


def test_a_branch_that_returns_does_not_reach_the_join():
    facts = facts_for(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_pred shape: (batch_size, 4)
            x = y_pred
            if tf.reduce_any(y_pred > 1):
                x = y_pred[:, :2]
                return tf.reduce_sum(x, axis=-1)
            return tf.reduce_sum(x, axis=-1) + y_pred[:, 0]
        """
    )
    assert [str(s) for s in facts.return_shapes()] == ["(B,)", "(B,)"]


def test_a_helper_is_not_followed_and_nothing_is_claimed_after_it():
    findings = lint(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 2)
            # y_pred shape: (batch_size, 1)
            t = prepare(y_true)
            return tf.reduce_mean(tf.square(t - y_pred), axis=-1)
        """,
        "LCK401",
    )
    assert findings == []


def test_loss_subclass_call_and_lambda():
    findings = lint(
        """
        import keras
        from keras import ops

        class MyLoss(keras.losses.Loss):
            def call(self, y_true, y_pred):
                # y_true shape: (batch_size,)
                # y_pred shape: (batch_size, 1)
                return ops.square(y_true - y_pred)

        model = keras.Model()
        model.compile(loss=lambda y_true, y_pred: ops.abs(y_true[:, 0] - y_pred))  # losscheck: output=out
        """,
        "LCK401",
    )
    assert [f.line for f in findings] == [9]
    assert "broadcasts to (B, B)" in findings[0].message


# -- the layout, end to end through the CLI ----------------------------------------------------

LAYOUT = {
    "version": 1,
    "outputs": [
        {
            "name": "seg",
            "spatial": [64, 64],
            "tasks": [
                {"name": "mask", "type": "binary", "units": 1},
                {"name": "lesion", "type": "categorical", "units": 3, "targets": "sparse"},
                {"name": "size", "type": "regression", "units": 2},
            ],
        }
    ],
}

LOSS_FILE = """\
import keras
from keras import ops


def seg_loss(y_true, y_pred):
    mask = keras.losses.binary_crossentropy(y_true[..., 0:1], y_pred[..., 0:1])
    lesion = keras.losses.sparse_categorical_crossentropy(y_true[..., 1], y_pred[..., 0:2])
    size = ops.mean(ops.square(y_true[..., 2:4] - y_pred[..., 4:6]), axis=-1)
    return ops.mean(mask + lesion + size, axis=[1, 2])


model = keras.Model()
model.compile(loss={"seg": seg_loss})
"""


def test_cli_layout_slice_mismatch(tmp_path, capsys):
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps(LAYOUT))
    src = tmp_path / "train.py"
    src.write_text(LOSS_FILE)
    code = main(["lint", "--no-cache", "--isolated", "--select", "LCK401", "--format", "json", "--layout", str(layout), str(src)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(f["line"], f["code"]) for f in out] == [(7, "LCK401")]
    assert out[0]["message"] == (
        "`y_pred[..., 0:2]` takes channels 0:2 of output 'seg', which match no task's range in the "
        "layout (mask 0:1, lesion 1:4, size 4:6)"
    )


def test_cli_bad_layout_is_a_clear_error(tmp_path, capsys):
    layout = tmp_path / "layout.json"
    layout.write_text('{"version": 1, "outputs": [{"name": "seg", "tasks": []}]}')
    src = tmp_path / "train.py"
    src.write_text(LOSS_FILE)
    code = main(["lint", "--no-cache", "--isolated", "--layout", str(layout), str(src)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(layout) in err and "Traceback" not in err


# -- precision on real code ----------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted((REPO / "examples" / "layouts").glob("*.json")), ids=lambda p: p.stem)
def test_no_finding_on_generated_modules_bound_to_their_outputs(layout):
    from losscheck.gen.cli import generate

    text, _plan = generate(layout)
    module = cst.parse_module(text)
    data = json.loads(layout.read_text())
    outputs = [o["name"] for o in data["outputs"]]
    # bind every generated function to the output its name starts with
    names = [n.name.value for n in module.body if isinstance(n, cst.FunctionDef)]
    mapping = {n: o for n in names for o in outputs if n.startswith(o + "_")}
    options = {"layout_path": str(layout), "outputs": mapping}
    ctx = FileContext("gen.py", text, module, options=options)
    bound = [f for f in ctx.functions if f.name in mapping]
    assert bound, "no generated function bound to an output"
    assert any(ctx.shapes(f).known for f in bound)
    problems = [(f.name, p.message) for f in bound for p in ctx.shapes(f).problems]
    assert problems == []
    assert lint_source(text, "gen.py", rules=[LCK401], options=options) == []


def test_no_finding_on_installed_keras_losses_and_metrics():
    keras = pytest.importorskip("keras")
    root = Path(keras.__file__).parent / "src"
    files = sorted((root / "losses").glob("*.py")) + sorted((root / "metrics").glob("*.py"))
    assert len(files) > 20
    findings = []
    for path in files:
        findings += lint_source(path.read_text(), str(path), rules=[LCK401, RULES["LCK902"]])
    assert findings == []


# -- shape-aware axis rules (LCK101 batch-mean-reduction) ------------------------------------------


def test_axis_zero_after_stack_is_not_the_batch():
    source = """
        import tensorflow as tf

        def loss(y_true, y_pred):
            per_task = tf.stack([
                tf.reduce_mean(tf.square(y_true - y_pred), axis=-1),
                tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1),
            ])
            return tf.reduce_sum(per_task, axis=0)
    """
    assert lint(source, "LCK101", "LCK102") == []
    # the same reduction on a batch-first value is still reported
    assert [f.code for f in lint(source.replace("per_task, axis=0", "y_true - y_pred, axis=0"), "LCK101")] == ["LCK101"]


def test_the_batch_on_the_last_axis_of_a_rank_one_value():
    findings = lint(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size,)
            # y_pred shape: (batch_size,)
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        """,
        "LCK101",
    )
    assert len(findings) == 1
    assert "with axis=-1 reduces over the batch axis" in findings[0].message
    assert "is (B,), so axis -1 is its batch axis" in findings[0].message


def test_a_return_value_that_lost_the_batch_axis():
    findings = lint(
        """
        import tensorflow as tf

        def loss(y_true, y_pred):
            # y_true shape: (batch_size, 3)
            # y_pred shape: (batch_size, 3)
            return tf.matmul(y_true, y_pred, transpose_a=True)
        """,
        "LCK101",
    )
    assert len(findings) == 1
    assert findings[0].message.startswith(
        "`tf.matmul(y_true, y_pred, transpose_a=True)` has shape (3, 3): the batch axis B of the inputs is gone"
    )


def test_per_example_returns_stay_quiet_with_shapes():
    assert (
        lint(
            """
            import tensorflow as tf

            def loss(y_true, y_pred):
                # y_true shape: (batch_size, 64, 64, 1)
                # y_pred shape: (batch_size, 64, 64, 1)
                err = tf.square(y_true - y_pred)
                return tf.reduce_mean(err, axis=[1, 2, 3])
            """,
            "LCK101",
            "LCK102",
            "LCK401",
        )
        == []
    )


# -- shape-aware axis rules (LCK102 wrong-axis) ------------------------------------------------------


def test_wrong_axis_follows_the_batch_through_stack_and_reductions():
    findings = lint("""
        import tensorflow as tf

        def stacked_first(y_true, y_pred):
            s = tf.stack([y_true, y_pred])
            p = tf.nn.softmax(s, axis=0)  # axis 0 is the two stacked tensors: fine
            return tf.reduce_mean(p[0], axis=-1)

        def reduced_then_softmax(y_true, y_pred):
            t = tf.reduce_sum(y_true, axis=[1, 2])  # the batch is still axis 0
            return tf.reduce_mean(tf.nn.softmax(t, axis=0), axis=-1)

        def stacked_last(y_true, y_pred):
            s = tf.stack([y_true, y_pred], axis=1)  # the batch is still axis 0
            return tf.reduce_mean(tf.argmax(s, axis=0), axis=-1)
    """, "LCK102")
    assert [(f.line, f.code) for f in findings] == [(11, "LCK102"), (15, "LCK102")]


def test_layout_and_output_binding_from_pyproject(tmp_path, capsys, monkeypatch):
    (tmp_path / "layout.json").write_text(json.dumps(LAYOUT))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.losscheck]\nlayout = "layout.json"\n\n[tool.losscheck.outputs]\nseg_loss = "seg"\n'
    )
    # no compile() call in the file: the config is what binds seg_loss to the output
    (tmp_path / "train.py").write_text(LOSS_FILE.split("\n\nmodel =")[0] + "\n")
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "--no-cache", "--select", "LCK401", "--format", "json", "train.py"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(f["line"], f["code"]) for f in out] == [(7, "LCK401")]
    assert "takes channels 0:2 of output 'seg'" in out[0]["message"]
