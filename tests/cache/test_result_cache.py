"""The result cache: repeat runs skip the work, any change invalidates, concurrent runs are safe.
Also: parallel and sequential runs print the same bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOSS = "import tensorflow as tf\n\n\ndef seg_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"


def lint(cwd: Path, cache: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    select = [] if "--select" in args else ["--select", "LCK"]  # our rules only: plugins may come and go
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "losscheck", "lint", *select, *args]
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cache)}
    return subprocess.run(cmd, cwd=cwd, check=False, capture_output=True, text=True, env=env, timeout=300)


def imported(stderr: str) -> set[str]:
    return {l.split("|")[-1].strip() for l in stderr.splitlines() if l.startswith("import time:")}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for i in range(12):
        pkg = src / f"pkg{i % 3}"
        pkg.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "examples" / "losses" / "buggy_losses.py", pkg / f"buggy_{i}.py")
        (pkg / f"loss_{i}.py").write_text(LOSS.replace("seg_loss", f"loss_{i}") + "x = 1  # noqa: LCK101\n")
        (pkg / f"plain_{i}.py").write_text("def f(a):\n    return a\n")
    return src


@pytest.mark.parametrize("fmt", ["json", "full"])  # full: the reporter reads each finding's source
def test_cached_run_is_identical_and_parses_nothing(tree, tmp_path, fmt):
    cache = tmp_path / "cache"
    cold = lint(tree, cache, "--format", fmt, ".")
    assert cold.returncode == 1
    assert any(cache.rglob("*.json")) and (cache / "CACHEDIR.TAG").is_file()
    warm = lint(tree, cache, "--format", fmt, ".", importtime=True)
    assert warm.stdout == cold.stdout
    assert "libcst" not in imported(warm.stderr)  # every file came from the cache, and nothing parses


def test_changes_invalidate(tree, tmp_path):
    cache = tmp_path / "cache"
    first = json.loads(lint(tree, cache, "--format", "json", "pkg0").stdout)
    target = tree / "pkg0" / "loss_0.py"
    target.write_text(target.read_text().replace("tf.reduce_mean(tf.square(y_true - y_pred))",
                                                 "tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"))
    second = json.loads(lint(tree, cache, "--format", "json", "pkg0").stdout)
    assert [f for f in first if f["path"].endswith("loss_0.py") and f["code"] == "LCK101" and f["line"] == 5]
    assert not [f for f in second if f["path"].endswith("loss_0.py") and f["code"] == "LCK101" and f["line"] == 5]
    # settings are part of the key
    only901 = json.loads(lint(tree, cache, "--format", "json", "--select", "LCK901", "pkg0").stdout)
    assert {f["code"] for f in only901} == {"LCK901"}
    # --no-cache neither reads nor writes
    fresh = tmp_path / "fresh"
    assert lint(tree, fresh, "--no-cache", "pkg0").returncode == 1 and not fresh.exists()


def test_corrupt_entries_are_ignored(tree, tmp_path):
    cache = tmp_path / "cache"
    cold = lint(tree, cache, "--format", "concise", "pkg1").stdout
    for entry in (cache / "v1" / "results").rglob("*.json"):
        entry.write_text("{not json")
    assert lint(tree, cache, "--format", "concise", "pkg1").stdout == cold


def test_concurrent_runs_agree_and_leave_a_valid_cache(tree, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "losscheck", "lint", "--select", "LCK", "--format", "concise", "--jobs", "1", "."]
    procs = [subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert outs[0] and outs.count(outs[0]) == 3
    for entry in (cache / "v1" / "results").rglob("*"):
        if entry.is_file():
            assert not entry.name.startswith(".tmp-"), "a temporary file was left behind"
            json.loads(entry.read_text())
    assert lint(tree, cache, "--format", "concise", ".").stdout == outs[0]


def test_parallel_output_equals_sequential(tree, tmp_path):
    seq = lint(tree, tmp_path / "c1", "--no-cache", "--jobs", "1", "--format", "json", ".")
    par = lint(tree, tmp_path / "c2", "--no-cache", "--jobs", "2", "--format", "json", ".")
    assert seq.returncode == par.returncode == 1
    assert par.stdout == seq.stdout
    paths = [f["path"] for f in json.loads(seq.stdout)]
    assert paths == sorted(paths)


# -- the rule manifest in the per-user start-up cache --------------------------------------------
@pytest.fixture
def install_dir(tmp_path, monkeypatch):
    from losscheck.lint import rule_manifest

    folder = tmp_path / "pycache"
    folder.mkdir()
    monkeypatch.setattr(rule_manifest, "install_cache_dir", lambda: folder)
    return folder


def test_manifest_is_kept_in_the_startup_cache_and_read_under_no_cache(install_dir, monkeypatch):
    from losscheck.lint import rule_manifest

    built = rule_manifest.load_manifest(None, tool="k1")  # --no-cache: no project cache at all
    assert [p.name for p in install_dir.iterdir()] == ["rules-manifest.k1.json"]

    def must_not_build():
        raise AssertionError("the manifest was built again instead of read")

    monkeypatch.setattr(rule_manifest, "_build_manifest", must_not_build)
    again = rule_manifest.load_manifest(None, tool="k1")
    assert again == built and any(r.code == "LCK101" for r in again.rules)


def test_a_new_manifest_replaces_the_ones_of_earlier_code(install_dir):
    from losscheck.lint import rule_manifest

    rule_manifest.load_manifest(None, tool="old")
    rule_manifest.load_manifest(None, tool="new")
    assert [p.name for p in install_dir.iterdir()] == ["rules-manifest.new.json"]


def test_an_unwritable_install_keeps_the_manifest_in_the_project_cache(tmp_path, install_dir, monkeypatch):
    from losscheck.lint import rule_manifest
    from losscheck.lint.cache import FORMAT

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the folder should be: no write succeeds, even as root
    monkeypatch.setattr(rule_manifest, "install_cache_dir", lambda: blocker / "pycache")
    rule_manifest.load_manifest(tmp_path / "project-cache", tool="k2")
    assert (tmp_path / "project-cache" / FORMAT / "rules-manifest.k2.json").is_file()


def test_with_the_startup_cache_off_the_project_cache_holds_the_manifest(tmp_path, monkeypatch):
    from losscheck.lint import rule_manifest
    from losscheck.lint.cache import FORMAT
    from losscheck.startup import STARTUP_CACHE_ENV

    monkeypatch.setenv(STARTUP_CACHE_ENV, "off")
    assert rule_manifest.install_cache_dir() is None
    rule_manifest.load_manifest(tmp_path / "project-cache", tool="k3")
    assert (tmp_path / "project-cache" / FORMAT / "rules-manifest.k3.json").is_file()


def test_a_plugin_folder_on_the_import_path_changes_the_key(tmp_path, monkeypatch):
    from losscheck.lint import cache

    before = cache.tool_key()
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path / "plugins")])
    assert cache.tool_key() != before
