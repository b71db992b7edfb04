"""Module facts about Keras models (losscheck/lint/models.py): constructions, calls, layer outputs."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.models import ModelCall, ModuleModels, analyze
from losscheck.lint.rules.lck301_undefined_name import UndefinedName
from losscheck.lint.rules.lck303_model_tensor_in_loss import ModelTensorInLoss
from losscheck.lint.rules.lck501_sequential_multi_output import SequentialMultiOutput
from losscheck.lint.rules.lck502_list_for_dict_outputs import ListForDictOutputs


def facts(source: str) -> ModuleModels:
    return analyze(cst.parse_module(textwrap.dedent(source)))


def calls(source: str) -> list[ModelCall]:
    return facts(source).calls


def tensor_names(source: str) -> set[str]:
    return {node.value for node in facts(source).keras_tensor_targets}


@pytest.mark.parametrize(
    "imports, constructor",
    [
        ("import keras", "keras.Sequential"),
        ("import keras", "keras.models.Sequential"),
        ("import tensorflow as tf", "tf.keras.Sequential"),
        ("import tensorflow as tf", "tf.keras.models.Sequential"),
        ("from tensorflow import keras", "keras.Sequential"),
        ("from tensorflow.keras.models import Sequential", "Sequential"),
        ("from keras.models import Sequential as Seq", "Seq"),
        ("import tf_keras as keras", "keras.Sequential"),
    ],
)
def test_sequential_spellings(imports: str, constructor: str) -> None:
    found = calls(f"{imports}\nmodel = {constructor}([layer])\nmodel.fit(x, y)\n")
    assert [(c.method, c.receiver, c.model.kind) for c in found] == [("fit", "model", "sequential")]


@pytest.mark.parametrize(
    "source",
    [
        # not Keras: torch's Sequential, a local class, a re-bound import, an unimported name
        "from torch.nn import Sequential\nmodel = Sequential()\nmodel.fit(x, y)\n",
        "import keras\nclass Sequential: pass\nmodel = Sequential()\nmodel.fit(x, y)\n",
        "from keras import Sequential\nSequential = wrap(Sequential)\nmodel = Sequential()\nmodel.fit(x, y)\n",
        "import keras\nmodel = Sequential()\nmodel.fit(x, y)\n",
    ],
)
def test_not_keras_sequential(source: str) -> None:
    assert calls(source) == []


def test_calls_follow_the_binding_at_that_point() -> None:
    found = calls(
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        model.fit(x, y)
        model = keras.Model(inp, {"a": a, "b": b})
        model.fit(x, y)
        """
    )
    assert [c.model.kind for c in found] == ["sequential", "functional"]
    assert found[1].model.output_names == ("a", "b")


def test_conditional_rebinding_is_unknown_but_with_is_transparent() -> None:
    found = calls(
        """
        import keras
        with strategy.scope():
            model = keras.Sequential()
        model.compile(loss="mse")
        if flag:
            model = keras.Model(inp, out)
        model.fit(x, y)
        for _ in range(2):
            model.fit(x, y)
        """
    )
    assert [(c.method, c.model.kind) for c in found] == [("compile", "sequential")]


def test_inside_a_branch_the_branch_binding_holds() -> None:
    found = calls(
        """
        import keras
        if flag:
            m = keras.Sequential()
            m.fit(x, [y1, y2])
        """
    )
    assert [(c.method, c.model.kind) for c in found] == [("fit", "sequential")]


@pytest.mark.parametrize(
    "outputs, form, names",
    [
        ('{"b": b, "a": a}', "dict", ("b", "a")),
        ("dict(b=b, a=a)", "dict", ("b", "a")),
        ("{name: head for name, head in heads}", "dict", None),
        ("{**heads}", "dict", None),
        ("[b, a]", "list", None),
        ("(b, a)", "list", None),
        ("out", "single", None),
        ("make_outputs()", "unknown", None),
    ],
)
def test_functional_outputs(outputs: str, form: str, names: tuple[str, ...] | None) -> None:
    source = f"""
    import keras
    inp = keras.Input((3,))
    out = keras.layers.Dense(1)(inp)
    model = keras.Model(inputs=inp, outputs={outputs})
    model.compile(loss="mse")
    """
    (call,) = calls(source)
    assert (call.model.kind, call.model.outputs_form, call.model.output_names) == ("functional", form, names)


def test_outputs_through_a_name_and_positional() -> None:
    (call,) = calls(
        """
        from tensorflow.keras import Model
        heads = {"z": z, "y": y}
        model = Model(inp, heads)
        model.fit(x, [t1, t2])
        """
    )
    assert call.model.output_names == ("z", "y")
    y = call.y()
    assert isinstance(y, cst.List)


def test_builder_function_returns_its_model() -> None:
    found = calls(
        """
        import keras
        def build(units):
            model = keras.Sequential()
            model.add(keras.layers.Dense(units))
            return model
        def other():
            return something()
        m = build(3)
        m.fit(x, [a, b])
        n = other()
        n.fit(x, [a, b])
        """
    )
    assert [(c.receiver, c.model.kind) for c in found] == [("m", "sequential")]


def test_subclassed_models_have_unknown_outputs() -> None:
    (call,) = calls(
        """
        import keras
        class TwoHeads(keras.Model):
            def call(self, x):
                return {"b": x, "a": x}
        model = TwoHeads()
        model.compile(loss=["mse", "mae"])
        """
    )
    assert (call.model.kind, call.model.outputs_form) == ("subclassed", "unknown")


def test_arguments_by_position_keyword_and_star() -> None:
    (fit, compile_) = calls(
        """
        import keras
        model = keras.Sequential()
        model.fit(x=data, y=[a, b], epochs=3)
        model.compile("adam", ["mse", "mae"], loss_weights=[1, 2])
        model.fit(*arrays)
        """
    )[:2]
    assert isinstance(fit.y(), cst.List)
    assert isinstance(compile_.arg(1, "loss"), cst.List)
    assert isinstance(compile_.arg(None, "loss_weights"), cst.List)
    star = calls("import keras\nm = keras.Sequential()\nm.fit(*arrays)\n")[0]
    assert star.y() is None


def test_keras_tensors() -> None:
    names = tensor_names(
        """
        import keras
        from keras import layers, ops
        inp = keras.Input((28, 28, 1))
        h = layers.Conv2D(8, 3)(inp)
        dense = layers.Dense(4)
        d = dense(layers.Flatten()(h))
        s = d[:, 0]
        t = ops.concatenate([d, d], axis=-1)
        u = 2.0 * t
        mu, log_var = layers.Lambda(split)(u)
        model = keras.Model(inp, d)
        o = model.output
        f = model.layers[1].output
        g = model.get_layer("x").output
        w = model(inp)
        # not layer outputs
        eager = layers.Dense(3)(numpy_batch)
        k = dense
        n = ops.ones((3,))
        """
    )
    assert names == {"inp", "h", "d", "s", "t", "u", "mu", "log_var", "o", "f", "g", "w"}


def test_keras_tensors_in_functions_and_factory_arguments() -> None:
    result = facts(
        """
        import keras
        def build():
            x = keras.Input((4,))
            z = keras.layers.Dense(2)(x)
            model.compile(loss=make_loss(z, beta=x, scale=2.0))
        """
    )
    assert {n.value for n in result.keras_tensor_targets} == {"x", "z"}
    slots = [(slot, arg) for _call, slot, arg in result.keras_tensor_args["make_loss"]]
    assert slots == [(0, "z"), ("beta", "x")]


def test_files_without_keras_have_no_facts() -> None:
    result = facts("model = Sequential()\nmodel.fit(x, [a, b])\n")
    assert result.calls == [] and result.models == []


@pytest.mark.parametrize(
    "shadow",
    [
        "def train(model):\n    model.fit(x, [a, b])\n",
        "def train(*model):\n    model.fit(x, [a, b])\n",
        "def train(**model):\n    model.fit(x, [a, b])\n",
        "results = [model.fit(x, [a, b]) for model in models]\n",
        "fits = map(lambda model: model.fit(x, [a, b]), models)\n",
        "def train():\n    try:\n        pass\n    except E as model:\n        model.fit(x, [a, b])\n",
        "def train():\n    if (model := other()):\n        model.fit(x, [a, b])\n",
        "def train():\n    for model in models:\n        model.fit(x, [a, b])\n",
        "def train():\n    import model\n    model.fit(x, [a, b])\n",
    ],
)
def test_shadowing_names_are_not_the_module_model(shadow: str) -> None:
    source = "import keras\nmodel = keras.Sequential()\n" + shadow
    assert calls(source) == []


def test_nested_functions_see_a_model_bound_once() -> None:
    source = "import keras\nmodel = keras.Sequential()\ndef train():\n    model.fit(x, [a, b])\n"
    assert [(c.method, c.model.kind) for c in calls(source)] == [("fit", "sequential")]
    twice = source + "model = keras.Model(inp, out)\n"
    assert calls(twice) == []  # which one `train` sees depends on when it runs


# -- robustness: mutated examples never crash the model rules -----------------------------------

MODEL_RULES = [UndefinedName, ModelTensorInLoss, SequentialMultiOutput, ListForDictOutputs]
EXAMPLES = [
    case.code
    for rule in MODEL_RULES
    for case in [*rule.valid_examples(), *rule.invalid_examples()]
]


@settings(max_examples=60)
@given(
    example=st.sampled_from(EXAMPLES),
    data=st.data(),
)
def test_mutated_examples_never_crash(example: str, data: st.DataObject) -> None:
    lines = example.splitlines()
    # drop, duplicate or shift lines: unbalanced scopes, names used before/without binding
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "dedent", "indent"]))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "dedent":
            lines[i] = lines[i].removeprefix("    ")
        else:
            lines[i] = "    " + lines[i]
    source = "\n".join(lines) + "\n"
    findings = lint_source(source, "m.py", rules=MODEL_RULES)
    assert not [f for f in findings if f.code == "LCK997"], [f.message for f in findings]


@pytest.mark.parametrize(
    "build, names",
    [
        # a dict filled key by key keeps insertion order
        (
            'outs = {}\nouts["seg"] = a\nouts["cls"] = b\nouts["seg"] = c\nmodel = keras.Model(inp, outs)\n',
            ("seg", "cls"),
        ),
        # a comprehension over a list constant, in a builder function
        (
            (
                'TASKS = ["seg", "cls"]\ndef build():\n    return keras.Model(inp, {t: head(t) for t in TASKS})\n'
                "model = build()\n"
            ),
            ("seg", "cls"),
        ),
        ('model = keras.Model(inp, {t: head(t) for t in ("z", "a")})\n', ("z", "a")),
        # unknowable orders: a set, a filtered comprehension, a constant re-bound in a branch
        ('model = keras.Model(inp, {t: head(t) for t in {"z", "a"}})\n', None),
        ('model = keras.Model(inp, {t: head(t) for t in ["z", "a"] if t})\n', None),
        (
            (
                'TASKS = ["seg", "cls"]\nif small:\n    TASKS = ["cls"]\n'
                "def build():\n    return keras.Model(inp, {t: head(t) for t in TASKS})\nmodel = build()\n"
            ),
            None,
        ),
    ],
)
def test_dict_output_names(build: str, names: tuple[str, ...] | None) -> None:
    found = calls("import keras\n" + build + "model.fit(x, y)\n")
    assert [(c.model.outputs_form, c.model.output_names) for c in found] == [("dict", names)]


def test_dict_filled_in_a_loop_is_unknown() -> None:
    source = "import keras\nouts = {}\nfor t in TASKS:\n    outs[t] = head(t)\n"
    source += "m = keras.Model(inp, outs)\nm.fit(x, y)\n"
    found = calls(source)
    assert [(c.model.outputs_form, c.model.output_names) for c in found] == [("unknown", None)]


@pytest.mark.parametrize(
    "code, methods",
    [
        # the else branch does not see the if branch's model
        ("if c:\n    m = keras.Sequential()\nelse:\n    m.fit(x, y)\n", []),
        ("if c:\n    m = keras.Sequential()\n    m.fit(x, y)\nelse:\n    m.fit(x, y)\n", ["fit"]),
        ("match c:\n    case 1:\n        m = keras.Sequential()\n    case _:\n        m.fit(x, y)\n", []),
        # an except block may run before the try body re-bound anything
        ("m = keras.Sequential()\ntry:\n    m = load()\nexcept E:\n    m.fit(x, y)\n", []),
        ("m = keras.Sequential()\ntry:\n    pass\nexcept E:\n    m.fit(x, y)\n", ["fit"]),
        # a loop body that re-binds the name runs with the new binding from its second turn on
        ("m = keras.Sequential()\nfor i in r:\n    m.fit(x, y)\n    m = other()\nm.fit(x, y)\n", []),
        # one that does not keeps the binding from before it
        ("m = keras.Sequential()\nfor i in r:\n    m.fit(x, y)\nm.fit(x, y)\n", ["fit", "fit"]),
        # a name bound in a nested function's frame is read through the enclosing frames
        ("m = keras.Sequential()\ndef outer():\n    def inner():\n        m.fit(x, y)\n", ["fit"]),
        # a parameter, an except or with target, or an import shadows the module's model
        ("m = keras.Sequential()\ndef f(*, m):\n    m.fit(x, y)\n", []),
        ("m = keras.Sequential()\nwith open(p) as m:\n    m.fit(x, y)\n", []),
        ("m = keras.Sequential()\nfrom lib import m\nm.fit(x, y)\n", []),
        # unpacking pairs the elements
        ("m, n = keras.Sequential(), other()\nm.fit(x, y)\nn.fit(x, y)\n", ["fit"]),
        # re-bound later in the loop, but built again before the call on every turn
        ("for q in qs:\n    m = keras.Sequential()\n    m.compile(loss=q)\n    m = load(q)\n", ["compile"]),
        # the same model whichever branch ran
        ("m = keras.Sequential()\nif c:\n    n = m\nelse:\n    n = m\nn.fit(x, y)\n", ["fit"]),
    ],
)
def test_branches(code: str, methods: list[str]) -> None:
    assert [c.method for c in calls("import keras\n" + code)] == methods


@pytest.mark.parametrize(
    "body, names",
    [
        # a loop that carries a layer output around keeps it one, inside and after the loop
        ("x = inp\nfor units in (8, 4):\n    x = layers.Dense(units)(x)\n    x = layers.add([x, x])\ny = x\n",
         {"inp", "x", "y"}),
        # ... and one whose turn makes it something else does not (only `x = inp` binds one)
        ("x = inp\nfor units in (8, 4):\n    h = layers.Dense(units)(x)\n    x = summary(h)\ny = x\n",
         {"inp", "x"}),
        # a layer output whichever branch ran
        ("if c:\n    h = layers.Dense(1)(inp)\nelse:\n    h = layers.Dense(2)(inp)\nz = h\n", {"inp", "h", "z"}),
        ("if c:\n    h = layers.Dense(1)(inp)\nelse:\n    h = numpy_batch\nz = h\n", {"inp", "h"}),
    ],
)
def test_layer_outputs_through_loops_and_branches(body: str, names: set[str]) -> None:
    assert tensor_names("import keras\nfrom keras import layers\ninp = keras.Input((3,))\n" + body) == names
