"""`losscheck lint --fix` on notebooks: the fixes land in the right cells, only the changed
cells' source text changes in the file (outputs, metadata, nbformat version, indentation, key
order and escapes are kept), the result passes nbformat's validation, a notebook with nothing to
fix is not touched, and a notebook that cannot be written correctly is not written at all."""

from __future__ import annotations

import difflib
import json
import os
import stat

import nbformat
import pytest
from notebook_helpers import (
    BACKEND_FIXED,
    BACKEND_IMPORTS,
    BACKEND_LOSS,
    BATCH_MEAN,
    IMPORTS,
    code,
    jupyter_text,
    markdown,
    notebook,
    run,
    write,
)

OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": ["epoch 1\n", "loss: 0.5\n"]},
    {"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": {"text/plain": ["42"]}},
]


def fixable(**kwargs) -> dict:
    return notebook(
        code("%load_ext autoreload\n" + BACKEND_IMPORTS, count=1, outputs=OUTPUTS[:1]),
        markdown("## The loss"),
        code("%time x = 1\n" + BACKEND_LOSS + "\ny = 2  # noqa: LCK101", count=3, outputs=OUTPUTS[1:], metadata={"tags": ["loss"]}),
        **kwargs,
    )


def validate(text: str) -> None:
    nbformat.validate(nbformat.reads(text, as_version=nbformat.NO_CONVERT))


def changed_lines(before: str, after: str) -> list[str]:
    """The lines removed ("-line") and added ("+line"), in order."""
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [line[0] + line[2:] for line in diff if line[:2] in ("- ", "+ ")]


@pytest.mark.parametrize("style", ["jupyter", "other"])
def test_fix_changes_only_the_fixed_cells_source(tmp_path, style):
    path = write(tmp_path / "t.ipynb", fixable(), style=style)
    before = path.read_text()
    proc = run(tmp_path, "lint", "--fix", "--format", "concise", "t.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 fixed, 0 remaining" in proc.stdout
    after = path.read_text()
    validate(after)
    # the code: the magic line is kept, the loss fixed, the unused suppression removed
    cell = nbformat.reads(after, as_version=4).cells[2]
    assert cell.source == "%time x = 1\n" + BACKEND_FIXED + "\ny = 2"
    # the file: only the two source lines changed; outputs, metadata, ids, key order, indentation stay
    assert changed_lines(before, after) == [
        f"-{line}" for line in before.splitlines() if "K.sqrt" in line or "noqa" in line
    ] + [f"+{line}" for line in after.splitlines() if "keras.ops.sqrt" in line or line.strip() == '"y = 2"']
    old, new = json.loads(before), json.loads(after)
    for nb in (old, new):
        nb["cells"][2].pop("source")
    assert old == new and list(json.loads(after)) == list(json.loads(before))
    if style == "jupyter":  # as Jupyter would save it
        assert after == jupyter_text(json.loads(after))


def test_nothing_to_fix_leaves_the_notebook_byte_identical(tmp_path):
    nb = notebook(code(IMPORTS, outputs=OUTPUTS[:1], count=1), code(BATCH_MEAN))  # LCK101 has no fix
    path = write(tmp_path / "t.ipynb", nb, style="other")
    (tmp_path / "t.ipynb").write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # a writer's own line ends
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    proc = run(tmp_path, "lint", "--fix", "t.ipynb")
    assert proc.returncode == 1 and "LCK101" in proc.stdout
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_single_string_sources_stay_strings_and_escapes_stay_escaped(tmp_path):
    loss = BACKEND_LOSS.replace("def rmse", "# caf\u00e9\ndef rmse")
    nb = notebook(code(BACKEND_IMPORTS, split=False), code(loss, split=False))
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=True) + "\n")
    before = path.read_text()
    proc = run(tmp_path, "lint", "--fix", "t.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = path.read_text()
    validate(after)
    assert after.isascii() and "caf\\u00e9" in after
    source = json.loads(after)["cells"][1]["source"]
    assert isinstance(source, str) and source == BACKEND_FIXED.replace("def rmse", "# caf\u00e9\ndef rmse")
    assert len(changed_lines(before, after)) == 2


def test_empty_list_source_cell_and_two_space_layout(tmp_path):
    nb = notebook(code(BACKEND_IMPORTS), code(""), code(BACKEND_LOSS))
    path = write(tmp_path / "t.ipynb", nb, style="other")
    proc = run(tmp_path, "lint", "--fix", "t.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = path.read_text()
    validate(after)
    assert after == json.dumps(json.loads(after), indent=2, ensure_ascii=False) + "\n"


def test_diff_shows_cells_and_writes_nothing(tmp_path):
    path = write(tmp_path / "t.ipynb", fixable())
    before = path.read_bytes()
    proc = run(tmp_path, "lint", "--diff", "t.ipynb")
    assert proc.returncode == 1
    assert proc.stdout.startswith("--- a/t.ipynb:cell 3\n+++ b/t.ipynb:cell 3\n"), proc.stdout
    assert "\n-y = 2  # noqa: LCK101\n" in proc.stdout and "\n+y = 2\n" in proc.stdout
    assert "\n %time x = 1\n" in proc.stdout  # context: the cell as written, magic included
    assert path.read_bytes() == before


def test_fixes_in_several_cells_and_notebooks(tmp_path):
    nb = notebook(code(BACKEND_IMPORTS), code(BACKEND_LOSS), markdown("m"), code(BACKEND_LOSS.replace("rmse", "rmse2")))
    write(tmp_path / "a.ipynb", nb)
    write(tmp_path / "b.ipynb", nb)
    (tmp_path / "c.py").write_text(BACKEND_IMPORTS + "\n" + BACKEND_LOSS + "\n")
    proc = run(tmp_path, "lint", "--fix", "--format", "concise", ".")
    assert proc.returncode == 0 and "15 fixed, 0 remaining" in proc.stdout, proc.stdout  # 5 losses, 3 calls each
    for name in ("a.ipynb", "b.ipynb"):
        cells = nbformat.reads((tmp_path / name).read_text(), as_version=4).cells
        assert cells[1].source == BACKEND_FIXED and cells[3].source == BACKEND_FIXED.replace("rmse", "rmse2")
    # in a file the backend import the fixes left unused goes; a notebook keeps its import cell
    assert (tmp_path / "c.py").read_text() == "import keras\n" + BACKEND_FIXED + "\n"


def test_nbformat_3_notebook_is_fixed_in_place(tmp_path):
    cells = [
        {"cell_type": "code", "input": BACKEND_IMPORTS.splitlines(True), "language": "python", "metadata": {}, "outputs": []},
        {"cell_type": "code", "input": BACKEND_LOSS.splitlines(True), "language": "python", "metadata": {}, "outputs": []},
    ]
    nb3 = {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": cells, "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(nb3, indent=1))
    proc = run(tmp_path, "lint", "--fix", "old.ipynb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fixed = json.loads(path.read_text())
    assert fixed["nbformat"] == 3 and "".join(fixed["worksheets"][0]["cells"][1]["input"]) == BACKEND_FIXED
    nbformat.validate(nbformat.reads(path.read_text(), as_version=nbformat.NO_CONVERT))


def test_invalid_notebook_is_not_written(tmp_path):
    # readable enough to lint, but not valid nbformat (a code cell without "outputs")
    nb = notebook(code(BACKEND_IMPORTS), code(BACKEND_LOSS))
    del nb["cells"][1]["outputs"]
    path = write(tmp_path / "t.ipynb", nb, style="other")
    before = path.read_bytes()
    proc = run(tmp_path, "lint", "--fix", "--format", "concise", "t.ipynb")
    assert proc.returncode == 2
    assert "losscheck: error: t.ipynb: not fixed: the fixed notebook would not pass nbformat's validation" in proc.stderr
    assert "Traceback" not in proc.stderr and "LCK302" in proc.stdout
    assert path.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX modes")
def test_read_only_notebook_is_not_written(tmp_path):
    path = write(tmp_path / "t.ipynb", fixable())
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        proc = run(tmp_path, "lint", "--fix", "t.ipynb")
    finally:
        path.chmod(0o644)
    assert proc.returncode == 2 and "t.ipynb: not fixed: the file is read-only" in proc.stderr
    assert path.read_bytes() == before
