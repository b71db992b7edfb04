"""Linting what the editor holds: a Python buffer or a notebook, by the runner of ``lint -``.

A document is linted as ``losscheck lint - --stdin-filename PATH`` lints it (``runner.run``
with the buffer as standard input): the same pre-filter, per-file rules (``per-file-ignores``),
Keras target, notebook handling and engine guard, with the project's plan built once
(``projects.py``). Nothing goes through the file cache: the editor's text is not the file's.

Each document keeps its last result keyed by the digest of what was linted and the
projects' generation, so linting the same text again (a save, an undo back to a linted text,
a re-open, a code action) costs a hash. Linting runs on one thread (``server.py``), so the
state here needs no lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from losscheck.hashing import blake2b
from losscheck.lint import runner
from losscheck.lint.finding import Finding
from losscheck.lint.stdin import StdinFile
from losscheck.server.notebooks import Cell
from losscheck.server.projects import Projects


@dataclass(frozen=True)
class Snapshot:
    """One version of a document, as it was when its lint was asked for."""

    uri: str
    path: str  # where the document is (or would be) on disk: config, per-file-ignores, notebook-ness
    version: int | None
    data: bytes  # what the runner lints: the buffer's text, or the notebook's JSON
    cells: tuple[Cell, ...] = ()  # a notebook's cells, in order

    @property
    def is_notebook(self) -> bool:
        return bool(self.cells) or self.path.endswith(".ipynb")

    def key(self, generation: int) -> tuple[bytes, int, str]:
        return blake2b(self.data, digest_size=16).digest(), generation, self.path


@dataclass
class Result:
    key: tuple[bytes, int, str]
    findings: list[Finding]


def path_of(uri: str, root: str | None, notebook: bool = False) -> str:
    """The file system path of ``uri``; a document that is not a file (``untitled:``) is named
    in the workspace root, so the project's config still applies to it."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.normpath(unquote(parsed.path))
    name = os.path.basename(unquote(parsed.path or parsed.netloc or "untitled")) or "untitled"
    suffix = ".ipynb" if notebook else ".py"
    if not name.endswith(suffix):
        name += suffix
    return os.path.join(root or os.getcwd(), name)


def _freeze_imports() -> None:
    """Move every object alive now out of the cyclic collector's sight, once, after the first
    lint: by then libcst, the rules and the settings are imported, and a full collection no
    longer walks them all again during a later re-lint (measured: 25 ms -> 2 ms per full
    collection in the server). Frozen objects are still freed when nothing refers to them."""
    import gc

    gc.collect()  # the first lint's garbage is not frozen with the rest
    gc.freeze()


class Linter:
    def __init__(self, projects: Projects) -> None:
        from losscheck.lint import incremental_parse

        self.projects = projects
        self._last: dict[str, Result] = {}
        self._frozen = False  # see _freeze_imports
        # an edit re-parses only the top-level statements it touched (incremental_parse.py)
        incremental_parse.remember_documents()

    def lint(self, snapshot: Snapshot) -> list[Finding]:
        """The findings of the snapshot (cell-relative for a notebook), suppressions applied."""
        project = self.projects.for_path(snapshot.path)
        key = snapshot.key(project.generation)
        last = self._last.get(snapshot.uri)
        if last is not None and last.key == key:
            return last.findings
        stdin = StdinFile(snapshot.path, snapshot.data)
        findings = runner.run([], project.plan, use_cache=False, stdin=stdin).findings
        self._last[snapshot.uri] = Result(key, findings)
        if not self._frozen:
            _freeze_imports()
            self._frozen = True
        return findings

    def last(self, uri: str) -> list[Finding] | None:
        result = self._last.get(uri)
        return result.findings if result is not None else None

    def fix_all(self, snapshot: Snapshot) -> bytes | None:
        """The document with every safe fix applied, re-linted between passes as ``--fix``
        does (``fixer.fix_data``); None when nothing changes or the fixes would break it."""
        from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
        from losscheck.lint.fix import selected_fixes
        from losscheck.lint.fixer import NotWritten, fix_data

        findings = self.lint(snapshot)
        if not selected_fixes(findings, False) or any(f.code in DIAGNOSTIC_CODES for f in findings):
            return None
        plan = self.projects.for_path(snapshot.path).plan
        try:
            return fix_data(snapshot.path, snapshot.data, findings, plan, unsafe=False).data
        except NotWritten:
            return None

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def forget_all(self) -> None:
        """Forget every document's last result: a file they may depend on changed on disk."""
        self._last.clear()
