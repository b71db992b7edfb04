"""Robustness on real code: a deterministic sample of the CPython standard library and the installed
site-packages lints with zero internal errors (LCK997), through the CLI and through the API.

The full crawl (every file: ~1,800 stdlib and ~19,000 site-packages files here) takes longer
than the test budget; it is benchmarks/crawl.py, and its numbers are in docs/benchmarks.md. This
test uses that script's own file selection (``sample_files``), so both look at the same kind of
input: every k-th file of the sorted list, plus every k-th file that mentions y_true/y_pred
(those pass the pre-filter and reach the parser and the rules).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_crawl():
    spec = importlib.util.spec_from_file_location("losscheck_bench_crawl", REPO / "benchmarks" / "crawl.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


crawl = _load_crawl()


@pytest.fixture(scope="module")
def sample() -> list[Path]:
    files = crawl.sample_files(n_plain=400, n_lossy=60)
    assert len(files) > 200, len(files)
    return files


@pytest.mark.slow
def test_cli_on_stdlib_and_site_packages_sample(sample: list[Path]) -> None:
    code, records, stderr, seconds = crawl.lint_cli([str(p) for p in sample], timeout=600)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code in (0, 1, 2), (code, stderr[-2000:])
    internal = [r for r in records if r["code"] == crawl.INTERNAL_ERROR]
    assert not internal, internal
    # every record names one of the files we passed, with a sane position
    names = {str(p) for p in sample}
    for r in records:
        assert r["line"] >= 1 and r["column"] >= 1, r
        assert any(str(Path(r["path"]).resolve()) == n or r["path"] == n for n in names), r["path"]
    print(f"\n{len(sample)} files, {crawl.count_lines(sample):,} lines, {seconds:.1f} s, exit {code}")


@pytest.mark.slow
def test_api_every_rule_without_prefilter(sample: list[Path]) -> None:
    """The loss-like part of the sample through ``lint_bytes`` with *every* rule (default-off ones too)
    and no pre-filter: the finder and the rules meet real library code that merely mentions
    y_true/y_pred (Keras, TensorFlow, scikit-learn...), the likeliest place for a rule to crash."""
    lossy = [p for p in sample if b"y_true" in p.read_bytes() or b"y_pred" in p.read_bytes()]
    assert len(lossy) >= 30, len(lossy)
    counts, internal, seconds = crawl.lint_api_all_rules(lossy)
    assert not internal, internal
    print(f"\n{len(lossy)} loss-like files through every rule in {seconds:.1f} s: {dict(counts)}")
