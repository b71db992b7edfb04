"""The pre-filter must never hide a file a rule would report on (a miss is a silent miss)."""

from __future__ import annotations

import keyword
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from losscheck.lint import finder, prefilter_checks
from losscheck.lint.engine import lint_source
from losscheck.lint.prefilter import Prefilter
from losscheck.lint.registry import load_registry

RULES = load_registry(plugins=False).rules
REPO = Path(__file__).resolve().parents[2]


def test_names_cover_the_finders():
    assert finder.STRONG_TRUE | finder.STRONG_PRED <= prefilter_checks.STRONG_NAMES
    assert finder.WEAK_PAIRS | finder.NAMED_PAIRS <= prefilter_checks.WEAK_PAIRS


CASES = [
    pytest.param(rule, case.code, id=f"{rule.code}-invalid-{i}")
    for rule in RULES
    for i, case in enumerate(rule.invalid_examples())
]


@pytest.mark.parametrize("rule,code", CASES)
def test_every_invalid_example_passes_its_rules_prefilter(rule, code):
    assert Prefilter([rule]).wants(code.encode()), f"{rule.code}'s pre-filter hides:\n{code}"


def test_prefilter_agrees_with_full_lint_on_the_examples():
    """Files the pre-filter rejects produce no findings when linted anyway."""
    pre = Prefilter(RULES)
    paths = sorted((REPO / "examples").rglob("*.py"))
    assert paths
    for path in paths:
        data = path.read_bytes()
        if not pre.wants(data):
            assert lint_source(data.decode(), str(path), rules=RULES) == []


STRONG_T = sorted(finder.STRONG_TRUE)
STRONG_P = sorted(finder.STRONG_PRED)
PAIRS = sorted(finder.WEAK_PAIRS)
IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))


@st.composite
def loss_signatures(draw):
    kind = draw(st.sampled_from(["strong", "pair"]))
    if kind == "strong":
        a, b = draw(st.sampled_from(STRONG_T)), draw(st.sampled_from(STRONG_P))
    else:
        a, b = draw(st.sampled_from(PAIRS))
    method = draw(st.booleans())
    ann = draw(st.sampled_from(["", ": tf.Tensor", ": 'Float[Tensor, \"b 2\"]'"]))
    default = draw(st.sampled_from(["", "=None"]))
    ws = draw(st.sampled_from(["", " ", "\n    "]))
    params = f"{'self, ' if method else ''}{a}{ann}{default},{ws}{b}{ann}{default}"
    name = draw(IDENT)
    if draw(st.booleans()):
        return f"def {name}({params}):\n    return {b}\n"
    return f"{name} = lambda {a}, {b}: {b}\n"


@given(src=loss_signatures())
def test_any_signature_the_finder_accepts_passes(src):
    assert Prefilter(RULES).wants(src.encode())


def test_rejects_plain_code_and_string_losses():
    pre = Prefilter(RULES)
    assert not pre.wants(b"import os\n\ndef main(argv):\n    return os.getcwd()\n")
    assert not pre.wants(b'model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])\n')
    assert pre.wants(b"def f(y_true, y_pred):\n    return y_pred\n")
    assert pre.wants(b'def mk(k):\n    def f(a, b):\n        return a\n    return f\nmodel.compile(loss=mk(3))\n')
    assert pre.wants(b'fn = mk(3)\nmodel.compile(loss={"a": fn})\ndef mk(k):\n    pass\n')
    assert pre.wants(b"model.compile(loss=lambda a, b: a)\n")


def test_plugin_rule_without_triggers_parses_everything():
    class Plugin:
        code, name, origin = "XYZ100", "x", "some-plugin"

    assert Prefilter([Plugin]).wants(b"pass\n")

    class Plugin2(Plugin):
        triggers = (rb"\btorch\b",)

    assert not Prefilter([Plugin2]).wants(b"pass\n") and Prefilter([Plugin2]).wants(b"import torch\n")


@pytest.mark.parametrize(
    "source,expected",
    [
        # NumPy on a TensorFlow op, next to the step that differentiates it
        ("import numpy as np\nimport tensorflow as tf\ng = tf.reduce_mean(np.abs(tf.sqrt(a) - b))\n"
         "step = opt.minimize(g)\n", True),
        ("import numpy as np\nimport tensorflow as T\nwith T.GradientTape() as tape:\n"
         "    loss = np.mean(T.square(y - p))\n", True),
        ("import numpy as np\nfrom tensorflow import sqrt\nwith tf.GradientTape() as tape:\n"
         "    loss = np.sum(sqrt(y))\n", True),
        # NumPy on arrays beside a tape (a test comparing results), or a tape far away
        ("import numpy as np\nwith tf.GradientTape() as tape:\n    out = model(x)\n"
         "np.testing.assert_allclose(out_np, np.ones((2, 3)))\n", False),
        ("import numpy as np\nimport tensorflow as tf\nv = np.abs(tf.sqrt(a))\n" + "x = 1\n" * 120
         + "opt.minimize(loss)\n", False),
        ("import numpy as np\nimport scipy.optimize\nr = scipy.optimize.minimize(f, np.abs(tf.sqrt(a)))\n", False),
        ("import tensorflow as tf\nwith tf.GradientTape() as tape:\n    loss = tf.reduce_mean(tf.square(y - p))\n", False),
    ],
)
def test_training_step_numpy(source, expected):
    from losscheck.lint.prefilter_checks import training_step_numpy

    assert training_step_numpy(source.encode()) is expected
