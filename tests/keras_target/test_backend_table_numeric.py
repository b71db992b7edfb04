"""The Keras 2 -> Keras 3 backend table, checked against the real packages.

Every entry of ``losscheck/lint/api/keras_backend.py`` is run: the Keras 2 function through
tf-keras against its Keras 3 replacement (the code the rule's fix writes, or the entry's own
expression), on random inputs and on zeros, ones and the clip bounds (epsilon, 1 - epsilon).
Values must agree to 1e-5 relative (plus 1e-7 absolute, float32's resolution near 1), with the
same dtype and shape, for an entry marked safe; an entry marked unsafe must show a difference.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

from losscheck.lint.api.keras_backend import (
    KERAS3_BACKEND,
    OUTSIDE_LOSS_CODE,
    REMOVED,
    BackendFunction,
    Check,
)
from losscheck.lint.engine import lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.keras_target import KERAS2_ONLY_MODULES
from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi

pytestmark = pytest.mark.keras

RTOL = 1e-5
ATOL = 1e-7
VARIANTS = ("random", "zeros", "ones", "bounds")


class Env:
    def __init__(self) -> None:
        import numpy as np

        self.np = np
        self.tf = pytest.importorskip("tensorflow")
        self.tf_keras = pytest.importorskip("tf_keras")
        self.keras = pytest.importorskip("keras")
        if not self.keras.__version__.startswith("3."):
            pytest.skip("the table is about Keras 3")


@pytest.fixture(scope="module")
def env() -> Env:
    return Env()


def inputs(env: Env, variant: str) -> dict[str, Any]:
    np, tf = env.np, env.tf
    rng = np.random.default_rng(7)
    eps = 1e-7
    shape = (4, 3)
    if variant == "random":
        x, y = rng.normal(size=shape), rng.normal(size=shape)
        p = rng.uniform(size=shape)
        t = rng.integers(0, 2, size=shape).astype(float)
    elif variant in ("zeros", "ones"):
        value = 0.0 if variant == "zeros" else 1.0
        x = y = p = t = np.full(shape, value)
    else:  # the clip bounds: epsilon and 1 - epsilon, against targets of both kinds
        x = p = np.where(np.indices(shape).sum(axis=0) % 2 == 0, eps, 1 - eps)
        y = 1 - x
        t = rng.integers(0, 2, size=shape).astype(float)
    labels = rng.integers(0, 3, size=(4,))
    logits = x * 4.0
    a3 = rng.normal(size=(2, 3, 4)) if variant == "random" else np.full((2, 3, 4), x.flat[0])
    b3 = rng.normal(size=(2, 4, 5)) if variant == "random" else np.full((2, 4, 5), y.flat[0])
    probs = rng.dirichlet(np.ones(5), size=(2, 6)) if variant == "random" else np.full((2, 6, 5), p.flat[0])

    def f32(a: Any) -> Any:
        return tf.constant(a, dtype="float32")

    return {
        "x": f32(x), "y": f32(y), "p": f32(p), "t": f32(t), "logits": f32(logits),
        "t1h": f32(np.eye(3)[labels]) if variant != "zeros" else f32(np.zeros(shape)),
        "labels": tf.constant(labels, dtype="int32"), "cond": tf.constant(x > 0.5),
        "a3": f32(a3), "b3": f32(b3),
        "ctc_probs": f32(probs), "ctc_labels": tf.constant([[1, 2, 3], [0, 1, 0]], dtype="int32"),
        "ctc_input_length": tf.constant([[6], [5]], dtype="int32"),
        "ctc_label_length": tf.constant([[3], [2]], dtype="int32"),
    }


def keras3_code(check: Check) -> str:
    """The check's Keras 3 side: its own expression, or what the rule's fixes make of the Keras 2
    expression (all of them, unsafe included, to a fixed point, as `--fix --unsafe-fixes` does)."""
    if check.keras3 is not None:
        return check.keras3
    source = f"import keras\nimport keras.backend as K\nvalue = {check.keras2}\n"
    for _ in range(10):
        findings = [f for f in lint_source(source, "t.py", rules=[RemovedKerasApi]) if f.code == "LCK302"]
        fixed, applied = apply_fixes(source, findings, unsafe=True)
        if not applied or fixed == source:
            break
        source = fixed
    expression = source.split("value = ", 1)[1].strip()
    removed = [name for name in re.findall(r"\bK\.(\w+)", expression) if name not in KERAS3_BACKEND]
    assert not removed, f"the fix left {removed} in {expression!r}"
    return expression


def evaluate(env: Env, code: str, names: dict[str, Any], keras2: bool) -> Any:
    scope = {"K": env.tf_keras.backend if keras2 else env.keras.backend, "keras": env.keras, **names}
    return eval(code, scope)  # the table's own expressions


def as_array(env: Env, value: Any) -> Any:
    np = env.np
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    if isinstance(value, (tuple, list)) or type(value).__name__ == "TensorShape":
        return np.asarray([int(v) if not hasattr(v, "numpy") else v.numpy() for v in value])
    return np.asarray(value)


def compare(env: Env, a: Any, b: Any) -> tuple[bool, float, str]:
    """(same?, largest relative difference, what differs)."""
    np = env.np
    a, b = as_array(env, a), as_array(env, b)
    if a.shape != b.shape:
        return False, float("inf"), f"shape {a.shape} vs {b.shape}"
    problem = "" if a.dtype == b.dtype else f"dtype {a.dtype} vs {b.dtype}"
    if a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
        same = bool(np.array_equal(a, b))
        return same and not problem, 0.0 if same else float("inf"), problem or ("" if same else "values differ")
    a64, b64 = a.astype("float64"), b.astype("float64")
    equal = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore"):
        diff = np.where(equal, 0.0, np.abs(a64 - b64))
        scale = np.maximum(np.abs(a64), np.abs(b64))
        rel = np.where(equal, 0.0, diff / np.maximum(scale, 1e-30))
    within = bool(np.all(np.where(equal, True, diff <= RTOL * scale + ATOL)))
    worst = float(np.nanmax(rel)) if rel.size else 0.0
    if np.isnan(worst):
        worst = float("inf")
    return within and not problem, worst, problem or ("" if within else f"values differ (relative {worst:.3g})")


def compare_distribution(env: Env, a: Any, b: Any) -> tuple[bool, str]:
    """Same shape, dtype, mean and standard deviation (random draws); the values themselves differ."""
    a, b = as_array(env, a).astype("float64"), as_array(env, b).astype("float64")
    if a.shape != b.shape:
        return False, f"shape {a.shape} vs {b.shape}"
    spread = max(a.std(), 1e-3)
    if abs(a.mean() - b.mean()) > 0.05 * spread or abs(a.std() - b.std()) > 0.05 * spread:
        return False, f"mean/std {a.mean():.3f}/{a.std():.3f} vs {b.mean():.3f}/{b.std():.3f}"
    return True, ""


Outcome = tuple[str, str, bool, float, str]  # (check, variant, same, relative difference, what differs)


def measure(env: Env, entry: BackendFunction) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for check in entry.checks:
        code3 = keras3_code(check)
        if check.kind == "distribution":
            names = inputs(env, "random")
            a = evaluate(env, check.keras2, names, keras2=True)
            b = evaluate(env, code3, names, keras2=False)
            same_dist, why = compare_distribution(env, a, b)
            assert same_dist, f"{entry.name}: {check.keras2} vs {code3}: {why}"
            _, rel, problem = compare(env, a, b)
            outcomes.append((check.keras2, "random", False, rel, problem or "other draws"))
            continue
        for variant in VARIANTS:
            names = inputs(env, variant)
            a = evaluate(env, check.keras2, names, keras2=True)  # the table's Keras 2 side must run
            try:
                b = evaluate(env, code3, names, keras2=False)
            except Exception as exc:  # noqa: BLE001 - a replacement that fails is a difference
                outcomes.append((check.keras2, variant, False, float("inf"), f"{type(exc).__name__}"))
                continue
            same, rel, problem = compare(env, a, b)
            outcomes.append((check.keras2, variant, same, rel, problem))
    return outcomes


@pytest.mark.parametrize("name", sorted(REMOVED))
def test_entry_is_as_safe_as_it_says(env: Env, name: str) -> None:
    entry = REMOVED[name]
    assert entry.checks, f"{name}: no numeric check"
    outcomes = measure(env, entry)
    differences = [o for o in outcomes if not o[2]]
    if entry.safe:
        assert not differences, f"{name} is marked safe but differs: {differences}"
    else:
        assert entry.why, f"{name} is unsafe but does not say why"
        assert differences, f"{name} is marked unsafe but every check agrees: mark it safe"


def test_every_fix_is_checked() -> None:
    """An entry with a fix has a check that runs the fixed code (no hand-written Keras 3 side)."""
    unchecked = [n for n, e in REMOVED.items() if e.fix and not any(c.keras3 is None for c in e.checks)]
    assert not unchecked


def test_the_table_covers_what_keras3_removed(env: Env) -> None:
    """REMOVED and OUTSIDE_LOSS_CODE are exactly the public names of Keras 2's backend (tf-keras)
    that Keras 3's `keras.backend` lacks; KERAS3_BACKEND is Keras 3's."""
    keras3 = {n for n in dir(env.keras.backend) if not n.startswith("_")}
    keras2 = {n for n in dir(env.tf_keras.backend) if not n.startswith("_")}
    assert keras3 == set(KERAS3_BACKEND)
    assert set(REMOVED) | set(OUTSIDE_LOSS_CODE) == keras2 - keras3
    assert not set(REMOVED) & set(OUTSIDE_LOSS_CODE)


def test_keras2_only_modules_are_missing_from_keras3(env: Env) -> None:
    import importlib.util

    present = []
    for module in KERAS2_ONLY_MODULES:
        if not module.startswith("keras."):
            continue  # tf_keras: the legacy package itself
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            present.append(module)
    assert not present, f"Keras 3 has {present}: they do not show Keras 2"


def test_report_largest_differences(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the largest relative difference per unsafe entry (`pytest -s` shows it); the
    epsilon in Keras 2's logs is the largest value difference."""
    rows = []
    for name in ("binary_crossentropy", "binary_focal_crossentropy"):
        outcomes = measure(env, REMOVED[name])
        rows.append((name, max(rel for *_, rel, _ in outcomes)))
    with capsys.disabled():
        print(textwrap.indent("\n".join(f"{n}: {r:.3g}" for n, r in rows), "  "))
    assert all(rel > RTOL for _, rel in rows)
