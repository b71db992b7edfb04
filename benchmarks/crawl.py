"""Crawl: lint the whole CPython standard library and every installed site-package with the real CLI.

The goal: the whole CPython standard library and every installed site-package (hundreds of
thousands of lines) lint with zero internal errors. Runs ``losscheck lint --isolated --no-cache
--format json`` on each root and counts the diagnostics by code; any LCK997 (internal error) is
printed with its message. Two passes:

- ``cli``: the command users run (discover, pre-filter, parallel workers), so files the pre-filter
  rejects are not parsed;
- ``--all-rules-api`` (optional, slow): every file through ``lint_bytes`` with every rule and no
  pre-filter, so the finder and the rules also see code that is nothing like a loss function.

The test suite (tests/robust/test_corpus.py) runs a deterministic sample of the same files
(``sample_files``); this script is the full run. Usage::

    python benchmarks/crawl.py                 # CLI over stdlib + site-packages
    python benchmarks/crawl.py --all-rules-api # also every file through the API with every rule
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

INTERNAL_ERROR = "LCK997"


def roots() -> dict[str, Path]:
    paths = sysconfig.get_paths()
    return {"stdlib": Path(paths["stdlib"]), "site-packages": Path(paths["purelib"])}


def python_files(root: Path, skip: Path | None = None) -> list[Path]:
    """Every .py file under ``root`` (sorted, no __pycache__), leaving out ``skip`` (site-packages
    lies inside the stdlib folder)."""
    found = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and (skip is None or here / d != skip))
        found += [here / f for f in sorted(files) if f.endswith(".py")]
    return found


def all_files() -> dict[str, list[Path]]:
    r = roots()
    return {"stdlib": python_files(r["stdlib"], skip=r["site-packages"]),
            "site-packages": python_files(r["site-packages"])}


LOSSY = (b"y_true", b"y_pred")


def sample_files(n_plain: int, n_lossy: int, max_lossy_bytes: int = 60_000) -> list[Path]:
    """A deterministic sample: every k-th file of the sorted stdlib + site-packages list
    (``n_plain``), plus every k-th of those up to ``max_lossy_bytes`` that mention y_true/y_pred
    (``n_lossy``): those get past the pre-filter and reach the parser and the rules, which is where
    crashes can happen (the size cap keeps the test's parse time bounded)."""
    files = [p for group in all_files().values() for p in group]
    plain = files[:: max(len(files) // n_plain, 1)][:n_plain]
    lossy = []
    for p in files:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        if len(data) <= max_lossy_bytes and any(word in data for word in LOSSY):
            lossy.append(p)
    lossy = lossy[:: max(len(lossy) // n_lossy, 1)][:n_lossy]
    return sorted(set(plain) | set(lossy))


def count_lines(files: list[Path]) -> int:
    total = 0
    for p in files:
        try:
            total += p.read_bytes().count(b"\n")
        except OSError:
            pass
    return total


def lint_cli(paths: list[str], timeout: float = 3600) -> tuple[int, list[dict], str, float]:
    """(exit code, JSON records, stderr, seconds) of one ``losscheck lint`` run."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--isolated", "--no-cache", "--format", "json", *paths],
        capture_output=True, text=True, timeout=timeout,
    )
    seconds = time.perf_counter() - start
    records = json.loads(proc.stdout) if proc.stdout.strip() else []
    return proc.returncode, records, proc.stderr, seconds


def lint_api_all_rules(files: list[Path]) -> tuple[collections.Counter, list[dict], float]:
    from losscheck.lint.engine import lint_bytes
    from losscheck.lint.registry import load_registry

    rules = load_registry().rules
    counts: collections.Counter = collections.Counter()
    internal = []
    start = time.perf_counter()
    for p in files:
        for f in lint_bytes(p.read_bytes(), str(p), rules=rules):
            counts[f.code] += 1
            if f.code == INTERNAL_ERROR:
                internal.append(f.to_dict())
    return counts, internal, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lint the stdlib and site-packages; count internal errors.")
    parser.add_argument("--all-rules-api", action="store_true", help="also every file through the API, all rules")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "crawl.json")
    args = parser.parse_args(argv)
    summary: dict = {}
    failed = False
    for name, root in roots().items():
        files = all_files()[name]
        lines = count_lines(files)
        # the stdlib root holds site-packages: pass the stdlib's own top-level entries instead
        if name == "stdlib":
            paths = sorted(str(p) for p in root.iterdir()
                           if p != roots()["site-packages"] and (p.is_dir() or p.suffix == ".py"))
        else:
            paths = [str(root)]
        code, records, stderr, seconds = lint_cli(paths)
        counts = collections.Counter(r["code"] for r in records)
        internal = [r for r in records if r["code"] == INTERNAL_ERROR]
        summary[name] = {"files": len(files), "lines": lines, "exit": code, "seconds": round(seconds, 1),
                         "by_code": dict(counts.most_common()), "internal_errors": internal,
                         "traceback": "Traceback" in stderr}
        print(f"{name}: {len(files):,} files, {lines:,} lines, {seconds:.1f} s, exit {code}, "
              f"{len(internal)} internal errors; by code: {dict(counts.most_common())}", flush=True)
        for r in internal:
            print(f"  LCK997 {r['path']}:{r['line']}: {r['message']}")
        failed |= bool(internal) or code not in (0, 1, 2) or "Traceback" in stderr
        if args.all_rules_api:
            counts, internal, seconds = lint_api_all_rules(files)
            summary[name]["api_all_rules"] = {"seconds": round(seconds, 1), "by_code": dict(counts),
                                              "internal_errors": internal}
            print(f"  API, all rules, no pre-filter: {seconds:.1f} s, {len(internal)} internal errors, "
                  f"{dict(counts.most_common(8))}", flush=True)
            failed |= bool(internal)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
