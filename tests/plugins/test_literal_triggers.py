"""Plugin triggers are literal substrings checked before anything else, and a plugin rule about
loss code parses no file that the built-in rules would not parse.

Also: the pre-filter's checks, rewritten for speed, answer exactly as their plain definitions
(kept below as reference implementations) on generated text and on real trees.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from losscheck.lint import prefilter, prefilter_checks
from losscheck.lint.api.loss_names import STRONG_PRED_PREFIX, STRONG_TRUE_PREFIX
from losscheck.lint.rule_manifest import RuleInfo
from losscheck.lint.prefilter import Prefilter, literals_for, triggers_for
from losscheck.lint.registry import load_registry, trigger_problem
from losscheck.lint.rule import Rule

REPO = Path(__file__).resolve().parents[2]
BUILTIN = load_registry(plugins=False).rules


def _example_plugin() -> type[Rule]:
    """The example plugin's rule, imported from the source tree (no install needed)."""
    folder = str(REPO / "plugins" / "example_minimal")
    sys.path.insert(0, folder)
    try:
        import losscheck_example_minimal as module
    finally:
        sys.path.remove(folder)
    return module.PrintInLoss


PRINT_IN_LOSS = _example_plugin()


def _torch_rules() -> list[type[Rule]]:
    folder = str(REPO / "plugins" / "torch")
    if importlib.util.find_spec("losscheck_torch") is None:
        sys.path.insert(0, folder)
    from losscheck_torch.rules import RULES

    return list(RULES)


def _corpus() -> list[bytes]:
    """examples/, this repository's Python, and the installed Keras sources when there are any
    (located without importing Keras)."""
    roots = [REPO / "examples", REPO / "losscheck", REPO / "plugins", REPO / "benchmarks"]
    spec = importlib.util.find_spec("keras")
    if spec is not None and spec.submodule_search_locations:
        roots.append(Path(list(spec.submodule_search_locations)[0]))
    return [p.read_bytes() for root in roots for p in sorted(root.rglob("*.py"))]


CORPUS = _corpus()


# -- the declarations ---------------------------------------------------------------------------
@pytest.mark.parametrize("rule", [PRINT_IN_LOSS, *_torch_rules()], ids=lambda r: r.code)
def test_first_party_plugins_declare_literal_triggers(rule):
    assert isinstance(rule.triggers, tuple) and rule.triggers
    assert all(type(t) is str and t and t not in prefilter_checks.CHECKS for t in rule.triggers), rule.triggers
    assert literals_for(rule) == rule.triggers
    assert trigger_problem(rule) is None


def test_example_plugin_runs_where_loss_code_and_print_are():
    assert literals_for(PRINT_IN_LOSS) == ("print",)
    assert triggers_for(PRINT_IN_LOSS) == ("loss-code",)  # the default for a rule about loss code
    pre = Prefilter([PRINT_IN_LOSS])
    loss = b"def my_loss(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n"
    assert not pre.wants(b"print('hello')\n")  # print, no loss code
    assert not pre.wants(loss)  # loss code, no print
    assert pre.wants(loss.replace(b"    return", b"    print(y_pred)\n    return"))
    for case in PRINT_IN_LOSS.invalid_examples():
        assert pre.wants(case.code.encode()), case.code


def test_a_loss_code_plugin_parses_no_file_the_builtin_rules_skip():
    """The example plugin once parsed every file saying ``print(`` (96 of Keras's 904 files
    instead of 61): its triggers may narrow what it runs on, never widen what gets parsed."""
    core, with_plugin = Prefilter(BUILTIN), Prefilter([*BUILTIN, PRINT_IN_LOSS])
    assert len(CORPUS) > 100
    printing = [d for d in CORPUS if b"print(" in d and not core.wants(d)]
    assert printing, "the corpus should hold files that print but hold no loss code"
    for data in CORPUS:
        assert with_plugin.wants(data) == core.wants(data)


def test_literal_gate_comes_before_the_checks(monkeypatch):
    calls: list[str] = []
    for name in prefilter_checks.LOSS_CODE:
        real = prefilter_checks.CHECKS[name]
        monkeypatch.setitem(prefilter_checks.CHECKS, name, lambda data, real=real, name=name: calls.append(name) or real(data))

    class NeedsMarker(Rule):
        code, name, origin = "XLT100", "needs-marker", "a-plugin"
        triggers = ("MARKER",)

    pre = Prefilter([NeedsMarker])
    assert not pre.wants(b"def f(y_true, y_pred):\n    return y_pred\n")
    assert calls == []  # no MARKER: no check ran
    assert pre.wants(b"def f(y_true, y_pred):  # MARKER\n    return y_pred\n")
    assert calls


def test_trigger_forms():
    class Literal(Rule):
        code, name, origin = "XLT101", "literal", "a-plugin"
        triggers = ("needle",)
        trigger_checks = ()  # the literal alone decides

    class Regex(Rule):  # plugin API 1: a bytes regex, no literal gate
        code, name, origin = "XLT102", "regex", "a-plugin"
        triggers = (rb"\bneedle\b",)

    class Named(Rule):  # plugin API 1: a core check by name
        code, name, origin = "XLT103", "named", "a-plugin"
        triggers = ("model-multi",)

    class Both(Rule):
        code, name, origin = "XLT104", "both", "a-plugin"
        triggers = ("torch",)
        trigger_checks = (rb"import\s+torch",)

    class Unset(Rule):
        code, name, origin = "XLT105", "unset", "a-plugin"

    assert Prefilter([Literal]).wants(b"x = 'needles'\n")
    assert not Prefilter([Literal]).wants(b"x = 1\n")
    assert not Prefilter([Regex]).wants(b"needles\n") and Prefilter([Regex]).wants(b"a needle\n")
    assert Prefilter([Named]).wants(b"model.compile(loss=['mse', 'mae'])\n")
    assert not Prefilter([Named]).wants(b"needle\n")
    assert not Prefilter([Both]).wants(b"# torch\n") and Prefilter([Both]).wants(b"import torch\n")
    assert Prefilter([Unset]).wants(b"pass\n")
    assert Prefilter([Literal, Regex, Both]).select(b"import torch  # needle\n") == ["XLT101", "XLT102", "XLT104"]


@pytest.mark.parametrize(
    "triggers,checks,problem",
    [
        (("print",), None, None),
        ((b"(unclosed",), None, "not a valid regex"),
        (("",), None, "empty trigger"),
        ((42,), None, "neither a str nor a bytes regex"),
        ("print", None, "must be tuples"),
        (("print",), ("no-such-check",), "unknown trigger check"),
        (("print",), (rb"def\s",), None),
    ],
)
def test_registry_refuses_bad_triggers(triggers, checks, problem):
    attrs = {"code": "XLT200", "name": "t", "triggers": triggers}
    if checks is not None:
        attrs["trigger_checks"] = checks
    rule = type("T", (Rule,), attrs)
    found = trigger_problem(rule)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_manifest_entry_keeps_the_literals():
    """Runs read rules from the manifest, not the classes: the same files must be selected."""
    rules = [*BUILTIN, PRINT_IN_LOSS, *_torch_rules()]
    infos = [RuleInfo.of(r) for r in rules]
    assert next(i for i in infos if i.code == "LXM101").literals == ("print",)
    from_classes, from_infos = Prefilter(rules), Prefilter(infos)
    for data in CORPUS:
        assert from_classes.select(data) == from_infos.select(data)


# -- the faster checks answer as their plain definitions ---------------------------------------
_WORD = re.compile(rb"\w")
# a strong name: one of the names, or a name that starts with a strong prefix (`y_true_mask`)
_STRONG = re.compile(
    rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(prefilter_checks.STRONG_NAMES, key=len, reverse=True))
    + rb"|" + re.escape(STRONG_TRUE_PREFIX.encode()) + rb"\w+|" + re.escape(STRONG_PRED_PREFIX.encode()) + rb"\w+)\b"
)


def ref_strong_anywhere(data: bytes) -> bool:
    return _STRONG.search(data) is not None


def ref_weak_pair(data: bytes) -> bool:
    for m in (*re.finditer(rb"def\s+\w+\s*\(([^)]*)", data), *re.finditer(rb"lambda\b([^:\n]*):", data)):
        names = []
        for part in m.group(1).decode("latin-1").split(","):
            pm = re.match(r"\s*\**\s*(\w+)", part)
            if pm and pm.group(1) not in ("self", "cls"):
                names.append(pm.group(1))
            if len(names) == 2:
                break
        if len(names) == 2 and tuple(names) in prefilter_checks.WEAK_PAIRS:
            return True
    return False


def ref_loss_signature(data: bytes) -> bool:
    return prefilter_checks._strong_param(data) or ((b"def" in data or b"lambda" in data) and ref_weak_pair(data))


def _word_at(data: bytes, start: int, end: int) -> bool:
    before, after = data[start - 1 : start] if start else b"", data[end : end + 1]
    return not (before and _WORD.match(before)) and not (after and _WORD.match(after))


def ref_assigned_from(data: bytes, name: bytes, defined: set[bytes]) -> bool:
    i = data.find(name)
    while i != -1:
        end = i + len(name)
        if _word_at(data, i, end):
            rest = data[end : data.find(b"\n", end) if b"\n" in data[end:] else len(data)]
            stripped = rest.lstrip()
            if stripped.startswith(b"=") and not stripped.startswith(b"==") and (
                set(re.findall(rb"[A-Za-z_]\w*", stripped)) & defined or stripped[1:].lstrip().startswith(b"lambda")
            ):
                return True
        i = data.find(name, end)
    return False


def ref_assigned_container(data: bytes, name: bytes) -> bool:
    i = data.find(name)
    while i != -1:
        end = i + len(name)
        if _word_at(data, i, end) and re.compile(rb"\s*=\s*" + prefilter_checks._CONTAINER).match(data, end):
            return True
        i = data.find(name, end)
    return False


def ref_in_prose(data: bytes, at: int) -> bool:
    """Right after a backtick, or on a line whose first non-blank text is `#` or `>>>`."""
    after_backtick = at > 0 and data[at - 1 : at] == b"`"
    line_so_far = data[data.rfind(b"\n", 0, at) + 1 : at].lstrip(b" \t")
    return after_backtick or line_so_far.startswith((b"#", b">>>"))


def ref_keras_backend(data: bytes) -> bool:
    if b"backend" not in data or re.search(rb"\bimport\b[^\n]*\bkeras\b|\bfrom\s+keras\b", data) is None:
        return False
    for alias in re.findall(rb"\bimport\s+keras\s+as\s+(\w+)", data):
        if alias != b"keras" and re.search(rb"\b" + alias + rb"\s*\.\s*backend\b", data):
            return True
    combined = re.compile(
        rb"keras\s*\.\s*backend\b|from\s+keras\s+import\s*\(?[^)\n]*\bbackend\b|from\s+keras\s+import\s*\([^)]*\bbackend\b"
    )
    for m in combined.finditer(data):
        if not m.group(0).startswith(b"keras"):
            return True
        if ref_in_prose(data, m.start()):
            continue
        attr = re.match(rb"keras\s*\.\s*backend\s*\.\s*(\w+)", data[m.start() :])
        if attr is None:
            return True
        if attr.group(1) not in prefilter_checks.KERAS3_BACKEND_NAMES and not attr.group(1).startswith(b"_"):
            return True
    return False


def ref_model_calls(data: bytes) -> list[bytes]:
    return [n for n in prefilter_checks._MODEL_CALLS if b"." + n in data]


TOKENS = [
    *sorted(prefilter_checks.STRONG_NAMES), "xy_true", "y_true2", "_y_pred", "my_pred_y", "y", "true", "pred", "preds",
    "labels", "label", "logits", "probs", "output", "outputs", "target", "targets", "gt", "prediction",
    "self", "cls", "def", "lambda", "class", "import", "from", "keras", "backend", "as", "K", "k", "tf",
    "floatx", "mean", "_private", "epsilon", "compile", "fit", "evaluate", "train_on_batch", "loss",
    "loss_weights", "metrics", "make", "fn", "dict", "list", "tuple", "x", "a1", "_",
    "=", "==", " = ", "(", ")", "[", "]", "{", "}", ",", ", ", ":", ".", " . ", "*", "**", "#", "'", '"',
    " ", "  ", "\t", "\n", "\n    ", "\r", "\x0c", "é", "`", ">>>", ">>> ",
]
TEXT = st.lists(st.sampled_from(TOKENS), max_size=40).map(lambda parts: "".join(parts).encode("utf-8"))
NAMES = st.sampled_from([b"fn", b"y", b"loss", b"make", b"k", b"x", b"target", b"y_pred"])


@settings(max_examples=600)
@given(data=TEXT)
@example(data=b"import keras\nreimport keras as k\nk.backend.mean(x)\n")  # `import` must be a word
@example(data=b"import keras as k\nk.backend.mean(x)\n")
@example(data=b"import keras\nfrom keras import (\n    ops,\n    backend)\n")
@example(data=b"import keras\nx = tf_keras.backend.mean\n")
@example(data=b"def f(xy_true, y_pred2):\n    pass\nmy_true_y = 1\n")
@example(data=b"def f(labels, logits_2):\n    pass\nf = lambda gt, prediction: 0\n")
@example(data=b"y_true_private")  # a strong prefix: `y_true_mask` is y_true's kin
def test_fast_checks_agree_with_their_definitions(data):
    assert prefilter_checks._strong_anywhere(data) == ref_strong_anywhere(data)
    assert prefilter_checks.loss_signature(data) == ref_loss_signature(data)
    assert prefilter_checks.keras_backend(data) == ref_keras_backend(data)
    found = set(prefilter_checks._MODEL_CALL.findall(data))
    assert [n for n in prefilter_checks._MODEL_CALLS if n in found] == ref_model_calls(data)


@settings(max_examples=400)
@given(data=TEXT, name=NAMES, defined=st.sets(NAMES, max_size=3))
@example(data=b"myfn = make(3)\n", name=b"fn", defined={b"make"})  # `fn` must be a word
@example(data=b"fn = make(3)\n", name=b"fn", defined={b"make"})
@example(data=b"fn == make(3)\nfn =\tlambda a, b: a\n", name=b"fn", defined=set())
@example(data=b"xy = [1]\ny = {2: 3}\n", name=b"y", defined=set())
@example(data=b"xy = [1]\n", name=b"y", defined=set())
def test_assignment_lookups_agree_with_their_definitions(data, name, defined):
    assert prefilter_checks._assigned_from(data, name, defined) == ref_assigned_from(data, name, defined)
    assert prefilter_checks._assigned_container(data, name) == ref_assigned_container(data, name)


def test_fast_checks_agree_on_real_trees():
    for data in CORPUS:
        assert prefilter_checks._strong_anywhere(data) == ref_strong_anywhere(data)
        assert prefilter_checks.keras_backend(data) == ref_keras_backend(data)
        assert prefilter_checks.loss_signature(data) == ref_loss_signature(data)


# -- all_of regexes run part by part -----------------------------------------------------------
PARTS = [rb"(?:import|from)\s+torch\b", rb"def\s+\w*loss", rb"softmax|sigmoid", rb"a.b", rb"(x)(?:y)", rb"[)]z"]


@settings(max_examples=300)
@given(parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=3), data=TEXT)
@example(parts=[rb"a.b"], data=b"a\nb")  # the (?s) of the whole applies to each part
def test_all_of_runs_part_by_part_with_the_same_answer(parts, data):
    pattern = prefilter.all_of(*parts)
    assert prefilter.all_of_parts(pattern) == parts

    class AllOf(Rule):
        code, name, origin = "XLT300", "all-of", "a-plugin"
        triggers = (pattern,)

    assert Prefilter([AllOf]).wants(data) == (re.search(pattern, data) is not None)


@pytest.mark.parametrize(
    "pattern",
    [
        rb"(?s)\A(?=.*?(?:(a)))(?=.*?(?:\1))",  # a back-reference across parts
        rb"(?s)\A(?=.*?(?:(?P<n>a)))(?=.*?(?:(?P=n)))",
        rb"(?s)\A(?=.*?(?:a))(?=.*?(?:b)))(?=.*?(?:c))",  # does not split where all_of joins
        rb"(?s)\A(?=.*?(?:a))",
        rb"\A(?=.*?(?:a))(?=.*?(?:b))",
    ],
)
def test_other_regexes_are_run_whole(pattern):
    parts = prefilter.all_of_parts(pattern)
    assert parts is None or (len(parts) == 1 and pattern == prefilter.all_of(*parts))


def test_torch_triggers_split():
    _torch_rules()  # importable from the source tree
    from losscheck_torch.rules._base import ACTIVATION_TRIGGER, LOSS_CODE_TRIGGER, TORCH_IMPORT

    assert prefilter.all_of_parts(LOSS_CODE_TRIGGER)[0] == TORCH_IMPORT
    assert len(prefilter.all_of_parts(ACTIVATION_TRIGGER)) == 3
