"""Focused parsing (lint/focus.py): definitions no rule can reach are blanked before libcst parses.

Blanking must change no finding. That is checked three ways: on every rule's VALID/INVALID
cases and on generated loss programs, with the size floor lowered so that every input is
focused, and on cases that spell out each way one definition reaches another.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from losscheck.lint import engine, focus, guard
from losscheck.lint.prefilter import Prefilter
from losscheck.lint.registry import load_registry
from loss_programs import loss_programs

REGISTRY = load_registry()
RULES = [r for r in REGISTRY.rules if getattr(r, "default_enabled", True)]
PREFILTER = Prefilter(RULES)


def _selected(source: str) -> tuple:
    """The rules a run gives the file: those whose triggers it meets (``runner.check_all``). A
    rule run on a file its triggers reject (``migrate``) keeps the file whole."""
    codes = set(PREFILTER.select(source.encode("utf-8", "surrogatepass")))
    return tuple(r for r in RULES if r.code in codes)


def _key(finding) -> tuple:
    return (finding.line, finding.column, finding.end_line, finding.end_column, finding.code, finding.message)


def _lint(source: str, *, focused: bool) -> list[tuple]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(focus, "FOCUS_MIN_CHARS", 0 if focused else 10**12)
        return [_key(f) for f in engine.lint_source(source, "module.py", rules=_selected(source))]


def _focused(source: str) -> str | None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(focus, "FOCUS_MIN_CHARS", 0)
        result = focus.focus(source, guard.scan(source), engine._part_test(_selected(source)))
    return None if result is None else result.source


def _kept(source: str) -> str:
    """The focused text without its blank lines: what libcst sees."""
    text = _focused(source)
    assert text is not None, "nothing was blanked"
    return "\n".join(line for line in text.splitlines() if line.strip())


# -- what is blanked, and how -------------------------------------------------------------------

SPREAD = textwrap.dedent('''\
    import tensorflow as tf
    SCALE = 2.0

    def unrelated(x):
        return x + 1

    @tf.function
    def also_unrelated(a, b):
        """doc
    def not_a_statement(): at column 0 inside a string"""
        return a * b

    def helper(t):
        return tf.reduce_mean(t)

    # losscheck: output y_pred[:, 0:2] = boxes
    def loss(y_true, y_pred):
        return helper(y_true - y_pred) * SCALE

    def train(model):
        return loss(model.y, model.p)
    ''')


def test_unreachable_definitions_are_blanked_in_place() -> None:
    text = _focused(SPREAD)
    assert text is not None
    assert len(text) == len(SPREAD) and text.count("\n") == SPREAD.count("\n")
    kept = _kept(SPREAD)
    assert "unrelated" not in kept and "not_a_statement" not in kept and "@tf.function" not in kept
    # the helper the loss calls, the loss, its caller, module code and the comment above a def
    for part in ("def helper(t):", "def loss(y_true, y_pred):", "def train(model):", "SCALE = 2.0",
                 "# losscheck: output"):
        assert part in kept
    for line in SPREAD.splitlines():  # what is kept is where it was
        if line.strip() and line in kept:
            assert line in text.splitlines()


def test_the_focused_text_and_scan_parse_and_locate_like_the_file() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(focus, "FOCUS_MIN_CHARS", 0)
        result = focus.focus(SPREAD, guard.scan(SPREAD), engine._part_test(_selected(SPREAD)))
    assert result is not None
    cst.parse_module(result.source)
    fresh = guard.scan(result.source)
    assert (result.scan.line_offsets, result.scan.line_depths) == (fresh.line_offsets, fresh.line_depths)


def test_model_builders_base_classes_and_globals_stay() -> None:
    source = textwrap.dedent('''\
        import keras

        def build():
            inputs = keras.Input((4,))
            return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))

        def configure():
            global WEIGHT
            WEIGHT = 3.0

        class Base(keras.losses.Loss):
            pass

        class Child(Base):
            def call(self, y_true, y_pred):
                return y_pred * WEIGHT

        class Unused:
            def method(self):
                return 1

        def run():
            model = build()
            model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        ''')
    kept = _kept(source)
    for part in ("def build():", "def configure():", "class Base(", "class Child(Base):", "def run():"):
        assert part in kept
    assert "class Unused" not in kept


def test_a_rule_literal_alone_does_not_keep_a_definition() -> None:
    """LCK106's literals ("softmax", "sigmoid", "logits") gate the file; a definition that only
    says one of them, and that nothing kept mentions, is blanked. The helper whose softmax the
    logits sink receives stays because the sink's function calls it."""
    source = textwrap.dedent('''\
        import tensorflow as tf

        def forward(x):
            return tf.nn.softmax(x)

        def describe(kind):
            return "sigmoid" if kind == "binary" else "softmax"

        def cost(y, x):
            return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=forward(x))
        ''')
    kept = _kept(source)
    assert "def forward(x):" in kept and "def cost(y, x):" in kept
    assert "def describe" not in kept
    findings = _lint(source, focused=True)
    assert findings == _lint(source, focused=False)
    assert [key[4] for key in findings] == ["LCK106"]


def test_test_methods_go_alone_and_framework_methods_stay_with_their_class() -> None:
    source = textwrap.dedent('''\
        import keras
        from keras import ops

        class LossTest:
            def setUp(self):
                self.weight = 2.0

            def call(self, x):
                return x

            def test_loss(self):
                def loss(y_true, y_pred):
                    return ops.mean(y_true - y_pred) * self.weight
                return loss

            def test_shapes(self):
                return ops.ones((2, 3)).shape

            def test_other(self):
                return 4
        ''')
    kept = _kept(source)
    for part in ("def setUp(self):", "def call(self, x):", "def test_loss(self):"):
        assert part in kept
    assert "test_shapes" not in kept and "test_other" not in kept


def test_a_body_of_test_methods_keeps_one() -> None:
    source = textwrap.dedent('''\
        import keras

        class LossTest:
            def test_loss(self):
                def loss(y_true, y_pred):
                    return y_pred
                return loss

            def test_other(self):
                return 1
        ''')
    cst.parse_module(_focused(source))
    assert "test_other" not in _kept(source)
    # a class anchored by none of its test methods alone (the safety net) keeps its shortest one
    cls = focus._Unit(0, 100, "C", frozenset({"C"}), "class C: ...", anchored=True)
    long = focus._Unit(10, 60, "test_a", frozenset({"test_a"}), "def test_a", anchored=False, parent=cls)
    short = focus._Unit(60, 100, "test_b", frozenset({"test_b"}), "def test_b", anchored=False, parent=cls)
    cls.methods, cls.methods_only = [long, short], True
    focus._keep_reachable([cls], [])
    assert (cls.kept, long.kept, short.kept) == (True, False, True)


@pytest.mark.parametrize("source", [
    "import keras\n\ndef loss(y_true, y_pred):\n    return y_pred\n",  # nothing to blank
    "from keras import backend as K\n\ndef f(x):\n    return K.sum(x)\n\ndef loss(y_true, y_pred):\n    return y_pred\n",
    "def f(x):\n    return x\n\ndef loss(y_true, y_pred):\n    return y_pred\n" + "x = (" + " + ".join(["a"] * 2000) + ")\n",
])
def test_files_that_are_not_focused(source: str) -> None:
    """Nothing to blank; a trigger its imports meet (every use of ``K`` counts); a long chain
    parsed flat at offsets of the file."""
    assert _focused(source) is None


@pytest.mark.parametrize("broken", [
    "def unrelated(x):\n    return x = = 1\n",  # a syntax error inside a definition nothing reaches
    "def unrelated(x):\n\treturn x\n",  # tabs: their consistency depends on the lines around
    "class Unrelated:\n    x = 1\n    def test_a(self):\n        return (\n",  # a test method never closed
])
def test_what_would_not_parse_is_not_blanked(broken: str) -> None:
    source = "import keras\n\n" + broken + "\n\ndef loss(y_true, y_pred):\n    return keras.ops.mean(y_pred)\n"
    assert _focused(source) is None
    assert _lint(source, focused=True) == _lint(source, focused=False)


def test_line_breaks_of_every_kind_stay_where_they_are() -> None:
    source = SPREAD.replace("\n", "\r\n")
    text = _focused(source)
    assert text is not None and len(text) == len(source)
    assert [i for i, c in enumerate(text) if c in "\r\n"] == [i for i, c in enumerate(source) if c in "\r\n"]
    assert _lint(source, focused=True) == _lint(source, focused=False)


def test_imports_read_as_the_lines_they_are() -> None:
    """``from keras import backend`` ends its line: read before the next import without a line
    break in between, it no longer names the backend, and every use of it was blanked."""
    calls = "".join(f"\n\ndef case_{i}(x):\n    return backend.any(x > {i})\n" for i in range(60))
    source = "from keras import backend\nimport keras\nfrom keras import ops\n" + calls
    assert len(source) > 2_000
    assert _focused(source) is None
    whole = _lint(source, focused=False)
    assert len([f for f in whole if f[4] == "LCK302"]) == 60
    assert _lint(source, focused=True) == whole


@pytest.mark.parametrize("comment", [
    "# losscheck: output y_pred[:, 0:2] = boxes\n",  # above an unrelated def: it would pass to the loss
    "    # shape: (B, 3)\n",  # an indented comment after a def is that def's; blanked, the loss's
])
def test_a_definition_next_to_a_comment_that_rules_read_is_kept(comment: str) -> None:
    filler = "".join(f"\n\ndef filler_{i}(x):\n    return x + {i}\n" for i in range(40))
    if comment.startswith("#"):
        middle = comment + "def unrelated(x):\n    return x\n"
    else:
        middle = "def unrelated(x):\n    return x\n" + comment
    source = ("import keras\n" + filler + "\n\n" + middle
              + "def loss(y_true, y_pred):\n    return keras.ops.mean(y_true - y_pred, axis=-1)\n")
    kept = _kept(source)
    assert "def unrelated(x):" in kept and "def filler_0(" not in kept
    assert _lint(source, focused=True) == _lint(source, focused=False)


def test_small_files_are_parsed_as_they_are() -> None:
    assert focus.focus(SPREAD, guard.scan(SPREAD), engine._part_test(_selected(SPREAD))) is None


def test_a_fix_comes_from_the_whole_file() -> None:
    """A fix may add or drop an import, which only the whole file can tell: a focused file with a
    fixable finding is linted again whole."""
    body = "import keras\nfrom keras import backend as K\n\n"
    source = body + "\n".join(f"def unrelated_{i}(x):\n    return x + {i}\n" for i in range(400))
    source += "\ndef loss(y_true, y_pred):\n    return K.mean(K.square(y_true - y_pred))\n"
    assert len(source) > focus.FOCUS_MIN_CHARS
    rules = _selected(source)
    findings = engine.lint_source(source, "module.py", rules=rules)
    assert findings == engine.lint_source(source, "module.py", rules=rules, options={"whole_file": True})


# -- the same findings ------------------------------------------------------------------------

CASES = [
    pytest.param(case.code, id=f"{rule.name}-{kind}-{i}")
    for rule in REGISTRY.rules
    for kind, cases in (("valid", rule.valid_examples()), ("invalid", rule.invalid_examples()))
    for i, case in enumerate(cases)
]


@pytest.mark.parametrize("source", CASES)
def test_rule_cases_report_the_same_focused(source: str) -> None:
    assert _lint(source, focused=True) == _lint(source, focused=False)


# Names the extra definitions take and mention: the generated programs' own (loss, metric, model,
# the tensors) and names of their own, so that they call, subclass and shadow one another.
SPREAD_NAMES = ["loss", "metric", "dice", "inner", "model", "helper", "build", "scale", "Base", "Dice",
                "mask", "num_classes", "y_true", "unrelated", "train"]


@st.composite
def spread_programs(draw) -> str:
    """A generated loss program with definitions around it that reach it, or each other, or
    nothing: what a focused parse weighs."""
    program = draw(loss_programs())
    name, other = st.sampled_from(SPREAD_NAMES), st.sampled_from(SPREAD_NAMES)
    extra = draw(st.lists(st.one_of(
        st.builds(lambda n, o: f"def {n}(x):\n    return {o}(x) + 1\n", name, other),
        st.builds(lambda n, o: f"class {n.title()}({o}):\n    def call(self, x):\n        return {o}\n", name, other),
        st.builds(lambda n, o: f"class {n.title()}Test:\n    weight = {o}\n\n    def test_{n}(self):\n"
                               f"        return {o}(self.weight)\n\n    def test_other(self):\n        return 2\n",
                  name, other),
        st.builds(lambda n: f"def set_{n}():\n    global {n}\n    {n} = 3\n", name),
        st.builds(lambda o: f"def fit_{o}(model):\n    model.fit(x, [{o}, {o}])\n", other),
        # what LCK106 follows from a logits sink: activations in builders, helpers and callers
        st.builds(lambda n, o: f"def {n}_probs(x):\n    return tf.nn.softmax({o}(x))\n", name, other),
        st.builds(lambda n, o: f"def {n}_cost(y, x):\n    return tf.nn.sigmoid_cross_entropy_with_logits("
                               f"labels=y, logits={o}(x))\n", name, other),
        st.builds(lambda n: f"def build_{n}():\n    return keras.Sequential([keras.layers.Dense(3, "
                            f"activation=\"sigmoid\")])\n", name),
        st.builds(lambda n, o: f"def {n}_step(x, y):\n    m = build_{o}()\n    m.compile(loss=keras.losses."
                               f"BinaryCrossentropy(from_logits=True))\n    return {o}_cost(y, {n}_probs(x))\n",
                  name, other),
    ), max_size=6))
    before = draw(st.integers(0, len(extra)))
    return "\n".join([*extra[:before], program, *extra[before:]])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(loss_programs(), spread_programs()))
@example("import keras\n\nclass M(keras.Model):\n    def call(self, x):\n        return x\n\n"
         "    def train_step(self, data):\n        y_true, y_pred = data\n        return y_pred\n\n"
         "model = M()\nmodel.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n")
@example("import tensorflow as tf\nfrom .helpers import *\n\nasync def seg_loss(y_true, y_pred):\n"
         "    async def loss(y_true, y_pred):\n        x = (y_true).numpy()\n        return x\n"
         "    return loss\n\ndef metric(x):\n    return loss(x) + 1\n")  # a call that cannot see the nested def
def test_focused_and_whole_file_runs_agree(source: str) -> None:
    try:
        cst.parse_module(source)
    except Exception:  # noqa: BLE001 - only valid programs
        return
    assert _lint(source, focused=True) == _lint(source, focused=False)


def test_a_rule_run_outside_its_triggers_keeps_the_file_whole() -> None:
    """``migrate`` runs LCK302 on ``tensorflow.keras`` backend calls, which its triggers do not
    look for: nothing tells what it needs, so nothing is blanked."""
    from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi

    calls = "".join(f"\n\ndef case_{i}(x):\n    return K.abs(x + {i})\n" for i in range(60))
    source = "from tensorflow.keras import backend as K\n" + calls
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(focus, "FOCUS_MIN_CHARS", 0)
        assert focus.focus(source, guard.scan(source), engine._part_test((RemovedKerasApi,))) is None
