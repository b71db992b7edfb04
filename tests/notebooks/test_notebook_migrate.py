"""`losscheck migrate` on notebooks, run as a user runs it: the code cells migrate as one program
(the imports of cell 1 serve the calls of later cells), the result goes back into the right
cells with IPython syntax as written, only the changed cells' source changes in the file, the
result passes nbformat's validation, and `--diff`, `--check` and bad notebooks behave as for
Python files."""

from __future__ import annotations

import json

import nbformat
import pytest
from notebook_helpers import code, markdown, notebook, run, write

from losscheck.lint.notebook import parse
from losscheck.migrate.notebooks import BOUNDARY, migrate_cells, restore
from losscheck.migrate.run import MigrateError, migrate_source

OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": ["Using TensorFlow backend.\n"]},
    {"output_type": "execute_result", "execution_count": 4, "metadata": {}, "data": {"text/plain": ["0.25"]}},
]
IMPORTS = "%matplotlib inline\nimport numpy as np\nfrom keras import backend as K\nfrom keras.utils.np_utils import to_categorical"
LOSS = "def rmse(y_true, y_pred):\n    return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))"
USE = "!nvidia-smi\nlabels = to_categorical([0, 2, 1], 3)\nscale = K.mean(K.abs(np.ones(3)))"
TIMED = "%%time\nloss = rmse(labels, labels * 0.5)"


def legacy() -> dict:
    return notebook(
        code(IMPORTS, count=1, outputs=OUTPUTS[:1]),
        markdown("## The loss"),
        code(LOSS, count=2, metadata={"tags": ["loss"]}),
        code(USE, count=3),
        code(TIMED, count=4, outputs=OUTPUTS[1:], metadata={"collapsed": True}),
    )


def validate(text: str) -> None:
    nbformat.validate(nbformat.reads(text, as_version=nbformat.NO_CONVERT))


def code_sources(text: str) -> list[str]:
    return [c["source"] for c in nbformat.reads(text, as_version=4).cells if c["cell_type"] == "code"]


def without_ipython(sources: list[str]) -> str:
    """The cells as one Python file: joined, their IPython lines left out."""
    return "\n".join("".join(line for line in s.splitlines(True) if not line.startswith(("%", "!"))) for s in sources)


def test_migrates_the_cells_as_one_program_and_keeps_the_rest(tmp_path):
    path = write(tmp_path / "nb.ipynb", legacy())
    before = path.read_text()
    proc = run(tmp_path, "migrate", "nb.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = path.read_text()
    validate(after)
    imports, loss, use, timed = code_sources(after)
    # the imports cell: the backend import the calls no longer need goes, keras.ops comes in its place
    assert imports == "%matplotlib inline\nimport numpy as np\nfrom keras import ops\nfrom keras.utils import to_categorical"
    assert loss == "def rmse(y_true, y_pred):\n    return ops.sqrt(ops.maximum(ops.mean(ops.square(y_pred - y_true), axis=-1), 0.0))"
    assert use == "!nvidia-smi\nlabels = to_categorical([0, 2, 1], 3)\nscale = ops.mean(ops.abs(np.ones(3)))"
    assert timed == TIMED  # nothing to migrate: the cell, magic included, is as written
    # the same code as a Python file migrates to the same code
    assert without_ipython([imports, loss, use, timed]) == migrate_source(without_ipython([IMPORTS, LOSS, USE, TIMED])).code
    # outputs, metadata, ids, execution counts, key order and the nbformat version are untouched
    old, new = json.loads(before), json.loads(after)
    for nb in (old, new):
        for cell in nb["cells"]:
            cell.pop("source")
    assert old == new and list(json.loads(after)) == list(json.loads(before))
    # the summary names cells and lines as lint does
    assert "nb.ipynb: 6 changed, 0 not changed" in proc.stdout
    assert "  cell 1:4: `from keras.utils.np_utils import` -> `from keras.utils import`" in proc.stdout
    assert "  cell 3:2: `K.mean` -> `ops.mean`" in proc.stdout
    assert "  cell 4:3: `K.abs` -> `ops.abs`" in proc.stdout
    assert "Migrated 1 file (6 changes)" in proc.stdout
    # a second run changes nothing
    assert run(tmp_path, "migrate", "--check", "nb.ipynb").returncode == 0
    assert run(tmp_path, "migrate", "nb.ipynb").returncode == 0 and path.read_text() == after


def test_diff_and_check_write_nothing(tmp_path):
    path = write(tmp_path / "nb.ipynb", legacy(), style="other")
    before = path.read_bytes()
    proc = run(tmp_path, "migrate", "--diff", "nb.ipynb")
    assert proc.returncode == 1 and path.read_bytes() == before
    assert proc.stdout.startswith("--- a/nb.ipynb:cell 1\n+++ b/nb.ipynb:cell 1\n"), proc.stdout
    assert "\n %matplotlib inline\n" in proc.stdout  # context: the cell as written, magic included
    assert "\n-from keras import backend as K\n" in proc.stdout and "\n+from keras import ops\n" in proc.stdout
    assert "--- a/nb.ipynb:cell 4\n+++ b/nb.ipynb:cell 4\n" in proc.stdout and "\n !nvidia-smi\n" in proc.stdout
    assert "cell 5" not in proc.stdout  # unchanged cells are not shown
    assert "nb.ipynb: 6 changed" in proc.stderr and "Would migrate 1 file (6 changes)" in proc.stderr
    proc = run(tmp_path, "migrate", "--check", "nb.ipynb")
    assert proc.returncode == 1 and path.read_bytes() == before
    assert "Would migrate 1 file" in proc.stdout


@pytest.mark.parametrize("style", ["jupyter", "other"])
def test_nothing_to_migrate_leaves_the_notebook_byte_identical(tmp_path, style):
    nb = notebook(
        code("%load_ext autoreload\nimport keras", outputs=OUTPUTS[:1], count=1),
        code("def mae(t, p):\n    return keras.ops.mean(keras.ops.abs(t - p), axis=-1)", split=False),
        code("%%bash\necho K.mean"),
    )
    path = write(tmp_path / "nb.ipynb", nb, style=style)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    for args in (("--check",), ("--diff",), ()):
        proc = run(tmp_path, "migrate", *args, "nb.ipynb")
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "nb.ipynb" not in output and " 0 files (0 changes)" in output, output
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_a_malformed_notebook_is_an_error_and_the_other_files_are_migrated(tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [}\n')
    (tmp_path / "losses.py").write_text("import keras.backend as K\nvalue = K.mean(x)\n")
    good = write(tmp_path / "good.ipynb", legacy())
    proc = run(tmp_path, "migrate", ".")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("losscheck: error: broken.ipynb:1:12: not a valid notebook: invalid JSON"), proc.stderr
    assert (tmp_path / "broken.ipynb").read_text() == '{"cells": [}\n'
    assert (tmp_path / "losses.py").read_text() == "from keras import ops\nvalue = ops.mean(x)\n"
    assert "from keras import ops" in code_sources(good.read_text())[0]


def test_nbformat_3_and_one_string_sources(tmp_path):
    cells = [
        {"cell_type": "code", "input": "import keras.backend as K", "language": "python", "metadata": {}, "outputs": []},
        {"cell_type": "code", "input": LOSS, "language": "python", "metadata": {}, "outputs": []},
    ]
    nb3 = {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": cells, "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(nb3, indent=1))
    proc = run(tmp_path, "migrate", "old.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    migrated = json.loads(path.read_text())
    validate(path.read_text())
    first, second = (c["input"] for c in migrated["worksheets"][0]["cells"])
    assert migrated["nbformat"] == 3 and first == "from keras import ops" and "ops.sqrt(" in second


def test_the_boundary_name_in_a_cell_refuses_the_notebook(tmp_path):
    cells = parse(json.dumps(notebook(code("import keras.backend as K"), code(f"{BOUNDARY} = K.mean(1)")))).cells
    with pytest.raises(MigrateError, match=f"^nb.ipynb: not migrated: it uses the name {BOUNDARY}"):
        migrate_cells(cells, "nb.ipynb", unsafe=False)


def test_a_piece_that_changes_an_ipython_line_is_not_mapped_back():
    (cell,) = parse(json.dumps(notebook(code("%time x = K.mean(y)\nz = K.sum(y)")))).cells
    assert restore(cell, "...                \nz = ops.sum(y)\n") == "%time x = K.mean(y)\nz = ops.sum(y)"
    assert restore(cell, "x = 1\nz = ops.sum(y)\n") is None  # the masked line is gone
    assert restore(cell, "...   \nz = ops.sum(y)\n") is None  # shortened: masking again would not give it
