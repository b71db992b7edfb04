"""LCK302's fixes in every `keras.backend` import spelling, checked by running the code.

Every entry of the backend table that has a fix is written, through each spelling, as a module of
small functions (the table's own Keras 2 expressions); `--fix --unsafe-fixes` rewrites it. The
original runs on tf-keras (`TF_USE_LEGACY_KERAS=1`, in a subprocess), the fixed module on Keras 3
(TensorFlow backend); the values must agree to 1e-5 relative, with the same dtype and shape,
except where the table marks the entry unsafe (the difference it documents). The spellings
together cover every entry; fixing a second time changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import keras_migration_helpers as H
import pytest

from losscheck.lint.api.keras_backend import REMOVED
from losscheck.lint.engine import lint_source
from losscheck.lint.fixer import fix_source
from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi

pytestmark = [pytest.mark.keras, pytest.mark.slow]

# `lint` fixes the spellings of Keras 3's keras.backend (tf.keras.backend still has these
# functions and is left alone; `losscheck migrate` moves it, see tests/migrate).
SPELLINGS = [s for s in H.SPELLINGS if "tensorflow" not in s]


def fix(source: str) -> str:
    findings = lint_source(source, "losses.py", rules=[RemovedKerasApi])
    fixed, _left, _count = fix_source(source, findings, [RemovedKerasApi], "losses.py", {}, unsafe=True)
    return fixed


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, dict[str, str]]]:
    work = tmp_path_factory.mktemp("spellings")
    (work / "fixed").mkdir()
    made = {}
    for index, spelling in enumerate(SPELLINGS):
        names = H.FIXABLE[index :: len(SPELLINGS)]
        source, kinds = H.entries_module(spelling, names)
        original = work / f"spelling{index}.py"
        fixed = work / "fixed" / f"spelling{index}.py"
        original.write_text(source)
        fixed.write_text(fix(source))
        made[spelling] = (original, fixed, kinds)
    return made


def test_the_spellings_cover_every_fixable_entry() -> None:
    covered = {n for i in range(len(SPELLINGS)) for n in H.FIXABLE[i :: len(SPELLINGS)]}
    assert covered == {n for n, e in REMOVED.items() if e.fix is not None}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_fixing_twice_changes_nothing_and_no_removed_call_is_left(modules, spelling: str) -> None:
    _original, fixed, _kinds = modules[spelling]
    text = fixed.read_text()
    assert fix(text) == text
    assert not [f for f in lint_source(text, "losses.py", rules=[RemovedKerasApi]) if f.code == "LCK302"]
    # the backend import stays only for what Keras 3 kept (K.epsilon() in the clip check)
    kept = "epsilon()" in text
    assert ("backend" in text.split("\n\n")[0]) == kept, text.split("\n\n")[0]


def test_fixed_modules_give_tf_keras_values_on_keras3(modules, tmp_path: Path) -> None:
    originals = [modules[s][0] for s in SPELLINGS]
    fixed = [modules[s][1] for s in SPELLINGS]
    before = H.run_cases(originals, "tf_keras", tmp_path)
    after = H.run_cases(fixed, "tensorflow", tmp_path)
    problems = {}
    for spelling in SPELLINGS:
        original, _fixed, kinds = modules[spelling]
        stem = original.stem
        assert before[stem]["__keras__"].startswith("2.") and after[stem]["__keras__"].startswith("3.")
        assert "__import__" not in before[stem] and "__import__" not in after[stem], (before[stem], after[stem])
        for case, why in H.differences(before[stem], after[stem], kinds, check_dtype=True).items():
            entry = REMOVED[case.removeprefix("case_").rsplit("_", 1)[0]]
            if not entry.safe:
                continue  # the difference the table documents (int32 argmax, lower-rank switch, shape)
            problems[f"{spelling}: {case}"] = why
    assert not problems, H.summary(problems)
