"""``--fix`` / ``--diff``: apply fixes file by file, re-linting until nothing more applies.

A fix changes the code that other findings point into, so after each pass the file is
linted again and the fresh findings' fixes are applied, at most ``MAX_PASSES`` times.
Files are written atomically in their own encoding; a file that would not parse after the
fixes is left untouched (a rule's fix must never break code).
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from losscheck.lint import config as cfg
from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
from losscheck.lint.engine import decode, lint_source
from losscheck.lint.finding import Finding
from losscheck.lint.fix import MAX_PASSES, apply_fixes, selected_fixes


@dataclass
class FixOutcome:
    findings: list[Finding]  # what remains after fixing, all files, sorted
    fixed: int
    diff: str


def fix_source(source: str, findings: list[Finding], rules: Sequence[Any], path: str, options: dict, unsafe: bool) -> tuple[str, list[Finding], int]:
    total = 0
    for _ in range(MAX_PASSES):
        new, applied = apply_fixes(source, findings, unsafe=unsafe)
        if not applied or new == source:
            break
        fresh = lint_source(new, path, rules=rules, options=options)
        if any(f.code in DIAGNOSTIC_CODES for f in fresh):
            break  # the fix broke the file: keep the last good version
        source, findings, total = new, fresh, total + applied
    return source, findings, total


def _encoding(data: bytes) -> str:
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return "utf-8"


def _write_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".losscheck-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fix_files(findings: list[Finding], the_plan: Any, *, unsafe: bool, write: bool) -> FixOutcome:
    from losscheck.lint.runner import _relpath, _rule_classes

    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    remaining: list[Finding] = []
    fixed = 0
    diffs: list[str] = []
    settings = the_plan.settings
    for path in sorted(by_path):
        file_findings = by_path[path]
        if not selected_fixes(file_findings, unsafe) or any(f.code in DIAGNOSTIC_CODES for f in file_findings):
            remaining.extend(file_findings)
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        source = decode(data)
        infos = cfg.per_file_rules(the_plan.enabled, _relpath(path, settings.root), settings.per_file_ignores)
        rules = _rule_classes([r.code for r in infos])
        new, left, count = fix_source(source, file_findings, rules, path, the_plan.options, unsafe)
        remaining.extend(left)
        fixed += count
        if count and new != source:
            if write:
                _write_atomic(path, new.encode(_encoding(data)))
            else:
                diffs.append(
                    "".join(
                        difflib.unified_diff(
                            source.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
                        )
                    )
                )
    remaining.sort(key=Finding.sort_key)
    return FixOutcome(remaining, fixed, "".join(diffs))
