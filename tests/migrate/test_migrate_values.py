"""`losscheck migrate` output, run: Keras 2 code on tf-keras against its migrated form on Keras 3.

Modules of every fixable backend-table entry (the table's own Keras 2 expressions), in each of the
six import spellings, and one module with every entry in one spelling, plus a loss module that
uses the other rewrites (moved imports, loss aliases, reduction enums, reordered arguments). The
original runs on tf-keras (`TF_USE_LEGACY_KERAS=1`, `keras` imports served by tf_keras, in a
subprocess), the migrated code on Keras 3: values to 1e-5 relative, same dtype and shape, except
where the table marks an entry unsafe. Migrated modules that use only `keras.ops` also run on JAX.
A notebook's loss too: its code cells, migrated as a notebook, run as one module (IPython lines
masked as lint masks them).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import keras_migration_helpers as H
import pytest

from losscheck.lint.api.keras_backend import REMOVED
from losscheck.lint.notebook import parse
from losscheck.migrate.notebooks import migrate_notebook
from losscheck.migrate.run import migrate_source

pytestmark = [pytest.mark.keras, pytest.mark.slow]

SPELLINGS = list(H.SPELLINGS)

OTHER_REWRITES = textwrap.dedent(
    '''
    import keras
    from keras import backend as K
    from keras.losses import Reduction, mse
    from keras.utils.np_utils import to_categorical
    from keras.engine.base_layer import Layer


    class Scaled(keras.losses.Loss):
        def __init__(self, scale, reduction=Reduction.SUM, name="scaled"):
            super().__init__(reduction, name)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * K.mean(K.square(y_true - y_pred), axis=-1)


    def case_scaled(x, y, **_):
        return Scaled(2.0)(x, y)


    def case_scaled_none(x, y, **_):
        return Scaled(0.5, reduction=keras.losses.Reduction.NONE)(x, y)


    def case_aliases(x, y, **_):
        return mse(x, y) + keras.losses.mae(x, y) + keras.losses.logcosh(x, y)


    def case_scce_positional(p, labels, **_):
        probs = K.softmax(p)
        # Keras 2: axis=-1, ignore_class=1; read in Keras 3's order: ignore_class=-1, axis=1
        return keras.losses.sparse_categorical_crossentropy(labels, probs, False, -1, 1)


    def case_to_categorical(labels, **_):
        return K.constant(to_categorical([0, 2, 1], 3))


    def case_layer_subclass(x, **_):
        class Double(Layer):
            def call(self, inputs):
                return inputs * 2.0

        return Double()(x)
    '''
)


NOTEBOOK_CELLS = [
    "%matplotlib inline\nimport numpy as np\nfrom keras import backend as K",
    "def rmse(y_true, y_pred):\n    err = K.square(y_pred - y_true)\n    return K.sqrt(K.mean(err, axis=-1) + K.epsilon())",
    (
        "!echo cases\ndef case_notebook_rmse(x, y, **_):\n    return rmse(x, y)\n\n\n"
        "def case_notebook_clipped_log(p, **_):\n    return K.mean(K.clip(p, 0.1, 0.9) * K.log(p), axis=0)"
    ),
]


def notebook_module(path: Path) -> str:
    """A notebook's code cells as one runnable module, IPython lines masked (``...``)."""
    return "\n".join(cell.masked.text for cell in parse(path.read_text()).cells)


def migrated_notebook(work: Path) -> tuple[Path, Path, dict[str, str], str]:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": source} for i, source in enumerate(NOTEBOOK_CELLS)]
    path = work / "loss.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    original = work / "notebook.py"
    original.write_text(notebook_module(path))
    _result, data = migrate_notebook(str(path), unsafe=True)
    path.write_bytes(data)
    code = notebook_module(path)
    (work / "out" / "notebook.py").write_text(code)
    kinds = {"case_notebook_rmse": "values", "case_notebook_clipped_log": "values"}
    return original, work / "out" / "notebook.py", kinds, code


def modules() -> list[tuple[str, str, dict[str, str]]]:
    """(stem, source, case kinds) for every module the tests migrate."""
    made = []
    for index, spelling in enumerate(SPELLINGS):
        source, kinds = H.entries_module(spelling, H.FIXABLE[index :: len(SPELLINGS)])
        made.append((f"spelling{index}", source, kinds))
    source, kinds = H.entries_module("from keras import backend as K", H.FIXABLE)
    made.append(("every_entry", source, kinds))
    kinds = {line.split("(")[0][4:]: "values" for line in OTHER_REWRITES.splitlines() if line.startswith("def case_")}
    made.append(("other_rewrites", OTHER_REWRITES, kinds))
    return made


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, dict[str, str], str]]:
    work = tmp_path_factory.mktemp("migrate")
    (work / "out").mkdir()
    made = {}
    for stem, source, kinds in modules():
        original, new = work / f"{stem}.py", work / "out" / f"{stem}.py"
        original.write_text(source)
        result = migrate_source(source, str(original), unsafe=True)
        assert not result.not_changed, result.not_changed
        new.write_text(result.code)
        made[stem] = (original, new, kinds, result.code)
    made["notebook"] = migrated_notebook(work)
    assert "K.sqrt" not in made["notebook"][3] and "K.epsilon()" in made["notebook"][3]
    return made


def _problems(before, after, made, stems, *, check_dtype: bool) -> dict[str, str]:
    problems = {}
    for stem in stems:
        assert before[stem]["__keras__"].startswith("2."), before[stem]["__keras__"]
        assert after[stem]["__keras__"].startswith("3.")
        assert "__import__" not in before[stem], before[stem]["__import__"]
        assert "__import__" not in after[stem], after[stem]["__import__"]
        kinds = made[stem][2]
        assert set(kinds) <= set(after[stem]), "a case did not run"
        for case, why in H.differences(before[stem], after[stem], kinds, check_dtype=check_dtype).items():
            entry = REMOVED.get(case.removeprefix("case_").rsplit("_", 1)[0])
            if entry is not None and not entry.safe:
                continue  # the difference the table documents (int32 argmax, lower-rank switch, shape)
            problems[f"{stem}: {case}"] = why
    return problems


def test_modules_cover_every_entry_and_spelling() -> None:
    covered = {n for i in range(len(SPELLINGS)) for n in H.FIXABLE[i :: len(SPELLINGS)]}
    assert covered == set(H.FIXABLE) and len(SPELLINGS) == 6


def test_migrating_twice_changes_nothing(migrated) -> None:
    for stem, (_original, _new, _kinds, code) in migrated.items():
        again = migrate_source(code, stem, unsafe=True)
        assert again.code == code and not again.changed, stem


def test_migrated_code_gives_tf_keras_values_on_keras3_tensorflow(migrated, tmp_path: Path) -> None:
    stems = sorted(migrated)
    before = H.run_cases([migrated[s][0] for s in stems], "tf_keras", tmp_path)
    after = H.run_cases([migrated[s][1] for s in stems], "tensorflow", tmp_path)
    problems = _problems(before, after, migrated, stems, check_dtype=True)
    assert not problems, H.summary(problems)


def test_migrated_keras_ops_code_gives_tf_keras_values_on_jax(migrated, tmp_path: Path) -> None:
    pytest.importorskip("jax")
    # only keras.ops and keras.* (the tf.keras spellings keep tf.keras.backend.epsilon, TensorFlow's)
    stems = sorted(s for s, (_o, _n, _k, code) in migrated.items() if "tensorflow" not in code)
    assert len(stems) >= 5
    before = H.run_cases([migrated[s][0] for s in stems], "tf_keras", tmp_path)
    after = H.run_cases([migrated[s][1] for s in stems], "jax", tmp_path)
    # dtypes: JAX has no int64 by default and keeps x.shape a tuple; values and shapes must agree
    problems = _problems(before, after, migrated, stems, check_dtype=False)
    assert not problems, H.summary(problems)
