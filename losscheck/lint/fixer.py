"""``--fix`` / ``--diff``: apply fixes file by file, re-linting until nothing more applies.

Notebooks are fixed cell by cell and written back into their JSON (``notebook_fix.py``).

A fix changes the code that other findings point into, so after each pass the file is
linted again and the fresh findings' fixes are applied, at most ``MAX_PASSES`` times.
Files are written atomically in their own encoding, through symlinks, keeping their mode; a
file that would not parse after the fixes is left untouched (a rule's fix must never break
code), and a read-only file or folder is reported, never written.
"""

from __future__ import annotations

import difflib
import io
import os
import stat
import tempfile
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    errors: list[str] = field(default_factory=list)  # files whose fixes could not be written


def fix_source(source: str, findings: list[Finding], rules: Sequence[Any], path: str, options: dict, unsafe: bool) -> tuple[str, list[Finding], int]:
    total = 0
    original = source
    for _ in range(MAX_PASSES):
        new, applied = apply_fixes(source, findings, unsafe=unsafe)
        if not applied or new == source:
            break
        fresh = lint_source(new, path, rules=rules, options=options)
        if any(f.code in DIAGNOSTIC_CODES for f in fresh):
            break  # the fix broke the file: keep the last good version
        source, findings, total = new, fresh, total + applied
    if total and any(getattr(r, "code", "") == "LCK302" for r in rules):
        # the backend calls were rewritten: an import of Keras 2's backend they left unused goes
        from losscheck.lint.keras_imports import drop_unused_backend_imports

        cleaned = drop_unused_backend_imports(original, source)
        if cleaned != source:
            fresh = lint_source(cleaned, path, rules=rules, options=options)
            if not any(f.code in DIAGNOSTIC_CODES for f in fresh):
                source, findings = cleaned, fresh
    return source, findings, total


def _encoding(data: bytes) -> str:
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return "utf-8"


class NotWritten(Exception):
    """A fixed file that could not be written; the file is left exactly as it was."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: not fixed: {why}")


def write_fixed(path: str, data: bytes) -> None:
    """Write ``data`` over the file at ``path``, atomically: a temporary file in the same folder,
    then ``os.replace``. A symlink stays a symlink (its target is written), the file keeps its
    mode and, where allowed, its owner. A read-only file (no write bit, even for root, who could
    write it anyway) is refused: the user marked it so. Raises :class:`NotWritten`."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except OSError as exc:
        raise NotWritten(path, f"cannot read it: {exc.strerror or exc}") from None
    if not (st.st_mode & 0o222) or not os.access(target, os.W_OK):
        raise NotWritten(path, "the file is read-only")
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".losscheck-", suffix=".tmp")
    except OSError as exc:
        raise NotWritten(path, f"cannot write in its folder: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the data is on disk before the name points at it
        _keep_owner(tmp, st)  # before the mode: a change of owner clears set-id bits
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise NotWritten(path, f"cannot write it: {exc.strerror or exc}") from None
        raise


def _keep_owner(tmp: str, st: os.stat_result) -> None:
    """The new file belongs to whoever runs losscheck; give it back to the old file's owner
    (possible for root, or for a group the user is in)."""
    if not hasattr(os, "chown"):  # pragma: no cover - not POSIX
        return
    mine = os.stat(tmp)
    if (mine.st_uid, mine.st_gid) == (st.st_uid, st.st_gid):
        return
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:
        pass  # not allowed: the content and mode are what matter


@dataclass
class FileFix:
    data: bytes | None  # the fixed file's bytes; None when nothing changed
    findings: list[Finding]  # what remains
    fixed: int
    diff: str


def fix_data(path: str, data: bytes, findings: list[Finding], the_plan: Any, *, unsafe: bool) -> FileFix:
    """Fix one file's bytes (a Python file or a notebook, by ``path``); nothing is written.
    Raises :class:`NotWritten` when the fixed file could not be produced."""
    from losscheck.lint import notebook
    from losscheck.lint.parallel import rule_classes
    from losscheck.lint.runner import _relpath

    settings = the_plan.settings
    infos = cfg.per_file_rules(the_plan.enabled, _relpath(path, settings.root), settings.per_file_ignores)
    rules = rule_classes([r.code for r in infos])
    if notebook.is_notebook(path):
        from losscheck.lint.notebook_fix import InvalidNotebook, fix_notebook

        try:
            nb = fix_notebook(data, path, findings, rules, the_plan.options, unsafe)
        except (InvalidNotebook, notebook.NotebookError) as exc:
            raise NotWritten(path, str(exc)) from None
        new_data = None if nb.text is None else nb.text.encode("utf-8")
        return FileFix(new_data, nb.findings, nb.fixed, nb.diff)
    try:
        source = decode(data)
    except ValueError as exc:  # changed since it was linted
        raise NotWritten(path, f"cannot decode it: {exc}") from None
    new, left, count = fix_source(source, findings, rules, path, the_plan.options, unsafe)
    if not count or new == source:
        return FileFix(None, left, count, "")
    diff = "".join(
        difflib.unified_diff(source.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}")
    )
    return FileFix(new.encode(_encoding(data)), left, count, diff)


def fix_files(findings: list[Finding], the_plan: Any, *, unsafe: bool, write: bool) -> FixOutcome:
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    remaining: list[Finding] = []
    fixed = 0
    diffs: list[str] = []
    errors: list[str] = []
    for path in sorted(by_path):
        file_findings = by_path[path]
        if not selected_fixes(file_findings, unsafe) or any(f.code in DIAGNOSTIC_CODES for f in file_findings):
            remaining.extend(file_findings)
            continue
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:  # gone or changed since it was linted
            errors.append(f"{path}: not fixed: cannot read it: {exc.strerror or exc}")
            remaining.extend(file_findings)
            continue
        try:
            outcome = fix_data(path, data, file_findings, the_plan, unsafe=unsafe)
            if outcome.data is not None and write:
                write_fixed(path, outcome.data)
        except NotWritten as exc:
            errors.append(str(exc))
            remaining.extend(file_findings)  # nothing changed: the findings stand
            continue
        if outcome.data is not None and not write:
            diffs.append(outcome.diff)
        remaining.extend(outcome.findings)
        fixed += outcome.fixed
    remaining.sort(key=Finding.sort_key)
    return FixOutcome(remaining, fixed, "".join(diffs), errors)
