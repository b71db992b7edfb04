"""File discovery: .gitignore (checked against real git), excludes, suffixes, deterministic order."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.discover import IgnoreFile, discover, parse_gitignore

GIT = shutil.which("git")


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n")


def rel(root: Path, files: list[str]) -> list[str]:
    return [os.path.relpath(f, root).replace(os.sep, "/") for f in files]


def test_suffixes_order_and_explicit_files(tmp_path):
    touch(tmp_path, "b.py", "a.pyi", "c.txt", "d/e.py", "d/f.ipynb", "A.py")
    found = discover([str(tmp_path)]).files
    assert rel(tmp_path, found) == ["A.py", "a.pyi", "b.py", "d/e.py", "d/f.ipynb"]
    # an explicitly named file is linted when `include` matches it; duplicates are dropped
    assert rel(tmp_path, discover([str(tmp_path / "b.py"), str(tmp_path / "b.py")]).files) == ["b.py"]
    # any other is an error naming it, not skipped in silence
    named = discover([str(tmp_path / "c.txt")])
    assert named.files == [] and [p for p, _ in named.unreadable] == [str(tmp_path / "c.txt")]
    assert "not a Python file or notebook" in named.unreadable[0][1]
    # ...unless `include` matches it
    assert rel(tmp_path, discover([str(tmp_path / "c.txt")], include=["*.txt"]).files) == ["c.txt"]


def test_missing_paths_are_reported_not_fatal(tmp_path):
    touch(tmp_path, "a.py")
    d = discover([str(tmp_path / "nope.py"), str(tmp_path / "a.py")])
    assert d.missing == [str(tmp_path / "nope.py")] and rel(tmp_path, d.files) == ["a.py"]


def test_nested_gitignore_negation_and_dir_only(tmp_path):
    (tmp_path / ".git").mkdir()
    touch(tmp_path, "keep.py", "gen_a.py", "build2/x.py", "sub/gen_b.py", "sub/gen_keep.py", "sub/cache/y.py", "cache.py")
    (tmp_path / ".gitignore").write_text("gen_*.py\nbuild2/\ncache/\n")
    (tmp_path / "sub" / ".gitignore").write_text("!gen_keep.py\n")
    found = rel(tmp_path, discover([str(tmp_path)], exclude=[]).files)
    assert found == ["cache.py", "keep.py", "sub/gen_keep.py"]
    # walking from a subfolder still applies the parent's .gitignore (up to the repository root)
    assert rel(tmp_path, discover([str(tmp_path / "sub")]).files) == ["sub/gen_keep.py"]
    assert "gen_a.py" in rel(tmp_path, discover([str(tmp_path)], respect_gitignore=False).files)


def test_exclude_globs_by_name_and_relative_path(tmp_path):
    touch(tmp_path, "a.py", "migrations/m.py", "pkg/vendor/v.py", "pkg/ok.py")
    found = discover([str(tmp_path)], exclude=["migrations", "pkg/vendor"], root=str(tmp_path)).files
    assert rel(tmp_path, found) == ["a.py", "pkg/ok.py"]
    named = [str(tmp_path / "migrations" / "m.py"), str(tmp_path / "a.py")]
    assert len(discover(named, exclude=["migrations"], root=str(tmp_path)).files) == 2  # named files are linted
    forced = discover(named, exclude=["migrations"], root=str(tmp_path), force_exclude=True).files
    assert rel(tmp_path, forced) == ["a.py"]


SEG = st.sampled_from(["a", "b", "ab", "x.py", "y.py", "sub", "deep"])
PATTERN = st.builds(
    lambda neg, lead, body, trail: ("!" if neg else "") + ("/" if lead else "") + body + ("/" if trail else ""),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["a", "*.py", "sub", "sub/*.py", "**/x.py", "a/**", "?.py", "[ab]", "deep/**/y.py", "b*", "ab/x.py"]),
    st.booleans(),
)


@pytest.mark.skipif(GIT is None, reason="needs git")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    patterns=st.lists(PATTERN, min_size=1, max_size=4),
    paths=st.lists(st.lists(SEG, min_size=1, max_size=3).map("/".join), min_size=1, max_size=6, unique=True),
)
def test_gitignore_matches_git_check_ignore(tmp_path_factory, patterns, paths):
    """Our matcher against `git check-ignore` on the same patterns and paths."""
    root = tmp_path_factory.mktemp("gi")
    subprocess.run([GIT, "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("\n".join(patterns) + "\n")
    ig = IgnoreFile(str(root), parse_gitignore("\n".join(patterns)))
    files = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]  # a file cannot be a folder too
    for p in files:
        touch(root, p)
    proc = subprocess.run(
        [GIT, "-C", str(root), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(files) + "\n", check=False, capture_output=True, text=True,
    )
    git_ignored = set(proc.stdout.split())

    def ours(p: str) -> bool:
        # git ignores a file when it or any folder above it is ignored (no re-include below an ignored folder)
        parts = p.split("/")
        for i in range(1, len(parts)):
            if ig.decide(str(root / "/".join(parts[:i])), True):
                return True
        return bool(ig.decide(str(root / p), False))

    assert {p for p in files if ours(p)} == git_ignored, patterns
