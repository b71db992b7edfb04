"""Find the files to lint: explicit files as given, folders walked for the ``include`` globs
(``*.py``, ``*.pyi`` and ``*.ipynb`` by default).

Walking respects ``.gitignore`` files (the walked folders' own, nested ones, and those of the
folders above up to the repository root), ``exclude``/``extend-exclude`` globs, and never
follows folder symlinks (no loops). An explicitly named file is linted when ``include``
matches it or it starts with a Python ``#!`` line; any other (``data.csv``) is an error that
names it, never skipped in silence. The result is sorted, so output order never depends on
the file system.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_INCLUDE: tuple[str, ...] = ("*.py", "*.pyi", "*.ipynb")  # as config.DEFAULT_INCLUDE
NOTEBOOK_SUFFIX = ".ipynb"
_PYTHON_SHEBANG = re.compile(rb"#![^\n]*\bpython[0-9.]*\b")
_PATTERN_ERRORS = (ValueError, TypeError, re.error)  # what pathspec raises for a pattern git would skip


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern of a ``.gitignore``, compiled."""

    regex: re.Pattern[str]  # matches the path itself, relative to the .gitignore's folder ("dir/" for folders)
    ignore: bool  # False for a `!` pattern, which re-includes


def parse_gitignore(text: str) -> list[IgnoreRule]:
    """The patterns of one ``.gitignore`` file, translated by ``pathspec`` (as black does).

    pathspec answers "is this path, or a folder above it, ignored?"; the walk asks about one
    level at a time (a folder it will not enter is never looked into, as git does), so each
    pattern's expression is anchored at the end to match the entry itself. ``pathspec`` is
    imported only here: a tree without ``.gitignore`` files never pays for it."""
    lines = [_per_entry(line) for line in text.splitlines()]
    if not any(line.strip() and not line.startswith("#") for line in lines):
        return []
    try:
        return _compile(lines)
    except _PATTERN_ERRORS:
        # git skips a pattern it cannot read and keeps the others; so do we
        return [rule for line in lines for rule in _compile_or_skip(line)]


def _per_entry(line: str) -> str:
    """``x/**`` (and ``x/**/``) match what is below ``x``, not ``x`` itself; pathspec's expression
    for them also matches ``x/``, which only works for whole paths. ``x/**/*`` says the same of
    entries one at a time."""
    core = line.rstrip(" ")
    if core.endswith("/**") and not core.endswith("\\/**"):
        return core + "/*"
    if core.endswith("/**/") and not core.endswith("\\/**/"):
        return core + "*/"
    return line


def _compile(lines: list[str]) -> list[IgnoreRule]:
    import warnings

    from pathspec import GitIgnoreSpec

    with warnings.catch_warnings():
        # `[[:alpha:]]` makes `re` warn about nested sets: the user's .gitignore is not our code
        warnings.simplefilter("ignore", FutureWarning)
        return [
            IgnoreRule(re.compile(f"(?:{p.regex.pattern})\\Z", p.regex.flags), bool(p.include))
            for p in GitIgnoreSpec.from_lines(lines).patterns
            if p.include is not None and p.regex is not None
        ]


def _compile_or_skip(line: str) -> list[IgnoreRule]:
    try:
        return _compile([line])
    except _PATTERN_ERRORS:
        return []


@dataclass
class IgnoreFile:
    """The patterns of one ``.gitignore``, anchored at its folder."""

    base: str  # absolute folder the .gitignore lives in
    rules: list[IgnoreRule]

    def decide(self, abspath: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by '!', None: no opinion."""
        prefix = self.base.rstrip(os.sep) + os.sep
        if not abspath.startswith(prefix):  # string test: relpath() per entry is the walk's hot spot
            return None
        rel = abspath[len(prefix) :].replace(os.sep, "/")
        if is_dir:
            rel += "/"  # pathspec's mark of a folder: `name/` patterns match only these
        for rule in reversed(self.rules):  # the last matching pattern decides
            if rule.regex.search(rel):
                return rule.ignore
        return None


def _load_ignore(folder: str) -> IgnoreFile | None:
    path = os.path.join(folder, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            rules = parse_gitignore(fh.read())
    except OSError:
        return None
    return IgnoreFile(folder, rules) if rules else None


def _ancestor_ignores(folder: str) -> list[IgnoreFile]:
    """.gitignore files above ``folder`` up to its repository root (a folder holding .git)."""
    chain: list[str] = []
    here = Path(folder)
    for parent in here.parents:
        chain.append(str(parent))
        if os.path.exists(parent / ".git"):  # False, not an error, where it cannot be looked up
            break
    else:
        return []  # not in a repository: git would not read those files either
    found = [_load_ignore(p) for p in reversed(chain)]
    return [f for f in found if f is not None]


def _is_ignored(ignores: Sequence[IgnoreFile], abspath: str, is_dir: bool) -> bool:
    verdict = False
    for ig in ignores:  # outermost first: deeper files override
        decision = ig.decide(abspath, is_dir)
        if decision is not None:
            verdict = decision
    return verdict


class Excluder:
    """``exclude`` globs: a glob without ``/`` matches an entry's name, one with ``/`` its path
    relative to the project root (or its absolute path). All globs are compiled into one regex
    per kind: the walk asks this for every entry, so it must cost one match, not one per glob."""

    def __init__(self, patterns: list[str], root: str) -> None:
        self.patterns = patterns
        self.root = root
        names = [fnmatch.translate(p) for p in patterns if "/" not in p]
        paths = [fnmatch.translate(p.rstrip("/")) for p in patterns if "/" in p]
        self._names = re.compile("|".join(names)) if names else None
        self._paths = re.compile("|".join(paths)) if paths else None

    def excluded(self, abspath: str, name: str) -> bool:
        if self._names is not None and self._names.match(name):
            return True
        if self._paths is None:
            return False
        rel = os.path.relpath(abspath, self.root).replace(os.sep, "/")
        return bool(self._paths.match(rel) or self._paths.match(abspath.replace(os.sep, "/")))


@dataclass
class Discovery:
    """The files a run checks, and the named paths it could not (missing, unreadable)."""

    files: list[str] = field(default_factory=list)  # as the user would write them
    missing: list[str] = field(default_factory=list)
    # paths that exist but could not be checked, with the reason: an unreadable folder, a
    # symlink loop, something that is neither a file nor a folder
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def discover(
    paths: Iterable[str],
    *,
    exclude: Sequence[str] = (),
    root: str | None = None,
    respect_gitignore: bool = True,
    force_exclude: bool = False,
    include: Sequence[str] = DEFAULT_INCLUDE,
) -> Discovery:
    result = Discovery()
    excluder = Excluder(list(exclude), os.path.abspath(root or os.getcwd()))
    includer = Excluder(list(include), excluder.root)  # the same glob rules: name, or path from the root
    seen: set[str] = set()

    def add(display: str) -> None:
        key = os.path.normcase(os.path.abspath(display))
        if key not in seen:
            seen.add(key)
            result.files.append(display)

    for given in paths:
        kind = _kind(given, result)
        if kind == "file":
            # pre-commit and editors pass files one by one: with force-exclude they obey `exclude` too
            if force_exclude and _excluded_anywhere(excluder, given):
                continue
            if _lintable(includer, given):
                add(os.path.normpath(given))
            else:
                patterns = ", ".join(include)
                result.unreadable.append(
                    (given, f"not a Python file or notebook: `include` ({patterns}) does not match it (add a pattern to `extend-include` to lint it as Python)")
                )
        elif kind == "folder":
            top = os.path.abspath(given)
            ignores = _ancestor_ignores(top) if respect_gitignore else []
            walk = _Walk(excluder, respect_gitignore, result.unreadable, includer)
            for display in walk.folder(os.path.normpath(given), top, ignores):
                add(display)
    result.files.sort()
    return result


def _kind(given: str, result: Discovery) -> str | None:
    """"file" or "folder"; None after recording why ``given`` cannot be linted."""
    try:
        mode = os.stat(given).st_mode
    except (FileNotFoundError, NotADirectoryError):
        result.missing.append(given)
        return None
    except OSError as exc:  # a symlink loop, a folder above that cannot be searched
        result.unreadable.append((given, f"cannot read: {_reason(exc)}"))
        return None
    except ValueError:  # a NUL in the name
        result.missing.append(given)
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    # a pipe or a device could block the run or never end: not source files
    result.unreadable.append((given, "not a regular file or folder"))
    return None


def is_notebook(path: str) -> bool:
    """A Jupyter notebook, linted cell by cell (``notebook.py``); any other file is Python."""
    return path.lower().endswith(NOTEBOOK_SUFFIX)


def _lintable(includer: Excluder, path: str) -> bool:
    """A file named on the command line: one ``include`` matches, or a script with a Python ``#!``."""
    absolute = os.path.abspath(path)
    if includer.excluded(absolute, os.path.basename(absolute)):
        return True
    try:
        with open(path, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return True  # reading it fails again, and is reported, when it is linted
    return _PYTHON_SHEBANG.match(first) is not None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _excluded_anywhere(excluder: Excluder, path: str) -> bool:
    """Is the file, or any folder above it (up to the project root), excluded?"""
    current = os.path.abspath(path)
    while True:
        if excluder.excluded(current, os.path.basename(current)):
            return True
        parent = os.path.dirname(current)
        if parent == current or not (parent + os.sep).startswith(excluder.root + os.sep):
            return False
        current = parent


@dataclass
class _Walk:
    """One folder walk. What cannot be read is recorded in ``unreadable``, never skipped in
    silence: the run must not say that it checked files it never saw."""

    excluder: Excluder
    respect_gitignore: bool
    unreadable: list[tuple[str, str]]
    includer: Excluder

    def folder(self, display: str, folder: str, ignores: list[IgnoreFile]) -> Iterable[str]:
        if self.respect_gitignore:
            own = _load_ignore(folder)
            if own is not None:
                ignores = [*ignores, own]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.unreadable.append((display, f"cannot read the folder: {_reason(exc)}"))
            return
        for entry in entries:
            child = os.path.join(display, entry.name) if display != "." else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)  # folder symlinks are not followed: no loops
            except OSError as exc:
                self.unreadable.append((child, f"cannot read: {_reason(exc)}"))
                continue
            if not (is_dir or self.includer.excluded(entry.path, entry.name)):
                continue
            if self.excluder.excluded(entry.path, entry.name):
                continue
            if ignores and _is_ignored(ignores, entry.path, is_dir):
                continue
            if is_dir:
                yield from self.folder(child, entry.path, ignores)
            elif self._is_file(entry, child):
                yield child

    def _is_file(self, entry: os.DirEntry[str], child: str) -> bool:
        try:
            return entry.is_file()  # follows a symlink to a file
        except OSError as exc:  # a symlink loop named like a source file
            self.unreadable.append((child, f"cannot read: {_reason(exc)}"))
            return False
