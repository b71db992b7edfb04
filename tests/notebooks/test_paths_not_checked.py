"""Nothing passes silently: a path losscheck cannot lint (a named file of another type, a symlink
loop, a pipe) is an error naming it, the other paths are still linted, the run exits 2 and never
says "All checks passed!"; `include`/`extend-include` and Python `#!` scripts decide what a named
file is."""

from __future__ import annotations

import os

import pytest
from notebook_helpers import BATCH_MEAN, IMPORTS, code, notebook, run, write

PY = IMPORTS + "\n" + BATCH_MEAN + "\n"


def test_named_file_of_another_type_is_an_error(tmp_path):
    (tmp_path / "data.csv").write_text("y_true,y_pred\n1,0\n")
    (tmp_path / "clean.py").write_text("x = 1\n")
    proc = run(tmp_path, "lint", "data.csv", "clean.py")
    assert proc.returncode == 2
    assert "losscheck: error: data.csv: not a Python file or notebook" in proc.stderr
    assert "All checks passed!" not in proc.stdout
    assert "1 path could not be checked" in proc.stdout
    for fmt in ("json", "sarif", "github"):
        assert run(tmp_path, "lint", "--format", fmt, "data.csv").returncode == 2


def test_include_and_python_scripts_decide_what_a_named_file_is(tmp_path):
    (tmp_path / "train").write_text("#!/usr/bin/env python3\n" + PY)
    (tmp_path / "gui.pyw").write_text(PY)
    script = run(tmp_path, "lint", "--format", "concise", "train")
    assert script.returncode == 1 and script.stdout.startswith("train:5:12: LCK101"), script.stdout + script.stderr
    assert run(tmp_path, "lint", "gui.pyw").returncode == 2
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\nextend-include = ["*.pyw"]\n')
    named = run(tmp_path, "lint", "--format", "concise", "gui.pyw")
    walked = run(tmp_path, "lint", "--format", "concise", ".")
    assert named.returncode == 1 and named.stdout.startswith("gui.pyw:4:12: LCK101")
    assert walked.returncode == 1 and "gui.pyw:4:12: LCK101" in walked.stdout


def test_symlink_loops_named_or_walked_are_errors(tmp_path):
    os.symlink("b.ipynb", tmp_path / "a.ipynb")
    os.symlink("a.ipynb", tmp_path / "b.ipynb")
    write(tmp_path / "ok.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    named = run(tmp_path, "lint", "--format", "concise", "a.ipynb", "ok.ipynb")
    assert named.returncode == 2 and "losscheck: error: a.ipynb: cannot read: Too many levels of symbolic links" in named.stderr
    assert "ok.ipynb:cell 2:2:12: LCK101" in named.stdout and "All checks passed!" not in named.stdout
    walked = run(tmp_path, "lint", "--format", "concise", ".")
    assert walked.returncode == 2 and "a.ipynb: cannot read" in walked.stderr and "b.ipynb: cannot read" in walked.stderr


def test_a_folder_loop_is_walked_once(tmp_path):
    write(tmp_path / "pkg" / "t.ipynb", notebook(code(IMPORTS), code(BATCH_MEAN)))
    os.symlink("..", tmp_path / "pkg" / "up")  # pkg/up/pkg/up/... : folder symlinks are not followed
    proc = run(tmp_path, "lint", "--format", "concise", ".")
    assert proc.returncode == 1, proc.stderr
    assert [line.split(": ")[0] for line in proc.stdout.splitlines() if ": LCK" in line] == ["pkg/t.ipynb:cell 2:2:12"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_pipe_named_like_a_notebook_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "p.ipynb")
    proc = run(tmp_path, "lint", "p.ipynb")
    assert proc.returncode == 2 and "p.ipynb: not a regular file or folder" in proc.stderr
    assert "All checks passed!" not in proc.stdout


def test_a_folder_without_files_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x\n")
    proc = run(tmp_path, "lint", "empty")
    assert proc.returncode == 0
    assert "losscheck: warning: no Python files or notebooks found under the given paths" in proc.stderr
