"""`losscheck lint/rules/explain/config` end to end (real subprocesses): formats, exit codes, fixes,
diagnostics, and the import-time guarantee."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.lint.finding import Finding
from losscheck.lint.reporters import ReportContext, render

UNUSED = "import os\n\nx = 1  # noqa: LCK101\ny = 2  # losscheck: ignore[wrong-axis]\n"
BATCH_MEAN = "import tensorflow as tf\n\n\ndef seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
RECORD_KEYS = {"path", "line", "column", "end_line", "end_column", "code", "rule", "severity", "message", "fix", "cell"}


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".cache-test"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "losscheck", *args], cwd=cwd, check=False, capture_output=True, text=True, env=full_env, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "unused.py").write_text(UNUSED)
    (tmp_path / "loss.py").write_text(BATCH_MEAN)
    (tmp_path / "clean.py").write_text("def main():\n    return 1\n")
    return tmp_path


def test_concise_and_exit_codes(tree):
    proc = run(tree, "lint", "--format", "concise", ".")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "loss.py:5:12: LCK101 [batch-mean-reduction]" in proc.stdout
    assert any(l.startswith("unused.py:3:8: LCK901 [unused-suppression] Unused suppression (unused: `LCK101`)") for l in lines)
    assert any(l.startswith("unused.py:4:8: LCK901") and "not enabled" not in l for l in lines)
    assert run(tree, "lint", "clean.py").returncode == 0
    assert run(tree, "lint", "--exit-zero", ".").returncode == 0


def test_json_sarif_full_github(tree):
    proc = run(tree, "lint", "--format", "json", "unused.py", "loss.py")
    records = json.loads(proc.stdout)
    assert records and all(set(r) == RECORD_KEYS for r in records)
    assert [r["path"] for r in records] == sorted(r["path"] for r in records)
    fix = next(r["fix"] for r in records if r["code"] == "LCK901")
    assert fix["applicability"] == "safe" and fix["edits"]

    sarif = json.loads(run(tree, "lint", "--format", "sarif", ".").stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run0 = sarif["runs"][0]
    ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    for res in run0["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1

    full = run(tree, "lint", "--format", "full", "loss.py").stdout
    assert "5 |     return tf.reduce_mean(tf.square(y_true - y_pred))" in full
    assert "  |            ^^^^" in full and "Found 1 error." in full

    gh = run(tree, "lint", "--format", "github", "loss.py").stdout.splitlines()
    assert gh[0].startswith("::error file=loss.py,line=5,col=12,endLine=5,")
    assert ",title=LCK101 batch-mean-reduction::LCK101 " in gh[0]


def test_github_escaping():
    f = Finding("a,b:c.py", 1, 2, 1, 3, "LCK990", "x", "warning", "100% bad\nsecond line")
    out = render("github", [f], ReportContext(read_source=lambda p: None))
    assert out == "::warning file=a%2Cb%3Ac.py,line=1,col=2,endLine=1,endColumn=3,title=LCK990 x::LCK990 100%25 bad%0Asecond line\n"


def test_diagnostics_do_not_stop_the_run(tree):
    (tree / "syntax.py").write_text("def loss(y_true, y_pred:\n    return y_pred\n")
    (tree / "syntax_no_loss.py").write_text("def f(:\n")  # not loss code: never parsed, not reported
    (tree / "latin.py").write_bytes(b"s = '\xe9\xff'\n")
    proc = run(tree, "lint", "--format", "concise", ".", "missing_dir")
    assert proc.returncode == 2
    assert "syntax.py:1:9: LCK999 [syntax-error]" in proc.stdout
    assert "syntax_no_loss.py" not in proc.stdout
    assert "latin.py:1:1: LCK998 [unreadable-file]" in proc.stdout
    assert "loss.py:5:12: LCK101" in proc.stdout  # the other files were still linted
    assert "losscheck: error: missing_dir: no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_fix_diff_and_unsafe(tree):
    diff = run(tree, "lint", "--diff", "unused.py")
    assert diff.returncode == 1 and diff.stdout.startswith("--- a/unused.py\n+++ b/unused.py\n")
    assert "\n-x = 1  # noqa: LCK101\n" in diff.stdout and "\n+x = 1\n" in diff.stdout
    assert (tree / "unused.py").read_text() == UNUSED  # --diff writes nothing
    fixed = run(tree, "lint", "--fix", "unused.py")
    assert fixed.returncode == 0, fixed.stdout
    assert (tree / "unused.py").read_text() == "import os\n\nx = 1\ny = 2\n"
    assert "2 fixed" in fixed.stdout
    alone = run(tree, "lint", "--unsafe-fixes", "unused.py")
    assert alone.returncode == 2 and "--unsafe-fixes needs --fix" in alone.stderr


def test_select_ignore_statistics(tree):
    proc = run(tree, "lint", "--select", "LCK9", "--statistics", ".")
    assert proc.stdout.split("\t")[:2] == ["2", "LCK901"] and "[*] unused-suppression" in proc.stdout
    assert run(tree, "lint", "--ignore", "LCK101,unused-suppression", ".").returncode == 0
    bad = run(tree, "lint", "--select", "LCK123", ".")
    assert bad.returncode == 2 and "unknown rule selector 'LCK123'" in bad.stderr and "Traceback" not in bad.stderr


def test_rules_explain_config(tree):
    rows = json.loads(run(tree, "rules", "--format", "json").stdout)
    by_code = {r["code"]: r for r in rows}
    assert by_code["LCK901"] == {**by_code["LCK901"], "name": "unused-suppression", "fix": "yes", "default": "on"}
    assert {"LCK997", "LCK998", "LCK999"} <= set(by_code)
    text = run(tree, "rules").stdout
    assert "LCK901" in text and "ORIGIN" in text
    for key in ("LCK901", "unused-suppression"):
        out = run(tree, "explain", key).stdout
        assert out.startswith("# unused-suppression (LCK901)") and "## Why is this bad?" in out
    bad = run(tree, "explain", "nope")
    assert bad.returncode == 2 and "unknown rule 'nope'" in bad.stderr
    (tree / "pyproject.toml").write_text('[tool.losscheck]\nextend-select = ["LCK9"]\nignore = ["LCK101"]\n')
    cfg = json.loads(run(tree, "config", "--format", "json").stdout)
    assert cfg["layers"][0]["ignore"] == ["LCK101"] and "LCK101 batch-mean-reduction" not in cfg["enabled_rules"]
    assert run(tree, "lint", "--show-settings").stdout.startswith("root = ")


def test_layout_option_must_exist_and_be_valid(tree):
    proc = run(tree, "lint", "--layout", "nope.json", "loss.py")
    assert proc.returncode == 2 and "nope.json: layout file not found" in proc.stderr
    (tree / "bad.json").write_text('{"version": 1, "outputs": [{"name": "seg", "tasks": []}]}\n')
    bad = run(tree, "lint", "--format", "concise", "--layout", "bad.json", "loss.py")
    assert bad.returncode == 2 and "bad.json:1: " in bad.stderr and "LCK997" not in bad.stdout
    assert "Traceback" not in bad.stderr
    (tree / "ok.json").write_text('{"version": 1, "outputs": [{"name": "seg", "tasks": [{"name": "m", "type": "binary", "units": 1}]}]}\n')
    good = run(tree, "lint", "--format", "concise", "--layout", "ok.json", "loss.py")
    assert good.returncode == 1 and "LCK101" in good.stdout and "LCK997" not in good.stdout


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_lint_path_never_imports_tensorflow_keras_numpy(tree):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "losscheck", "lint", "--no-cache", "loss.py", "unused.py"],
        cwd=tree, check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mods = _imported(proc.stderr)
    assert "libcst" in mods  # the file was really parsed and checked
    heavy = {m for m in mods if m.split(".")[0] in {"tensorflow", "keras", "numpy", "tf_keras", "jax", "torch"}}
    assert not heavy, sorted(heavy)
    # hashlib loads OpenSSL (~5 ms of a one-file run); the caches hash with the built-in BLAKE2b
    assert "_hashlib" not in mods


def test_file_without_loss_code_is_not_parsed(tree):
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(tree / ".cache-test")}
    command = [sys.executable, "-X", "importtime", "-m", "losscheck", "lint", "--select", "LCK", "clean.py"]
    # The first run builds the rule manifest (which imports every rule, plugins' included);
    # the second, with the same cache directory, must not even import libcst.
    subprocess.run(command, cwd=tree, check=False, capture_output=True, text=True, env=env)
    proc = subprocess.run(command, cwd=tree, check=False, capture_output=True, text=True, env=env)
    assert proc.returncode == 0
    assert "libcst" not in _imported(proc.stderr)
