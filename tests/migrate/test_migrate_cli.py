"""`losscheck migrate` as a user runs it: --diff writes nothing, --check's exit codes, the summary,
idempotence, safe vs unsafe rewrites, writes like `lint --fix`, and bad input."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from losscheck.cli import main

LEGACY = textwrap.dedent(
    '''
    import keras
    from keras import backend as K  # the Keras 2 backend
    from keras.utils.np_utils import to_categorical


    def bce(y_true, y_pred):
        return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))


    def dot(a, b):
        return K.batch_dot(a, b)
    '''
)

SAFE = textwrap.dedent(
    '''
    import keras
    from keras import backend as K  # the Keras 2 backend
    from keras.utils import to_categorical


    def bce(y_true, y_pred):
        return keras.ops.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


    def rmse(y_true, y_pred):
        return keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1), 0.0))


    def dot(a, b):
        return K.batch_dot(a, b)
    '''
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["migrate", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "losses.py").write_text(LEGACY)
    (tmp_path / "pkg" / "clean.py").write_text("import keras\n\n\ndef f(x):\n    return keras.ops.mean(x)\n")
    return tmp_path


def test_diff_writes_nothing_and_exits_1(tree: Path, capsys) -> None:
    before = (tree / "pkg" / "losses.py").read_bytes()
    code, out, err = run(capsys, "--diff", str(tree))
    assert code == 1
    assert (tree / "pkg" / "losses.py").read_bytes() == before
    assert out.startswith(f"--- a/{tree}/pkg/losses.py\n+++ b/{tree}/pkg/losses.py\n")
    assert "-from keras.utils.np_utils import to_categorical\n+from keras.utils import to_categorical\n" in out
    assert "Would migrate 1 file" in err


def test_check_exit_codes(tree: Path, capsys) -> None:
    assert run(capsys, "--check", str(tree))[0] == 1
    assert (tree / "pkg" / "losses.py").read_text() == LEGACY
    assert run(capsys, "--check", str(tree / "pkg" / "clean.py"))[0] == 0


def test_safe_rewrites_then_unsafe_ones_and_idempotence(tree: Path, capsys) -> None:
    path = tree / "pkg" / "losses.py"
    code, out, _ = run(capsys, str(tree))
    assert code == 0 and path.read_text() == SAFE
    # the summary: what changed, what did not and why
    assert f"{tree}/pkg/losses.py: 5 changed, 2 not changed" in out
    assert "4: `from keras.utils.np_utils import` -> `from keras.utils import`" in out
    assert "8: `K.mean` -> `keras.ops.mean`" in out
    assert "not changed: `K.binary_crossentropy`: not value-preserving (Keras 2 adds epsilon" in out
    assert "`--unsafe-fixes` applies it" in out
    assert "not changed: `K.batch_dot`: no automatic rewrite: use `keras.ops.matmul(x, y)" in out
    assert "Migrated 1 file (5 changes); 2 left as they were (see above); value-changing rewrites only with --unsafe-fixes." in out
    # a second run changes nothing
    assert run(capsys, "--check", str(tree))[0] == 0
    assert run(capsys, str(tree))[0] == 0 and path.read_text() == SAFE
    # --unsafe-fixes: K.binary_crossentropy too; the comment on the still-used import stays
    code, out, _ = run(capsys, "--unsafe-fixes", str(tree))
    assert code == 0
    text = path.read_text()
    assert "keras.ops.mean(keras.ops.binary_crossentropy(y_true, y_pred), axis=-1)" in text
    assert "from keras import backend as K  # the Keras 2 backend\n" in text  # K.batch_dot still uses it
    assert run(capsys, "--unsafe-fixes", "--check", str(tree))[0] == 0


def test_the_backend_import_goes_when_nothing_uses_it(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.py"
    path.write_text("import keras.backend as K\n\n\ndef mae(t, p):\n    return K.mean(K.abs(t - p), axis=-1)\n")
    assert run(capsys, str(path))[0] == 0
    assert path.read_text() == "from keras import ops\n\n\ndef mae(t, p):\n    return ops.mean(ops.abs(t - p), axis=-1)\n"


@pytest.mark.parametrize(
    "spelling",
    ["from tensorflow.keras import backend as K", "import tensorflow.keras.backend as K"],
)
def test_tf_keras_spellings_move_to_keras_ops(tmp_path: Path, capsys, spelling: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(f"{spelling}\n\n\ndef mae(t, p):\n    return K.mean(K.abs(t - p), axis=-1) + K.epsilon()\n")
    assert run(capsys, str(path))[0] == 0
    assert path.read_text() == (
        f"{spelling}\nfrom keras import ops\n\n\ndef mae(t, p):\n"
        "    return ops.mean(ops.abs(t - p), axis=-1) + K.epsilon()\n"
    )


def test_keeps_mode_and_symlink_and_refuses_read_only(tmp_path: Path, capsys) -> None:
    real = tmp_path / "real.py"
    real.write_text(LEGACY)
    real.chmod(0o640)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert run(capsys, str(link))[0] == 0
    assert link.is_symlink() and real.read_text() == SAFE
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    locked = tmp_path / "locked.py"
    locked.write_text(LEGACY)
    locked.chmod(0o444)
    code, _, err = run(capsys, str(locked))
    assert code == 2 and locked.read_text() == LEGACY
    assert f"losscheck: error: {locked}: not migrated: the file is read-only" in err


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code, _out, err = run(capsys, str(tmp_path / "missing"))
    assert code == 2 and err == f"losscheck: error: {tmp_path / 'missing'}: no such file or folder\n"
    broken = tmp_path / "broken.py"
    broken.write_text("import keras.backend as K\ndef f(:\n    return K.mean(x)\n")
    good = tmp_path / "good.py"
    good.write_text("import keras.backend as K\nvalue = K.mean(x)\n")
    code, _out, err = run(capsys, str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"losscheck: error: {broken}:2:7: syntax error: "), err
    assert broken.read_text().startswith("import keras.backend as K\ndef f(:")
    assert good.read_text() == "from keras import ops\nvalue = ops.mean(x)\n"  # the others are migrated


def test_notebooks_are_migrated_with_the_files(tmp_path: Path, capsys) -> None:
    # more in tests/notebooks/test_notebook_migrate.py
    empty = tmp_path / "empty.ipynb"
    empty.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    nb = tmp_path / "train.ipynb"
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": source}
             for i, source in enumerate(("import keras.backend as K", "loss = K.mean(x)"))]
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (tmp_path / "m.py").write_text("import keras.backend as K\nloss = K.mean(x)\n")
    code, out, _ = run(capsys, str(tmp_path))
    assert code == 0 and empty.read_text().startswith('{"cells": []')
    assert [c["source"] for c in json.loads(nb.read_text())["cells"]] == ["from keras import ops", "loss = ops.mean(x)"]
    assert f"{nb}: 1 changed, 0 not changed\n  cell 2:1: `K.mean` -> `ops.mean`\n" in out
    assert "Migrated 2 files (2 changes)" in out and "skipped" not in out


def test_no_write_bit_on_the_folder_leaves_the_file(tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes in a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "m.py"
    path.write_text(LEGACY)
    folder.chmod(0o555)
    try:
        code, _, err = run(capsys, str(path))
    finally:
        folder.chmod(0o755)
    assert code == 2 and path.read_text() == LEGACY and "not migrated" in err
