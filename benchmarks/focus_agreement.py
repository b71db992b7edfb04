"""Focused and whole-file runs agree: the same findings on every file of the given trees.

Focusing (``losscheck/lint/focus.py``) blanks the definitions no rule can reach before libcst
parses a file; it must change no finding. The test suite checks that on the rules' own cases and
on generated programs (``tests/lint/test_focus.py``); this script checks it on real code: every
``.py`` file under the given paths that the pre-filter passes is linted twice through
``lint_bytes``, with the rules the pre-filter picks (as a run does), focused and with
``whole_file``, and the findings are compared. A difference is printed with both lists.

Usage::

    python benchmarks/focus_agreement.py PATH [PATH ...] [--jobs N]

Exit status 1 when any file differs, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl import python_files as _tree_files  # noqa: E402 - the crawl's walk: sorted, no __pycache__

Key = tuple[str, int, int, str]

_RULES: list[Any] = []
_PREFILTER: Any = None


def python_files(roots: list[str]) -> Iterator[str]:
    for root in roots:
        if os.path.isfile(root):
            yield root
        else:
            yield from map(str, _tree_files(Path(root)))


def _setup() -> None:
    global _PREFILTER
    from losscheck.lint.prefilter import Prefilter
    from losscheck.lint.registry import load_registry

    _RULES[:] = [r for r in load_registry().rules if getattr(r, "default_enabled", True)]
    _PREFILTER = Prefilter(_RULES)


def compare(path: str) -> tuple[str, list[Key], list[Key]] | None:
    """None when the pre-filter skips the file; else the file and its findings, focused and whole."""
    from losscheck.lint.engine import lint_bytes

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    codes = set(_PREFILTER.select(data))
    if not codes:
        return None
    rules = [r for r in _RULES if r.code in codes]
    options = {"enabled_codes": tuple(r.code for r in _RULES)}

    def keys(extra: dict[str, Any]) -> list[Key]:
        return [(f.code, f.line, f.column, f.message) for f in lint_bytes(data, path, rules=rules, options={**options, **extra})]

    return path, keys({}), keys({"whole_file": True})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    files = list(python_files(args.paths))
    parsed = agreeing = 0
    differing: list[str] = []
    with Pool(args.jobs, initializer=_setup) as pool:
        for result in pool.imap_unordered(compare, files, chunksize=4):
            if result is None:
                continue
            parsed += 1
            path, focused, whole = result
            if focused == whole:
                agreeing += len(focused)
                continue
            differing.append(path)
            print(f"DIFFERS {path}\n  focused: {focused}\n  whole:   {whole}")
    print(f"{len(files)} files, {parsed} passed the pre-filter and were linted twice; "
          f"{agreeing} findings agree; {len(differing)} files differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
