"""`losscheck lint` on Jupyter notebooks: found in folders and named, cells joined into one module,
IPython syntax masked without moving positions, findings in cell coordinates in every format,
`# noqa` in cells, malformed notebooks reported, the cache, and files that cannot be linted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_helpers import BATCH_MEAN, IMPORTS, PER_EXAMPLE, code, markdown, notebook, run, write

from losscheck.lint.magics import mask

REPO = Path(__file__).resolve().parents[2]


def concise(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return run(cwd, "lint", "--format", "concise", *args)


def records(cwd: Path, *args: str) -> list[dict]:
    proc = run(cwd, "lint", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_named_and_walked_notebooks_are_linted(tmp_path):
    write(tmp_path / "nb" / "train.ipynb", notebook(code(IMPORTS), markdown("# Losses"), code(BATCH_MEAN)))
    (tmp_path / "data.txt").write_text("not code\n")
    for args in (["nb/train.ipynb"], ["nb"], ["."]):
        proc = concise(tmp_path, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stdout.startswith("nb/train.ipynb:cell 3:2:12: LCK101 [batch-mean-reduction]"), proc.stdout
        assert "All checks passed!" not in proc.stdout


def test_cells_are_one_module_in_order(tmp_path):
    # the import in cell 1 is what makes `tf` in cell 3 TensorFlow
    write(tmp_path / "joined.ipynb", notebook(code(IMPORTS), markdown("text"), code(BATCH_MEAN)))
    write(tmp_path / "alone.ipynb", notebook(markdown("text"), code(BATCH_MEAN)))
    codes = {(r["path"], r["code"]) for r in records(tmp_path, "joined.ipynb", "alone.ipynb")}
    assert ("joined.ipynb", "LCK101") in codes and ("joined.ipynb", "LCK301") not in codes
    assert ("alone.ipynb", "LCK301") in codes  # `tf` is undefined without the first cell


def test_json_carries_the_cell_and_the_line_within_it(tmp_path):
    loss = "x = 1\n\n" + BATCH_MEAN  # the return is line 4 of its cell
    write(tmp_path / "t.ipynb", notebook(code(IMPORTS), code("y = 2"), markdown("m"), code(loss)))
    (record,) = records(tmp_path, "t.ipynb")
    assert (record["cell"], record["line"], record["column"], record["end_line"]) == (4, 4, 12, 4)
    assert record["path"] == "t.ipynb" and record["code"] == "LCK101"
    # a Python file's findings have no cell
    (tmp_path / "m.py").write_text(IMPORTS + "\n" + BATCH_MEAN + "\n")
    (plain,) = records(tmp_path, "m.py")
    assert plain["cell"] is None and plain["line"] == 4


def test_full_format_shows_the_cell_lines(tmp_path):
    write(tmp_path / "t.ipynb", notebook(code(IMPORTS), code("# first line of the cell\n" + BATCH_MEAN)))
    proc = run(tmp_path, "lint", "t.ipynb")
    assert proc.returncode == 1
    head, *rest = proc.stdout.splitlines()
    assert head.startswith("t.ipynb:cell 2:3:12: LCK101")
    assert "2 | def seg_loss(y_true, y_pred):" in proc.stdout
    assert "3 |     return tf.reduce_mean(tf.square(y_true - y_pred))" in proc.stdout
    caret = next(line for line in rest if "^" in line)
    assert caret.index("^") == proc.stdout.splitlines()[3].index("tf.reduce_mean")


MAGICS = (
    "%matplotlib inline\n"
    "!pip install -q keras\n"
    "files = !ls\n"
    "tf.reduce_mean?\n"
    "%time y = 1\n"
    "def seg_loss(y_true, y_pred):\n"
    "    %time z = 1\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))"
)


def test_magics_are_masked_and_positions_kept(tmp_path):
    write(
        tmp_path / "m.ipynb",
        notebook(
            code("%load_ext autoreload\n" + IMPORTS),
            code(MAGICS),
            # the body of %%time is Python and is linted
            code("%%time\n" + BATCH_MEAN.replace("seg_loss", "cls_loss")),
            # the body of %%bash is not: nothing in it is reported
            code("%%bash\ndef bad(y_true, y_pred):\n    return tf.reduce_mean(y_pred)"),
        ),
    )
    proc = concise(tmp_path, "m.ipynb")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    heads = [line.split(" [")[0] for line in proc.stdout.splitlines() if ": LCK" in line]
    assert heads == ["m.ipynb:cell 2:8:12: LCK101", "m.ipynb:cell 3:3:12: LCK101"], proc.stdout


def test_mask_keeps_every_line_length_and_parses():
    masked = mask(MAGICS + "\ns = '''\n%not a magic\n'''\nz = (1\n  % 2)\n")
    source = MAGICS + "\ns = '''\n%not a magic\n'''\nz = (1\n  % 2)\n"
    assert [len(line) for line in masked.text.splitlines()] == [len(line) for line in source.splitlines()]
    compile(masked.text, "<cell>", "exec")
    # a magic-looking line inside a string or brackets is Python, not masked
    assert "%not a magic" in masked.text and "  % 2)" in masked.text
    assert [s.line for s in masked.spans] == [0, 1, 2, 3, 4, 6]
    assert not mask("%%writefile x.py\nimport os\n").python


def test_noqa_in_a_cell(tmp_path):
    suppressed = BATCH_MEAN + "  # noqa: LCK101"
    write(tmp_path / "n.ipynb", notebook(code(IMPORTS), code(suppressed), code("x = 1  # noqa: LCK102")))
    (record,) = records(tmp_path, "n.ipynb")  # only the unused suppression in cell 3
    assert (record["code"], record["cell"], record["line"], record["column"]) == ("LCK901", 3, 1, 8)


def test_config_include_and_extend_exclude_apply_to_notebooks(tmp_path):
    write(tmp_path / "a" / "t.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    write(tmp_path / "scratch" / "s.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\nextend-exclude = ["scratch"]\n')
    paths = {r["path"] for r in records(tmp_path, ".")}
    assert paths == {"a/t.ipynb"}
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\ninclude = ["*.py"]\n')
    proc = concise(tmp_path, ".")
    assert proc.returncode == 0 and "ipynb" not in proc.stdout
    assert "no Python files or notebooks found" in proc.stderr


def test_percent_format_scripts_are_plain_python(tmp_path):
    (tmp_path / "train.py").write_text(f"# %%\n{IMPORTS}\n\n# %% [markdown]\n# Losses\n\n# %%\n{BATCH_MEAN}\n")
    proc = concise(tmp_path, "train.py")
    assert proc.returncode == 1 and proc.stdout.startswith("train.py:10:12: LCK101"), proc.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"cells": [\n  {"cell_type": "code",,}\n]}', "bad.ipynb:2:24: LCK998 [unreadable-file] not a valid notebook: invalid JSON"),
        (b"[1, 2]", 'not a valid notebook: no "nbformat" version'),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"source": "x"}]}', 'cell 1 has no "cell_type"'),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 5}]}', 'the "source" of cell 1 is not text'),
        (b'{"nbformat": 9, "cells": []}', "nbformat 9 is not supported"),
        (b'{"nbformat": 4, "cells": {}}', '"cells" is not a list'),
        (b'{"nbformat": 4, "cells": [], "x": "\xff"}', "not UTF-8"),
    ],
)
def test_malformed_notebook_is_an_error_for_that_file(tmp_path, content, message):
    (tmp_path / "bad.ipynb").write_bytes(content)
    write(tmp_path / "good.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    proc = concise(tmp_path, "bad.ipynb", "good.ipynb")
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("bad.ipynb:") and message in line for line in lines), proc.stdout
    assert any(line.startswith("good.ipynb:cell 2:2:12: LCK101") for line in lines)  # still linted


def test_nbformat_3_notebooks_are_read(tmp_path):
    nb3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "metadata": {},
                "cells": [
                    {"cell_type": "code", "input": IMPORTS, "language": "python", "metadata": {}, "outputs": []},
                    {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Losses"},
                    {"cell_type": "code", "input": BATCH_MEAN, "language": "python", "metadata": {}, "outputs": []},
                ],
            }
        ],
    }
    (tmp_path / "old.ipynb").write_text(json.dumps(nb3, indent=1))
    proc = concise(tmp_path, "old.ipynb")
    assert proc.returncode == 1 and proc.stdout.startswith("old.ipynb:cell 3:2:12: LCK101"), proc.stdout


def test_non_python_notebooks_and_cells_are_not_linted(tmp_path):
    r_kernel = {"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}, "language_info": {"name": "R"}}
    write(tmp_path / "r.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN), metadata=r_kernel))
    vscode_sql = {"vscode": {"languageId": "sql"}}
    write(tmp_path / "sql.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN, metadata=vscode_sql), code(PER_EXAMPLE)))
    proc = concise(tmp_path, "r.ipynb", "sql.ipynb")
    assert proc.returncode == 0, proc.stdout


def test_github_and_sarif_point_into_the_notebook_file(tmp_path):
    path = write(tmp_path / "t.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    text = path.read_text()
    file_line = next(i for i, line in enumerate(text.splitlines(), 1) if "return tf.reduce_mean" in line)
    file_col = text.splitlines()[file_line - 1].index("tf.reduce_mean") + 1
    github = run(tmp_path, "lint", "--format", "github", "t.ipynb").stdout
    assert github.startswith(f"::error file=t.ipynb,line={file_line},col={file_col},"), github
    assert "title=LCK101 batch-mean-reduction (cell 2%3A2%3A12)::cell 2:2:12: LCK101 " in github
    sarif = json.loads(run(tmp_path, "lint", "--format", "sarif", "t.ipynb").stdout)
    (result,) = sarif["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (file_line, file_col)
    assert result["properties"]["cell"] == 2 and result["properties"]["cellLine"] == 2
    assert result["message"]["text"].startswith("cell 2:2:12: ")


def test_sarif_position_with_escapes_and_single_string_sources(tmp_path):
    # "é" escaped as \u00e9 and quotes as \" take more characters in the file than in the cell
    loss = 'def seg_loss(y_true, y_pred):\n    s = "\u00e9"; return tf.reduce_mean(y_pred)'
    nb = notebook(code(IMPORTS, split=False), code(loss, split=False))
    (tmp_path / "e.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=True))
    text = (tmp_path / "e.ipynb").read_text()
    sarif = json.loads(run(tmp_path, "lint", "--format", "sarif", "e.ipynb").stdout)
    region = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    line = text.splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 :].startswith("tf.reduce_mean(y_pred)")
    assert line[region["endColumn"] - 2] == ")"


def test_cached_notebook_findings_keep_their_cells(tmp_path):
    path = write(tmp_path / "t.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    first = run(tmp_path, "lint", "--format", "json", "--verbose", "t.ipynb")
    second = run(tmp_path, "lint", "--format", "json", "--verbose", "t.ipynb")
    assert "1 from the cache" in second.stderr and "0 from the cache" in first.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout) and json.loads(second.stdout)[0]["cell"] == 2
    # a changed cell is a changed file: the cache does not answer for it
    write(path, notebook(code(IMPORTS), code("x = 1"), code(BATCH_MEAN)))
    third = run(tmp_path, "lint", "--format", "json", "--verbose", "t.ipynb")
    assert "0 from the cache" in third.stderr and json.loads(third.stdout)[0]["cell"] == 3


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_nbformat_is_imported_only_to_convert_or_write(tmp_path):
    """Linting reads a version 4 notebook as the JSON it is: nbformat (and jsonschema with it,
    ~115 ms) is imported to convert a version 3 notebook, and to write a fixed one."""
    (tmp_path / "m.py").write_text(IMPORTS + "\n" + BATCH_MEAN + "\n")
    write(tmp_path / "t.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    cells = [{"cell_type": "code", "input": source, "language": "python", "metadata": {}, "outputs": []}
             for source in (IMPORTS, BATCH_MEAN)]
    nb3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [{"metadata": {}, "cells": cells}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(nb3, indent=1))
    command = [sys.executable, "-X", "importtime", "-m", "losscheck", "lint", "--no-cache"]
    for name, imported in (("m.py", False), ("t.ipynb", False), ("old.ipynb", True)):
        proc = subprocess.run([*command, name], cwd=tmp_path, capture_output=True, text=True, check=False)
        assert proc.returncode == 1, (name, proc.stdout)
        assert ("nbformat" in _imported(proc.stderr)) is imported, name
        assert ("jsonschema" in _imported(proc.stderr)) is imported, name


def test_the_example_notebook_has_its_one_planted_mistake():
    proc = concise(REPO, "--no-cache", "examples/notebooks/multitask_training.ipynb")
    found = [line for line in proc.stdout.splitlines() if ": LCK" in line]
    assert proc.returncode == 1 and len(found) == 1, proc.stdout
    assert found[0].startswith("examples/notebooks/multitask_training.ipynb:cell 6:5:12: LCK101")


def test_notebooks_in_worker_processes_keep_their_cells(tmp_path):
    for i in range(5):
        write(tmp_path / f"n{i}.ipynb", notebook(code(IMPORTS), markdown("m"), code("x = 1\n" * i + BATCH_MEAN)))
    proc = run(tmp_path, "lint", "--no-cache", "--jobs", "2", "--format", "concise", ".")
    heads = [line.split(" [")[0] for line in proc.stdout.splitlines() if ": LCK" in line]
    assert heads == [f"n{i}.ipynb:cell 3:{i + 2}:12: LCK101" for i in range(5)], proc.stdout + proc.stderr
