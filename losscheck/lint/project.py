"""The project around a file: the tree under the nearest folder, from the file's folder upward,
that holds ``.git`` or a dependency file (the folders ``keras_pins.py`` reads). Without one there
is no project, and nothing around the file is read.

Two facts read the rest of a project, as text or with Python's ``ast`` (nothing is imported or
run): ``keras_project.py`` (which Keras the project is written for) and ``project_uses.py`` (how
other modules use a loss defined in this file). Both read the files this module lists: ``.py``
(and, for the Keras evidence, ``.ipynb``) outside hidden folders, virtual environments,
``node_modules``, ``build`` and ``dist``, bounded in files and bytes. Under ``--isolated`` neither
runs (the runner's ``keras_target`` options say whether project files may be read).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from losscheck.lint.notebook import Notebook

# Bounds: a project bigger than this is judged on what was read.
MAX_FILES = 5000
MAX_FILE_BYTES = 2 << 20
MAX_TOTAL_BYTES = 96 << 20
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages", "build", "dist"})
# The rules whose findings depend on how other modules use a loss (``project_uses.py``): the
# results cache keys a file on the project's signature only for them.
USES_READERS = frozenset({"LCK101", "LCK102", "LCK103", "LCK106", "LCK201"})


def project_root(folder: str, stop: str | None = None) -> str | None:
    """The nearest folder, from ``folder`` upward (ending at ``stop``), that holds ``.git`` or a
    dependency file; None when there is none."""
    from losscheck.lint.keras_pins import listing

    while True:
        files, is_repo_root = listing(folder)
        if files or is_repo_root:
            return folder
        parent = os.path.dirname(folder)
        if folder == stop or parent == folder:
            return None
        folder = parent


def root_for(path: str, options: Mapping[str, Any] | None) -> str | None:
    """The project root of ``path`` under the runner's ``keras_target`` options; None when there
    is none or project files may not be read (``--isolated``, or no runner)."""
    if not options or not options.get("pins", True):
        return None
    stop = options.get("stop")
    return project_root(os.path.dirname(os.path.abspath(path)), os.path.abspath(stop) if stop else None)


@lru_cache(maxsize=64)
def sources(root: str, suffixes: tuple[str, ...] = (".py", ".ipynb")) -> tuple[str, ...]:
    """The project's source files, in a stable order, at most ``MAX_FILES``."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and d not in SKIPPED_FOLDERS
            and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg"))  # a virtual environment
        )
        found += (os.path.join(folder, name) for name in sorted(names) if name.endswith(suffixes))
        if len(found) >= MAX_FILES:
            return tuple(found[:MAX_FILES])
    return tuple(found)


def read(path: str) -> bytes | None:
    """A regular file's bytes, None for anything else or bigger than ``MAX_FILE_BYTES`` (a named
    pipe called ``x.py`` opens without blocking and is refused; see ``startup.read_regular_file``)."""
    from losscheck.startup import read_regular_file

    return read_regular_file(path, MAX_FILE_BYTES)


# An import statement: `from M import names` (names in parentheses may span lines) or `import M`.
_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)|import[ \t]+([^\n]*))", re.M)
_WORD = re.compile(rb"\w+")
_IMPORT_WORD = re.compile(rb"import")


def _import_statements(data: bytes) -> Iterator[re.Match[bytes]]:
    """``_IMPORT``'s matches in ``data``, tried only at the lines that hold ``import`` (the
    literal is found at C speed; the pattern, which starts at any line, tried every line)."""
    after = -1  # the end of the last match: a line inside it is not tried again
    for word in _IMPORT_WORD.finditer(data):
        start = data.rfind(b"\n", 0, word.start()) + 1
        if start < after:
            continue
        match = _IMPORT.match(data, start)
        if match is not None:
            after = match.end()
            yield match


def notebook(path: str, data: bytes) -> Notebook | None:
    """A notebook's code cells, joined into one module as the linter joins them (IPython syntax
    masked), or None when it is no notebook we can read."""
    from losscheck.lint.notebook import prepare

    prepared = prepare(data, path)
    return prepared[1] if isinstance(prepared, tuple) else None


@lru_cache(maxsize=16)
def importers(root: str) -> dict[str, tuple[str, ...]]:
    """Every word of the project's import statements (module path parts and imported names) ->
    the ``.py`` files and notebooks whose imports hold it: which files may import a module
    ``losses`` (one read of the project per run, shared by every module that asks)."""
    index: dict[str, list[str]] = {}
    for path in sources(root, (".py", ".ipynb")):
        data = read(path)
        if data is None or b"import" not in data:
            continue
        if path.endswith(".ipynb"):
            cells = notebook(path, data)
            if cells is None:
                continue
            data = cells.source.encode("utf-8")
        words: set[bytes] = set()
        for match in _import_statements(data):
            for group in match.groups():
                if group:
                    words.update(_WORD.findall(group))
        for word in words:
            index.setdefault(word.decode("ascii", "replace"), []).append(path)
    return {word: tuple(paths) for word, paths in index.items()}


@lru_cache(maxsize=64)
def signature(root: str) -> str:
    """A hash of the project's ``.py`` files' and notebooks' names, sizes and modification times:
    what a cached result that depends on other files is keyed on (a stat per file, no read)."""
    from losscheck.hashing import blake2b

    digest = blake2b(digest_size=16)
    for path in sources(root, (".py", ".ipynb")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        digest.update(b"%s\0%d\0%d\0" % (os.fsencode(os.path.relpath(path, root)), st.st_size, st.st_mtime_ns))
    return digest.hexdigest()


def cache_salt(path: str, codes: Iterable[str], options: Mapping[str, Any] | None, data: bytes) -> str:
    """What, beyond the file's bytes, its findings may depend on in the rest of the project: the
    project's :func:`signature`, for a file with loss code when a rule reading other modules'
    uses runs (which loss code does is only known after linting; a file without any is never
    affected)."""
    if USES_READERS.isdisjoint(codes):
        return ""
    root = root_for(path, (options or {}).get("keras_target"))
    if root is None:
        return ""
    from losscheck.lint.prefilter_checks import loss_code

    return "project=" + signature(root) if loss_code(data) else ""


def forget_reads() -> None:
    """Forget everything read from the files around the linted ones (pins, the project's Keras
    evidence, other modules' uses, imported modules): once per run, and in the language server
    whenever a file is saved, so that a long-lived process sees edited files."""
    import sys

    for name in ("losscheck.lint.keras_pins", "losscheck.lint.keras_project", "losscheck.lint.project_uses",
                 "losscheck.lint.project_modules"):
        module = sys.modules.get(name)
        if module is not None:
            module.clear()
    clear()


def clear() -> None:
    """Forget what was read: once per run, so that a long-lived process sees edited files."""
    sources.cache_clear()
    importers.cache_clear()
    signature.cache_clear()
