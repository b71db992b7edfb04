"""Module facts about Keras models (losscheck/lint/models.py): constructions, calls, layer outputs."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from losscheck.lint.models import ModelCall, ModuleModels, analyze


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
