"""A warm run of many files reads one pack (every entry of the last run of the same files) instead
of one entry per file. A pack answers only for the keys it holds, and a pack that is not what
losscheck wrote is not used: the entries answer, and the output is the cold run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cache_helpers import BUGGY, imported, lint, result_entries

from losscheck.lint import cache as lcache


@pytest.fixture
def warm(tmp_path: Path) -> tuple[Path, Path, str]:
    project = tmp_path / "project"
    project.mkdir()
    for i in range(6):
        shutil.copy(BUGGY, project / f"buggy_{i}.py")
        (project / f"plain_{i}.py").write_text("def f(a):\n    return a\n")
    cache = tmp_path / "cache"
    cold = lint(project, cache, "--format", "concise", ".")
    assert cold.returncode == 1
    return project, cache, cold.stdout


def packs(cache: Path) -> list[Path]:
    return sorted((cache / "v1" / "packs").glob("*.json"))


def test_a_warm_run_is_answered_by_the_pack_alone(warm):
    project, cache, expected = warm
    assert len(packs(cache)) == 1
    for entry in result_entries(cache):
        entry.unlink()  # only the pack is left
    again = lint(project, cache, "--format", "concise", ".", importtime=True)
    assert again.stdout == expected
    assert "libcst" not in imported(again.stderr)


def test_a_changed_file_is_a_miss_and_the_pack_is_rewritten(warm):
    project, cache, _expected = warm
    before = packs(cache)[0].read_bytes()
    (project / "plain_0.py").write_text("def f(a):\n    return a + 1\n")
    lint(project, cache, "--format", "concise", ".")
    assert packs(cache)[0].read_bytes() != before
    (project / "plain_0.py").write_text("import tensorflow as tf\n\ndef mse(y_true, y_pred):\n"
                                       "    return tf.reduce_mean(tf.square(y_true - y_pred))\n")
    changed = lint(project, cache, "--format", "concise", ".")
    assert "plain_0.py:4:12: LCK101" in changed.stdout  # the new content, not the pack's old answer


@pytest.mark.parametrize(
    "poison",
    [b"", b"{}", b"[]", b"null", b"\x00" * 64, b'{"k": 1}'],
    ids=["empty", "empty-object", "list", "null", "zeros", "other-object"],
)
def test_a_poisoned_pack_is_not_used(warm, poison):
    project, cache, expected = warm
    (pack,) = packs(cache)
    pack.write_bytes(poison)
    assert lint(project, cache, "--format", "concise", ".").stdout == expected


def test_a_pack_with_wrongly_typed_records_falls_back_to_the_entries(warm):
    project, cache, expected = warm
    (pack,) = packs(cache)
    body = lcache.unseal(pack.read_bytes(), pack.stem)
    assert body is not None
    records = json.loads(body)
    forged = {key: [{"line": "one"}] for key in records}  # sealed correctly, typed wrongly
    pack.write_bytes(lcache.seal(json.dumps(forged).encode(), pack.stem))
    assert lint(project, cache, "--format", "concise", ".").stdout == expected


def test_the_newest_packs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lcache, "MAX_PACKS", 3)
    cache = lcache.ResultCache.open(tmp_path, "tool", {})
    for i in range(5):
        cache.use_pack([f"a{i}.py", f"b{i}.py"])
        cache.put(f"{i:040x}", [])
        cache.finish()
    assert len(list((tmp_path / "v1" / "packs").glob("*.json"))) == 3


def test_a_single_file_has_no_pack(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(BUGGY, project / "buggy.py")
    lint(project, tmp_path / "cache", "--format", "concise", "buggy.py")
    assert packs(tmp_path / "cache") == []
