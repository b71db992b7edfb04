"""`losscheck lint -` reads standard input, as ruff does: `--stdin-filename` names it for messages,
the config found from it, per-file-ignores, force-exclude, the Keras target and notebook-ness;
with `--fix`, standard output holds the fixed text and nothing else."""

from __future__ import annotations

import json

import nbformat
from notebook_helpers import (
    BACKEND_FIXED,
    BACKEND_IMPORTS,
    BACKEND_LOSS,
    BATCH_MEAN,
    IMPORTS,
    code,
    jupyter_text,
    notebook,
    run,
)

PY = (IMPORTS + "\n" + BATCH_MEAN + "\n").encode()
FIXABLE = (BACKEND_IMPORTS + "\n" + BACKEND_LOSS + "\n").encode()
FIXED = ("import keras\n" + BACKEND_FIXED + "\n").encode()  # the unused backend import goes


def lint(tmp_path, *args: str, data: bytes, env: dict[str, str] | None = None):
    return run(tmp_path, "lint", *args, stdin=data, env=env)


def test_dash_reads_standard_input(tmp_path):
    proc = lint(tmp_path, "--format", "concise", "-", data=PY)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("-:4:12: LCK101 [batch-mean-reduction]")
    clean = lint(tmp_path, "-", data=b"x = 1\n")
    assert clean.returncode == 0 and b"All checks passed!" in clean.stdout


def test_stdin_filename_names_it_and_finds_its_config(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text('[tool.losscheck]\nignore = ["LCK101"]\noutput-format = "concise"\n')
    inside = lint(tmp_path, "--stdin-filename", "pkg/train.py", "-", data=PY)
    assert inside.returncode == 0 and b"All checks passed!" in inside.stdout, inside.stdout
    outside = lint(tmp_path, "--format", "concise", "--stdin-filename", "other/train.py", data=PY)  # no `-`: implied
    assert outside.returncode == 1 and outside.stdout.startswith(b"other/train.py:4:12: LCK101")


def test_per_file_ignores_and_force_exclude_match_the_name(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.losscheck]\nper-file-ignores = { "tests/*" = ["LCK101"] }\nextend-exclude = ["vendor"]\nforce-exclude = true\n'
    )
    assert lint(tmp_path, "--stdin-filename", "tests/test_a.py", "-", data=PY).returncode == 0
    assert lint(tmp_path, "--stdin-filename", "src/a.py", "-", data=PY).returncode == 1
    excluded = lint(tmp_path, "--fix", "--stdin-filename", "vendor/a.py", "-", data=FIXABLE)
    assert excluded.returncode == 0 and excluded.stdout == FIXABLE  # not linted, given back as it came


def test_keras_target_from_the_config_found_for_the_name(tmp_path):
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / "pyproject.toml").write_text('[tool.losscheck]\ntarget-keras = "2"\n')
    keras2 = lint(tmp_path, "--format", "json", "--stdin-filename", "k2/loss.py", "-", data=FIXABLE)
    keras3 = lint(tmp_path, "--format", "json", "--stdin-filename", "loss.py", "-", data=FIXABLE)
    assert [r["code"] for r in json.loads(keras2.stdout)] == []
    assert {r["code"] for r in json.loads(keras3.stdout)} == {"LCK302"}


def test_fix_prints_the_fixed_text_and_nothing_else(tmp_path):
    proc = lint(tmp_path, "--fix", "--stdin-filename", "loss.py", "-", data=FIXABLE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == FIXED
    assert b"3 fixed, 0 remaining" in proc.stderr
    # what is left goes to standard error, in the chosen format
    rest = lint(tmp_path, "--fix", "--format", "json", "-", data=FIXABLE + PY)
    assert rest.returncode == 1 and rest.stdout.startswith(FIXED[:-1])
    assert [r["code"] for r in json.loads(rest.stderr)] == ["LCK101"]


def test_fix_with_nothing_to_fix_or_a_broken_buffer_gives_it_back(tmp_path):
    unchanged = lint(tmp_path, "--fix", "-", data=PY.replace(b"\n", b"\r\n"))
    assert unchanged.returncode == 1 and unchanged.stdout == PY.replace(b"\n", b"\r\n")
    broken = b"def loss(y_true, y_pred)\n    return K.mean(y_pred)\n"
    bad = lint(tmp_path, "--fix", "-", data=broken)
    assert bad.returncode == 2 and bad.stdout == broken and b"LCK999" in bad.stderr


def test_diff_on_standard_input(tmp_path):
    proc = lint(tmp_path, "--diff", "--stdin-filename", "loss.py", data=FIXABLE)
    assert proc.returncode == 1
    assert proc.stdout.startswith(b"--- a/loss.py\n+++ b/loss.py\n") and b"+    return keras.ops.sqrt(" in proc.stdout


def test_notebook_on_standard_input(tmp_path):
    text = jupyter_text(notebook(code(BACKEND_IMPORTS), code(BACKEND_LOSS), code(IMPORTS), code(BATCH_MEAN)))
    found = lint(tmp_path, "--format", "concise", "--stdin-filename", "nb/train.ipynb", "-", data=text.encode())
    lines = found.stdout.decode().splitlines()
    assert found.returncode == 1 and lines[0].startswith("nb/train.ipynb:cell 2:2:12: LCK302"), lines
    assert any(line.startswith("nb/train.ipynb:cell 4:2:12: LCK101") for line in lines)
    full = lint(tmp_path, "--stdin-filename", "nb/train.ipynb", "-", data=text.encode()).stdout.decode()
    assert "2 |     return K.sqrt(" in full  # the cell's lines, from the buffer
    fixed = lint(tmp_path, "--fix", "--stdin-filename", "nb/train.ipynb", "-", data=text.encode())
    assert fixed.returncode == 1  # the LCK101 remains
    out = fixed.stdout.decode()
    nbformat.validate(nbformat.reads(out, as_version=nbformat.NO_CONVERT))
    assert nbformat.reads(out, as_version=4).cells[1].source == BACKEND_FIXED
    assert b"cell 4:2:12: LCK101" in fixed.stderr


def test_malformed_notebook_on_standard_input(tmp_path):
    proc = lint(tmp_path, "--fix", "--stdin-filename", "x.ipynb", "-", data=b'{"cells": ')
    assert proc.returncode == 2 and proc.stdout == b'{"cells": '
    assert b"x.ipynb:1:11: LCK998 [unreadable-file] not a valid notebook: invalid JSON" in proc.stderr


def test_usage_errors(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    both = lint(tmp_path, "-", "a.py", data=PY)
    assert both.returncode == 2 and b"cannot be linted together with other paths" in both.stderr
    named = lint(tmp_path, "--stdin-filename", "x.py", "a.py", data=PY)
    assert named.returncode == 2 and b"--stdin-filename names standard input" in named.stderr
    assert b"Traceback" not in both.stderr + named.stderr
