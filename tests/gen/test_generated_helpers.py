"""The functions generated modules are built from (losscheck/gen/helpers/) are real, tested code.

- Each helper, imported from its own module, equals the Keras 3 built-in loss of the same name
  with ``reduction=None`` (or a NumPy reference where Keras has none) on random inputs; the
  tf.keras helpers also equal tf-keras's own built-ins. Real Keras 3 (TensorFlow backend) and
  real tf-keras; no mocks.
- Emitters copy them verbatim, only from those files: every ``_lc`` name a generated module
  uses is defined in it by a copy of a helper file's function; every helper is reachable;
  a copied function needs nothing from its own module; no function is kept as a string.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import inspect
import io
import re
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gen_helpers as H
import numpy as np
import pytest

from losscheck.gen.cli import generate
from losscheck.gen.emitter import load_emitters
from losscheck.gen.emitters._copy import (
    function_text,
    function_text_as,
    functions_in,
    helpers_in,
)
from losscheck.gen.helpers import COMMON, KERAS_OPS, KERAS_RUNTIME, TF_KERAS, TF_KERAS_RUNTIME
from losscheck.layout.additions import ADDITIONS_FRAMEWORKS
from losscheck.layout.model import LOSSES_BY_TYPE

REPO = Path(__file__).resolve().parents[2]
TORCH_EMITTER = REPO / "plugins" / "torch" / "losscheck_torch" / "emitter.py"
TORCH_HELPERS = TORCH_EMITTER.with_name("helpers.py")
HAS_TORCH_PLUGIN = importlib.util.find_spec("losscheck_torch") is not None
FRAMEWORKS = ["keras", "tf.keras", *(["torch"] if HAS_TORCH_PLUGIN else [])]
# What each helper module may import, and nothing else.
IMPORTS = {
    COMMON: {"numpy"},
    KERAS_OPS: {"keras"},
    TF_KERAS: {"tensorflow"},
    KERAS_RUNTIME: {"keras"},
    TF_KERAS_RUNTIME: {"tensorflow"},
    TORCH_HELPERS: {"torch", "torch.nn.functional", "losscheck.gen.helpers.common"},
}
# Names a generated module defines besides its helpers (tables, and the torch module's renamed
# NumPy packing).
MODULE_NAMES = {"LOSSES", "LOSS_WEIGHTS", "TASK_LOSSES", "_lc_packing", "_lc_pack_numpy", "_lc_register"}

# Every loss, on every target kind, masked (spatial: _lc_masked_mean) and not.
COVERAGE = {
    "version": 1,
    "outputs": [{"name": "seg", "spatial": [2], "tasks": [
        {"name": "b", "type": "binary", "units": 1, "pos_weight": 2.0,
         "loss": ["binary_crossentropy", "binary_focal_crossentropy", "dice"]},
        {"name": "c", "type": "categorical", "units": 3,
         "loss": ["categorical_crossentropy", "categorical_focal_crossentropy", "dice"]},
        {"name": "s", "type": "categorical", "units": 3, "targets": "sparse", "ignore_value": -1,
         "loss": ["categorical_crossentropy", "categorical_focal_crossentropy"]},
        {"name": "r", "type": "regression", "units": 2, "when": {"task": "b", "equals": 1},
         "loss": ["mean_squared_error", "mean_absolute_error", "huber", "log_cosh"]},
    ]}],
}
# The built-in frameworks: the Additions' helpers too (a class gate, class weights, a metric,
# variable weights).
COVERAGE_ADDITIONS = {**COVERAGE, "weights": "variable", "outputs": [
    *COVERAGE["outputs"], {"name": "extra", "spatial": [2], "tasks": [
    {"name": "k", "type": "categorical", "units": 3, "class_weights": [1, 2, 3], "metrics": ["f1"]},
    {"name": "g", "type": "binary", "units": 1, "when": {"task": "k", "in": [1, 2]}, "pos_weight": 2.0,
     "label_smoothing": 0.1},
]}]}


# -- how emitters copy ------------------------------------------------------------------------
def test_a_function_is_cut_out_with_its_decorators_and_comments(tmp_path):
    source = tmp_path / "lib.py"
    source.write_text(
        "import functools\n\nX = 1\n\n\n"
        "@functools.lru_cache(\n    maxsize=None,\n)\n# between decorator and def\n"
        "def _lc_a(x):\n    # inside\n    def inner():\n        return x\n    return inner()  # trailing\n"
        "# after the function: not part of it\n\n\n"
        "class C:\n    def _lc_method(self):\n        pass\n\n\n"
        "async def _lc_b():\n    return _lc_a(1)\n"
    )
    found = functions_in(source)
    assert list(found) == ["_lc_a", "_lc_b"]  # top level only, in file order
    assert found["_lc_a"].text == (
        "@functools.lru_cache(\n    maxsize=None,\n)\n# between decorator and def\n"
        "def _lc_a(x):\n    # inside\n    def inner():\n        return x\n    return inner()  # trailing"
    )
    assert functions_in(source) is found  # read and parsed once
    assert helpers_in((source,))["_lc_b"].needs == ("_lc_a",)
    assert function_text_as(source, "_lc_b", "renamed") == "async def renamed():\n    return _lc_a(1)"
    with pytest.raises(KeyError, match="defines no function 'nope'"):
        function_text(source, "nope")
    twice = tmp_path / "twice.py"
    twice.write_text("def _lc_a():\n    pass\n")
    with pytest.raises(ValueError, match="'_lc_a' is defined in more than one"):
        helpers_in((source, twice))


def _top_level_functions(text: str) -> dict[str, str]:
    """name -> source lines of each top-level def, found independently of the emitters' copier."""
    lines = text.splitlines()
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out[node.name] = "\n".join(lines[first - 1: node.end_lineno])
    return out


def _helper_files(framework: str) -> tuple[Path, ...]:
    return load_emitters().emitters[framework].HELPER_FILES


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_helper_a_module_uses_is_a_verbatim_copy_from_its_helper_files(tmp_path, framework):
    """Every ``_lc`` name in the generated module is defined there, each helper by a copy of
    its helper file's function, to the byte; over the coverage layout every helper of the
    files is used (none unreachable), and the module holds them in file order."""
    files = _helper_files(framework)
    library: dict[str, str] = {}
    for path in files:
        library.update(_top_level_functions(path.read_text()))
    helper_names = [n for n in library if n.startswith("_lc") and n != "_lc_register"]
    coverage = COVERAGE_ADDITIONS if framework in ADDITIONS_FRAMEWORKS else COVERAGE
    text, _ = generate(H.write_layout(coverage, tmp_path), framework)
    tree = ast.parse(text)
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))} | {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.startswith("_lc")}
    assert used <= defined, f"used but not defined: {sorted(used - defined)}"
    copies = _top_level_functions(text)
    emitted = [name for name in copies if name.startswith("_lc") and name in library]
    assert [n for n in emitted if n != "_lc_register"] == helper_names  # all of them, in file order
    for name in emitted:
        assert copies[name] == library[name], name
    for name in ("pack_targets", "total_loss"):  # the module's own functions come from the files too
        if name in copies and name in library:
            assert copies[name] == library[name]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_layout_gets_only_the_helpers_it_uses(tmp_path, framework):
    layout = {"version": 1, "outputs": [{"name": "o", "tasks": [
        {"name": "r", "type": "regression", "units": 2, "loss": "mae"}]}]}
    text, _ = generate(H.write_layout(layout, tmp_path), framework)
    helpers = {n for n in _top_level_functions(text) if n.startswith("_lc") and n not in MODULE_NAMES}
    assert helpers == {"_lc_check", "_lc_mean_absolute_error"}


def test_the_coverage_layout_uses_every_loss():
    losses = {t for task in COVERAGE["outputs"][0]["tasks"] for t in task["loss"]}
    assert losses == {loss for names in LOSSES_BY_TYPE.values() for loss in names}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_unknown_helper_is_an_error_naming_the_files(framework):
    emitter = load_emitters().emitters[framework]
    emitter._used = {}
    with pytest.raises(KeyError, match="no helper '_lc_nope' in common.py, "):
        emitter.use("_lc_nope")


def test_op_tables_are_spelled_from_one_list_of_calls():
    emitters = load_emitters().emitters
    assert emitters["keras"].OPS["zeros_per_example"] == "ops.zeros_like(ops.sum(y_pred, axis={1}))"
    assert emitters["tf.keras"].OPS["any_last"] == "tf.reduce_any({0}, axis=-1)"
    assert emitters["tf.keras"].OPS["zeros_per_example"] == "tf.zeros_like(tf.reduce_sum(y_pred, axis={1}))"
    if HAS_TORCH_PLUGIN:
        torch_ops = emitters["torch"].OPS
        assert torch_ops["mean"] == "torch.mean({0}, dim={1})" and torch_ops["equal"] == "torch.eq({0}, {1})"
        assert "not_equal" not in torch_ops and torch_ops["cast"] == "{0}.to({1})"


def _free_names(function: ast.FunctionDef) -> set[str]:
    """Names a function reads that it does not bind itself (parameters, assignments, loops,
    imports)."""
    bound = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {f.name for f in ast.walk(function) if isinstance(f, ast.FunctionDef) and f is not function}
    bound |= {(alias.asname or alias.name).split(".")[0] for node in ast.walk(function)  # its own imports
              if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    return {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound


def _imported_names(lines: tuple[str, ...]) -> set[str]:
    names = set()
    for node in ast.parse("\n".join(lines)).body:
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_copied_function_needs_nothing_from_its_own_module(framework):
    """A helper reads only what every generated module of its framework has: the imports,
    builtins, the tables and other helpers; never a constant or import of its own file."""
    emitter = load_emitters().emitters[framework]
    nodes = [node for path in emitter.HELPER_FILES for node in ast.parse(path.read_text()).body]
    functions = {node.name: node for node in nodes if isinstance(node, ast.FunctionDef)}
    classes = {node.name for node in nodes if isinstance(node, ast.ClassDef)}  # copied as helpers are
    available = _imported_names(emitter.imports) | set(dir(builtins)) | MODULE_NAMES | set(functions) | classes
    for name, node in functions.items():
        assert _free_names(node) <= available, (name, sorted(_free_names(node) - available))


def test_the_free_name_check_can_fail():
    node = ast.parse("def _lc_f(x):\n    y = x\n    return EPSILON * y\n").body[0]
    assert _free_names(node) == {"EPSILON"}


@pytest.mark.parametrize("path", list(IMPORTS), ids=lambda p: p.name)
def test_helper_modules_import_only_their_framework_and_document_every_function(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= IMPORTS[path], imported
    assert ast.get_docstring(tree)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions and all(ast.get_docstring(f) for f in functions), [f.name for f in functions
                                                                        if not ast.get_docstring(f)]


_DEF_IN_STRING = re.compile(r"\bdef\s+_lc")


def defs_in_strings(text: str) -> list[str]:
    """String literals (f-strings included) that hold the definition of an ``_lc`` function."""
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.STRING and _DEF_IN_STRING.search(tok.string)]


def test_no_function_is_kept_as_a_string():
    sources = sorted((REPO / "losscheck" / "gen").rglob("*.py")) + [TORCH_EMITTER, TORCH_HELPERS]
    assert len(sources) > 8
    found = {str(p.relative_to(REPO)): defs_in_strings(p.read_text()) for p in sources}
    assert not {k: v for k, v in found.items() if v}
    # the check finds one where there is one
    assert defs_in_strings("X = '''def _lc_x(a):\n    return a'''\nY = f\"def  _lc_{1}\"\n") == [
        "'''def _lc_x(a):\n    return a'''", 'f"def  _lc_{1}"']


def test_the_shape_check_is_framework_neutral():
    """``_lc_check`` (common.py, every framework's) reads ``.shape`` only: NumPy arrays do."""
    namespace: dict[str, Any] = {}
    exec(function_text(COMMON, "_lc_check"), namespace)  # noqa: S102 -- the file's own function
    check = namespace["_lc_check"]
    check(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)), "o", 3, 4, 5, -1)
    with pytest.raises(ValueError, match=r"output 'o': y_pred has shape \(2, 3, 6\), but the layout expects rank 3 "
                                         r"with 5 channels on axis -1"):
        check(np.zeros((2, 3, 4)), np.zeros((2, 3, 6)), "o", 3, 4, 5, -1)
    with pytest.raises(ValueError, match="y_true has shape"):
        check(np.zeros((2, 4)), np.zeros((2, 3, 5)), "o", 3, 4, 5, -1)


def test_pack_targets_from_common(monkeypatch):
    from losscheck.gen.helpers import common

    monkeypatch.setattr(common, "_lc_packing", {"o": (1, (2,), (("a", 1), ("b", 3)))})
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 2)), rng.normal(size=(4, 2, 3))
    packed = common.pack_targets("o", {"a": a, "b": b})
    assert packed.dtype == np.float32 and packed.shape == (4, 4, 2)
    np.testing.assert_array_equal(packed, np.moveaxis(np.concatenate([a[..., None], b], -1), -1, 1).astype("float32"))
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        common.pack_targets("o", {"a": a})


# -- the helpers against Keras's built-ins ------------------------------------------------------
B, S, C = 3, 4, 5  # inputs (B, S, C): a batch of examples with one spatial axis


def _inputs(kind: str, rng: np.random.Generator, from_logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(truth, pred) for a kind of target, float32, shape (B, S, C) ((B, S, 1) sparse truth)."""
    if kind == "regression":
        truth, pred = rng.normal(0, 1.5, (B, S, C)), rng.normal(0, 1.5, (B, S, C))
    elif kind == "binary":
        truth = rng.integers(0, 2, (B, S, C))
        pred = rng.normal(0, 2, (B, S, C)) if from_logits else rng.uniform(0.01, 0.99, (B, S, C))
    else:
        index = rng.integers(0, C, (B, S))
        truth = index[..., None] if kind == "sparse" else np.eye(C)[index]
        pred = rng.normal(0, 2, (B, S, C)) if from_logits else rng.dirichlet(np.ones(C), (B, S))
    return truth.astype("float32"), pred.astype("float32")


def _bce_reference(truth: np.ndarray, pred: np.ndarray, from_logits: bool, pos_weight: float) -> np.ndarray:
    """Binary crossentropy by hand (Keras's clipping), elements with target 1 weighed, mean over C."""
    t, x = truth.astype("float64"), pred.astype("float64")
    if from_logits:
        elements = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    else:
        p = np.clip(x, 1e-7, 1 - 1e-7)
        elements = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return np.mean(elements * (t * pos_weight + (1 - t)), axis=-1)


def _masked_mean_reference(loss: np.ndarray, mask: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return (loss * mask).sum(axis=axes) / np.maximum(mask.sum(axis=axes), 1.0)


# name -> cases; a case: (kind, from_logits, the helper's other arguments, the reference on
# (truth, pred) as the Keras 3 loss with reduction=None; None: the reference is given by hand).
Case = tuple[str, bool, tuple, Callable[[Any], Any] | None]


def _keras3_cases() -> dict[str, list[Case]]:
    import keras

    L = keras.losses
    cases: dict[str, list[Case]] = {
        "_lc_mean_squared_error": [("regression", False, (), L.MeanSquaredError(reduction=None))],
        "_lc_mean_absolute_error": [("regression", False, (), L.MeanAbsoluteError(reduction=None))],
        "_lc_huber": [("regression", False, (d,), L.Huber(delta=d, reduction=None)) for d in (0.3, 1.0, 2.5)],
        "_lc_log_cosh": [("regression", False, (), L.LogCosh(reduction=None))],
        "_lc_binary_crossentropy": [
            ("binary", fl, (), L.BinaryCrossentropy(from_logits=fl, reduction=None)) for fl in (False, True)
        ] + [("binary", fl, (3.0,), None) for fl in (False, True)],  # pos_weight: by hand
        "_lc_binary_focal_crossentropy": [
            ("binary", fl, (g, a), L.BinaryFocalCrossentropy(
                apply_class_balancing=a is not None, alpha=0.25 if a is None else a, gamma=g, from_logits=fl,
                reduction=None))
            for fl in (False, True) for g, a in ((2.0, None), (0.0, 0.25), (1.5, 0.7))
        ],
        "_lc_categorical_crossentropy": [
            ("categorical", fl, (), L.CategoricalCrossentropy(from_logits=fl, reduction=None)) for fl in (False, True)
        ],
        "_lc_sparse_categorical_crossentropy": [
            ("sparse", fl, (), L.SparseCategoricalCrossentropy(from_logits=fl, reduction=None))
            for fl in (False, True)
        ],
        "_lc_categorical_focal_crossentropy": [
            ("categorical", fl, (a, g), L.CategoricalFocalCrossentropy(alpha=a, gamma=g, from_logits=fl,
                                                                       reduction=None))
            for fl in (False, True) for a, g in ((0.25, 2.0), (1.0, 0.0), (0.6, 1.5))
        ],
        "_lc_dice": [("binary", False, ((1, 2),), lambda t, p: L.dice(t, p, axis=(1, 2)))],
        "_lc_masked_mean": [("regression", False, (), None)],  # by hand
    }
    return cases


def _call(helper: Callable[..., Any], name: str, case: Case, rng: np.random.Generator,
          to_tensor: Callable[[np.ndarray], Any]) -> tuple[np.ndarray, np.ndarray]:
    """(the helper's value, the reference's value) on fresh random inputs."""
    kind, from_logits, extra, reference = case
    truth, pred = _inputs(kind, rng, from_logits)
    if name == "_lc_masked_mean":
        loss, mask = pred, rng.integers(0, 2, (B, S, C)).astype("float32")
        mask[0] = 0.0  # an example where nothing counts: 0, not NaN
        got = helper(to_tensor(loss), to_tensor(mask), (1, 2))
        return np.asarray(got), _masked_mean_reference(loss, mask, (1, 2))
    takes_logits = "from_logits" in inspect.signature(helper).parameters
    args = (to_tensor(truth), to_tensor(pred), *((from_logits,) if takes_logits else ()), *extra)
    got = np.asarray(helper(*args))
    if reference is None:  # binary crossentropy with a positive weight
        return got, _bce_reference(truth, pred, from_logits, *extra)
    if kind == "sparse":
        truth = truth[..., 0]
    return got, np.asarray(reference(truth, pred))


def _check_module(module: Any, to_tensor: Callable[[np.ndarray], Any]) -> None:
    cases = _keras3_cases()
    names = {n for n in vars(module) if n.startswith("_lc") and callable(vars(module)[n])}
    # the Additions' helpers have their own tests (test_addition_helpers.py)
    additions = {"_lc_in_classes", "_lc_true_class_weight", "_lc_smoothed_binary_crossentropy"}
    assert names - {"_lc_bce_elements"} - additions == set(cases), "every helper needs a case here"
    rng = np.random.default_rng(0)
    for name, name_cases in cases.items():
        for case in name_cases:
            for _ in range(2):
                got, want = _call(getattr(module, name), name, case, rng, to_tensor)
                assert got.shape == want.shape, (name, case[:3])
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{name} {case[:3]}")


@pytest.mark.keras
def test_keras3_helpers_equal_keras_builtins():
    keras = pytest.importorskip("keras")
    from losscheck.gen.helpers import keras_ops

    _check_module(keras_ops, keras.ops.convert_to_tensor)


@pytest.mark.keras
def test_tf_keras_helpers_equal_keras_builtins():
    tf = pytest.importorskip("tensorflow")
    from losscheck.gen.helpers import tf_keras as tf_keras_helpers

    _check_module(tf_keras_helpers, tf.constant)
    # its shared element-wise crossentropy is Keras 3's
    import keras

    rng = np.random.default_rng(1)
    for from_logits in (False, True):
        truth, pred = _inputs("binary", rng, from_logits)
        np.testing.assert_allclose(
            np.asarray(tf_keras_helpers._lc_bce_elements(tf.constant(truth), tf.constant(pred), from_logits)),
            np.asarray(keras.ops.binary_crossentropy(truth, pred, from_logits=from_logits)), rtol=1e-5, atol=1e-6)


@pytest.mark.keras
def test_tf_keras_helpers_equal_tf_keras_builtins():
    """Against Keras 2 itself (tf-keras), which puts ``+ epsilon`` inside the log: within 1e-5."""
    tf = pytest.importorskip("tensorflow")
    tfk = pytest.importorskip("tf_keras")
    from losscheck.gen.helpers import tf_keras as helpers

    L, none = tfk.losses, "none"
    rng = np.random.default_rng(2)
    checks = [
        ("regression", False, lambda t, p, fl: helpers._lc_huber(t, p, 0.5), L.Huber(delta=0.5, reduction=none)),
        ("regression", False, lambda t, p, fl: helpers._lc_log_cosh(t, p), L.LogCosh(reduction=none)),
        ("regression", False, lambda t, p, fl: helpers._lc_mean_squared_error(t, p),
         L.MeanSquaredError(reduction=none)),
        ("regression", False, lambda t, p, fl: helpers._lc_mean_absolute_error(t, p),
         L.MeanAbsoluteError(reduction=none)),
    ]
    for fl in (False, True):
        checks += [
            ("binary", fl, lambda t, p, fl: helpers._lc_binary_crossentropy(t, p, fl),
             L.BinaryCrossentropy(from_logits=fl, reduction=none)),
            ("binary", fl, lambda t, p, fl: helpers._lc_binary_focal_crossentropy(t, p, fl, 1.5, 0.3),
             L.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=fl,
                                       reduction=none)),
            ("categorical", fl, lambda t, p, fl: helpers._lc_categorical_crossentropy(t, p, fl),
             L.CategoricalCrossentropy(from_logits=fl, reduction=none)),
            ("categorical", fl, lambda t, p, fl: helpers._lc_categorical_focal_crossentropy(t, p, fl, 0.25, 2.0),
             L.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=fl, reduction=none)),
            ("sparse", fl, lambda t, p, fl: helpers._lc_sparse_categorical_crossentropy(t, p, fl),
             L.SparseCategoricalCrossentropy(from_logits=fl, reduction=none)),
        ]
    for kind, fl, helper, builtin in checks:
        truth, pred = _inputs(kind, rng, fl)
        got = np.asarray(helper(tf.constant(truth), tf.constant(pred), fl))
        want = np.asarray(builtin(truth[..., 0] if kind == "sparse" else truth, pred))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{builtin.name} from_logits={fl}")


@pytest.mark.keras
def test_the_helper_check_can_fail():
    """A helper that is off by a little is caught: the comparison is not vacuous."""
    keras = pytest.importorskip("keras")
    from losscheck.gen.helpers import keras_ops

    def off(truth, pred, delta):
        return keras_ops._lc_huber(truth, pred, delta) * 1.001

    case = _keras3_cases()["_lc_huber"][0]
    got, want = _call(off, "_lc_huber", case, np.random.default_rng(0), keras.ops.convert_to_tensor)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.keras
def test_the_shape_check_lets_unknown_dimensions_through():
    keras = pytest.importorskip("keras")
    from losscheck.gen.helpers.common import _lc_check

    _lc_check(keras.KerasTensor((None, 3, None)), keras.KerasTensor((None, 3, None)), "o", 3, 4, 5, -1)
    with pytest.raises(ValueError, match="y_pred has shape"):
        _lc_check(keras.KerasTensor((None, 3, 4)), keras.KerasTensor((None, 3, 6)), "o", 3, 4, 5, -1)
