"""``losscheck migrate``: every Keras 2 -> 3 change in a file, then in a tree.

A file goes through two steps: the import, name and argument rewrites of ``rewrite.py``, then
``removed-keras-api``'s (LCK302) fixes to a fixed point, as ``lint --fix`` applies them, with the
target forced to Keras 3 and ``tf.keras.backend`` calls included (they only run on Keras 3's
TensorFlow backend; ``keras.ops`` runs on all three). The value-preserving fixes are applied by
default, the unsafe ones (the values differ somewhere: ``K.binary_crossentropy``, ``K.argmax``'s
int64) only with ``unsafe=True``. Imports the changes leave unused (the backend, ``Reduction``)
are removed. Writes go through ``fixer.write_fixed`` (atomic, through symlinks, keeping the
mode, refusing read-only files), exactly as ``lint --fix`` writes. Notebooks go through
``notebooks.py``, which migrates their code cells as one module with :func:`migrate_source`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from losscheck.lint.engine import decode, lint_source
from losscheck.lint.fix import selected_fixes
from losscheck.lint.fixer import NotWritten, _encoding, fix_source, write_fixed
from losscheck.lint.keras_imports import drop_unused_backend_imports
from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi
from losscheck.migrate.rewrite import Note, rewrite

# LCK302 as migrate runs it: every file is moving to Keras 3, whatever its pins say.
OPTIONS = {"keras_target": {"setting": "3", "pins": False}, "keras_migrate": True}
# Imports that the rewrites of the reduction enums can leave unused.
ENUM_MODULES = ("keras.losses.Reduction", "tensorflow.keras.losses.Reduction", "keras.utils.losses_utils",
                "tensorflow.python.keras.utils.losses_utils")
_QUOTED = re.compile(r"`([^`]+)`")


class MigrateError(Exception):
    """A file that cannot be migrated (syntax error, undecodable); its one-line reason."""


@dataclass
class Migration:
    path: str
    original: str
    code: str
    changed: list[Note] = field(default_factory=list)
    not_changed: list[Note] = field(default_factory=list)
    rewritten: str = ""  # after the import and name rewrites: what the backend fixes ran on

    @property
    def modified(self) -> bool:
        return self.code != self.original

    @property
    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.code.splitlines(keepends=True), f"a/{self.path}", f"b/{self.path}"))


def migrate_source(source: str, path: str = "<string>", *, unsafe: bool = False) -> Migration:
    """The Keras 3 version of ``source``. Raises :class:`MigrateError` on a syntax error."""
    import ast

    import libcst as cst

    try:  # CPython's own message and place (libcst's are less precise)
        compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise MigrateError(f"{path}:{exc.lineno or 1}:{exc.offset or 1}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise MigrateError(f"{path}: cannot parse it: {type(exc).__name__}") from None
    try:
        rewritten = rewrite(source)
    except cst.ParserSyntaxError as exc:
        raise MigrateError(f"{path}:{exc.raw_line}:{exc.raw_column + 1}: syntax error: {exc.message}") from None
    code = drop_unused_backend_imports(source, rewritten.code, ENUM_MODULES)
    result = Migration(path, source, code, list(rewritten.changed), list(rewritten.not_changed), code)
    rules = [RemovedKerasApi]
    findings = lint_source(code, path, rules=rules, options=OPTIONS)
    chosen = [f for f in findings if f.code == "LCK302" and f.fix is not None and (f.fix.safe or unsafe)]
    if chosen:
        result.code, findings, _count = fix_source(code, findings, rules, path, dict(OPTIONS), unsafe)
    left = [f for f in findings if f.code == "LCK302"]
    if chosen and not selected_fixes(left, unsafe):
        result.changed += [Note(f.line, _call_note(f.message, f.fix.description), "rewritten") for f in chosen if f.fix]
    for finding in left:
        result.not_changed.append(Note(finding.line, _why_not(finding.message, finding.fix, unsafe), "code"))
    result.changed.sort(key=lambda n: n.line)
    result.not_changed.sort(key=lambda n: n.line)
    return result


def _call_note(message: str, description: str) -> str:
    called = _QUOTED.search(message)
    written = _QUOTED.search(description)
    return f"`{called.group(1) if called else '?'}` -> `{written.group(1) if written else '?'}`"


def _why_not(message: str, fix: object, unsafe: bool) -> str:
    from losscheck.lint.api.keras_backend import REMOVED
    from losscheck.lint.rules.lck302_removed_keras_api import hint_for

    called = _QUOTED.search(message)
    name = called.group(1) if called else "a Keras 2 backend call"
    attr = name.rsplit(".", 1)[-1]
    entry = REMOVED.get(attr)
    if fix is not None and not unsafe and entry is not None:
        return f"`{name}`: not value-preserving ({entry.why}); `--unsafe-fixes` applies it"
    return f"`{name}`: no automatic rewrite: {hint_for(attr)}"


def migrate_file(path: str, *, unsafe: bool) -> tuple[Migration, bytes]:
    """Migrate the file at ``path``; returns the migration and the bytes to write. Raises
    :class:`MigrateError`."""
    data = read_bytes(path)
    try:
        source = decode(data)
    except ValueError as exc:
        raise MigrateError(f"{path}: cannot decode it: {exc}") from None
    result = migrate_source(source, path, unsafe=unsafe)
    return result, result.code.encode(_encoding(data))


def read_bytes(path: str) -> bytes:
    """The file's bytes. Raises :class:`MigrateError` with the reason when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise MigrateError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def write(path: str, data: bytes) -> None:
    """Write a migrated file as ``lint --fix`` does. Raises :class:`MigrateError`."""
    try:
        write_fixed(path, data)
    except NotWritten as exc:
        raise MigrateError(str(exc).replace("not fixed", "not migrated")) from None
