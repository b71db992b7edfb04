"""Find the files to lint: explicit files as given, folders walked for ``*.py``/``*.pyi``.

Walking respects ``.gitignore`` files (the walked folders' own, nested ones, and those of the
folders above up to the repository root), ``exclude``/``extend-exclude`` globs, and never
follows folder symlinks (no loops). Explicitly named files are always linted, as ruff does.
The result is sorted, so output order never depends on the file system.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class IgnoreRule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """A gitignore glob (already stripped of '!' and a trailing '/') as a regex on a relative path."""
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j + 1
        elif pattern[i] == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    return body if anchored else "(?:.*/)?" + body


def parse_gitignore(text: str) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        # trailing spaces are ignored unless escaped
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(line) > len(stripped):
            stripped += " "
        line = stripped
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate or line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        try:
            regex = re.compile(_translate(line) + r"\Z", re.DOTALL)
        except re.error:
            continue  # git ignores patterns it cannot read; so do we
        rules.append(IgnoreRule(regex, negate, dir_only))
    return rules


@dataclass
class IgnoreFile:
    base: str  # absolute folder the .gitignore lives in
    rules: list[IgnoreRule]

    def decide(self, abspath: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by '!', None: no opinion."""
        prefix = self.base.rstrip(os.sep) + os.sep
        if not abspath.startswith(prefix):  # string test: relpath() per entry is the walk's hot spot
            return None
        rel = abspath[len(prefix) :].replace(os.sep, "/")
        verdict: bool | None = None
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(rel):
                verdict = not rule.negate
        return verdict


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
        if (parent / ".git").exists():
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
    files: list[str] = field(default_factory=list)  # as the user would write them
    missing: list[str] = field(default_factory=list)


def discover(
    paths: Iterable[str],
    *,
    exclude: Sequence[str] = (),
    root: str | None = None,
    respect_gitignore: bool = True,
    force_exclude: bool = False,
) -> Discovery:
    result = Discovery()
    excluder = Excluder(list(exclude), os.path.abspath(root or os.getcwd()))
    seen: set[str] = set()

    def add(display: str) -> None:
        key = os.path.normcase(os.path.abspath(display))
        if key not in seen:
            seen.add(key)
            result.files.append(display)

    for given in paths:
        if os.path.isfile(given):
            # pre-commit and editors pass files one by one: with force-exclude they obey `exclude` too
            if not (force_exclude and _excluded_anywhere(excluder, given)):
                add(os.path.normpath(given))
        elif os.path.isdir(given):
            top = os.path.abspath(given)
            ignores = _ancestor_ignores(top) if respect_gitignore else []
            for display in _walk(os.path.normpath(given), top, ignores, excluder, respect_gitignore):
                add(display)
        else:
            result.missing.append(given)
    result.files.sort()
    return result


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


def _walk(
    display: str, folder: str, ignores: list[IgnoreFile], excluder: Excluder, respect_gitignore: bool
) -> Iterable[str]:
    if respect_gitignore:
        own = _load_ignore(folder)
        if own is not None:
            ignores = [*ignores, own]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if not (is_dir or (is_file and entry.name.endswith(SUFFIXES))):
            continue
        if excluder.excluded(entry.path, entry.name):
            continue
        if ignores and _is_ignored(ignores, entry.path, is_dir):
            continue
        child = os.path.join(display, entry.name) if display != "." else entry.name
        if is_dir:
            yield from _walk(child, entry.path, ignores, excluder, respect_gitignore)
        else:
            yield child
