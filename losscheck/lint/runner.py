"""Lint many files: discover -> read -> cache -> pre-filter -> engine (in parallel) -> sorted findings.

Files are independent, so the parse-and-check work goes to a process pool when there is
enough of it; results are put back in path order, so output never depends on scheduling.
Rule classes (and libcst) are imported only when some file actually has to be parsed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from losscheck.lint import config as cfg
from losscheck.lint import diagnostics, keras_target
from losscheck.lint.cache import (
    Manifest,
    ResultCache,
    RuleInfo,
    cache_root,
    load_manifest,
    tool_key,
)
from losscheck.lint import notebook
from losscheck.lint.discover import discover
from losscheck.lint.notebook import Notebook
from losscheck.lint.stdin import StdinFile, stdin_discovery
from losscheck.lint.finding import Finding
from losscheck.lint.prefilter import Prefilter

# Below this much work, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 4
PARALLEL_MIN_BYTES = 64_000


@dataclass
class FileJob:
    index: int
    display: str
    relpath: str
    data: bytes
    codes: tuple[str, ...]  # the rules to run on the file
    key: str | None
    enabled: tuple[str, ...] = ()  # every rule enabled for the file (for LCK901)


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    parsed: int = 0
    cached: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not checked
    sources: dict[str, bytes] = field(default_factory=dict)  # display path -> bytes (for snippets/fixes)

    @property
    def has_errors(self) -> bool:
        return bool(self.missing or self.unreadable) or any(f.code in diagnostics.DIAGNOSTIC_CODES for f in self.findings)


@dataclass
class Plan:
    """What the run needs to know about rules; built once, shipped to workers."""

    settings: cfg.Settings
    manifest: Manifest
    enabled: list[RuleInfo]
    options: dict[str, Any]


def plan(settings: cfg.Settings, *, use_cache: bool = True) -> Plan:
    root = cache_root(settings.root, settings.cache_dir) if use_cache else None
    manifest = load_manifest(root)
    rules = manifest.rules
    cfg.validate_selectors(cfg.all_selectors(settings), rules, diagnostics.DIAGNOSTIC_CODES)
    enabled = cfg.resolve(rules, settings.layers)  # type: ignore[arg-type]
    options: dict[str, Any] = {
        "known_rules": [(r.code, r.name) for r in rules],
        "layout_path": settings.layout,
        "outputs": dict(settings.outputs),
        "keras_target": keras_target.options_for(settings),  # which Keras each file is written for
    }
    if settings.layout:
        options["layout"] = _load_layout(settings.layout)
    return Plan(settings, manifest, list(enabled), options)  # type: ignore[arg-type]


def _load_layout(path: str) -> Any:
    """Validate the layout once, up front: a bad layout is a usage error (exit 2) naming the file
    and JSON path, not an internal error in every file. The loaded layout goes to the shape
    engine in ``options["layout"]`` (workers get it pickled), so no file loads it again."""
    import pickle

    from losscheck.layout.load import load
    from losscheck.layout.validate import validate

    layout = validate(load(path))  # raises UserError/LayoutError with the file and place
    try:
        pickle.dumps(layout)
    except Exception:  # noqa: BLE001 - not picklable: workers load it from layout_path
        return None
    return layout


def _relpath(path: str, root: str) -> str:
    """Posix path relative to the project root; absolute when outside it."""
    absolute = os.path.abspath(path)
    if absolute.startswith(root.rstrip(os.sep) + os.sep):
        return absolute[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    return absolute.replace(os.sep, "/")


def display_path(path: str) -> str:
    """Relative to the working directory when inside it (as ruff prints), else as given."""
    if not os.path.isabs(path):
        return path  # as given, relative to the working directory (discover normalised it)
    cwd = _cwd_prefix()
    return path[len(cwd) :] if path.startswith(cwd) else path


_CWD: list[str] = []


def _cwd_prefix() -> str:
    if not _CWD:
        _CWD.append(os.getcwd().rstrip(os.sep) + os.sep)
    return _CWD[0]


# -- the per-file work (runs in workers) -----------------------------------------------------

_RULE_CLASSES: dict[str, Any] = {}


def _rule_classes(codes: Sequence[str]) -> list[Any]:
    """The rule classes for ``codes``. Plugins are imported only when a plugin rule is needed:
    a file that triggers only built-in rules never pays for reading entry points (~30 ms) and
    importing rule packs."""
    if any(c not in _RULE_CLASSES for c in codes):
        from losscheck.lint.registry import load_registry

        _RULE_CLASSES.update(load_registry(plugins=False).by_code())
        if any(c not in _RULE_CLASSES for c in codes):
            _RULE_CLASSES.update(load_registry().by_code())
    return [_RULE_CLASSES[c] for c in codes if c in _RULE_CLASSES]


def lint_job(job: FileJob, options: dict[str, Any]) -> list[Finding]:
    from losscheck.lint.engine import lint_bytes

    try:
        options = {**options, "enabled_codes": job.enabled or job.codes}
        return lint_bytes(job.data, job.display, rules=_rule_classes(job.codes), options=options)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one file, one diagnostic
        return [diagnostics.make(diagnostics.INTERNAL_ERROR, job.display, f"{type(exc).__name__}: {exc}")]


def _worker(args: tuple[FileJob, dict[str, Any]]) -> tuple[int, list[Finding]]:
    job, options = args
    return job.index, lint_job(job, options)


# -- the run -----------------------------------------------------------------------------------


def run(
    paths: Sequence[str],
    the_plan: Plan,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    keep_sources: bool = False,
    stdin: StdinFile | None = None,
) -> RunResult:
    """Lint ``paths``. ``stdin``: lint that buffer instead, under its file name (``paths`` is
    not looked at; nothing is cached)."""
    settings = the_plan.settings
    if stdin is not None:
        found, use_cache = stdin_discovery(stdin, settings), False
    else:
        found = discover(
            paths,
            exclude=[*settings.exclude, *settings.extend_exclude],
            root=settings.root,
            respect_gitignore=settings.respect_gitignore,
            force_exclude=settings.force_exclude,
            include=[*settings.include, *settings.extend_include],
        )
    result = RunResult(missing=found.missing, unreadable=found.unreadable, files=len(found.files))
    tool = tool_key() if use_cache else ""
    cache = ResultCache.open(
        cache_root(settings.root, settings.cache_dir), tool, settings.fingerprint(), enabled=use_cache
    )
    per_file: dict[int, list[Finding]] = {}
    todo: list[FileJob] = []
    prefilters: dict[tuple[str, ...], Prefilter] = {}
    notebooks: dict[int, Notebook] = {}  # index -> the notebook, to put findings back in its cells
    for index, path in enumerate(found.files):
        display = display_path(path)
        try:
            data = stdin.data if stdin is not None else _read(path)
        except OSError as exc:
            per_file[index] = [
                diagnostics.make(diagnostics.UNREADABLE_FILE, display, f"cannot read the file: {exc.strerror or exc}")
            ]
            continue
        if keep_sources:
            result.sources[display] = data
        is_notebook = notebook.is_notebook(path)
        if b"\0" in data and not is_notebook:  # Python refuses the whole file, comments included
            per_file[index] = [_nul_byte(data, display)]
            continue
        relpath = _relpath(path, settings.root)
        rules = cfg.per_file_rules(the_plan.enabled, relpath, settings.per_file_ignores)
        codes = tuple(r.code for r in rules)
        salt = keras_target.cache_salt(path, codes, the_plan.options) if cache.enabled else ""  # pins
        key = cache.key(relpath, codes, data, salt) if cache.enabled else None
        if key is not None:
            hit = cache.get(key, display)
            if hit is not None:
                per_file[index] = hit
                result.cached += 1
                continue
        if is_notebook:  # after the cache: a cached notebook is not read again (nor nbformat imported)
            prepared = notebook.prepare(data, display)
            if isinstance(prepared, Finding):
                per_file[index] = [prepared]
                continue
            data, notebooks[index] = prepared
        pre = prefilters.get(codes)
        if pre is None:
            pre = prefilters[codes] = Prefilter(rules)
        # Only the rules whose triggers match run on the file (LCK901 still judges every
        # enabled code: a rule filtered out here could not have reported on this file).
        worth = pre.select(data)
        if not worth:
            # Not parsed, so syntax errors go unreported here; bytes that no Python could
            # decode are cheap to spot and always reported.
            per_file[index] = _decodable(data, display)
            if key is not None and not per_file[index]:
                cache.put(key, [])
            continue
        todo.append(FileJob(index, display, relpath, data, tuple(worth), key, codes))
    result.parsed = len(todo)
    for job, findings in zip(todo, _lint_all(todo, the_plan.options, jobs)):
        if job.index in notebooks:
            findings = notebooks[job.index].to_cells(findings)
        per_file[job.index] = findings
        # A file with a diagnostic is not cached: the next run reports it again, freshly.
        if job.key is not None and not any(f.code in diagnostics.DIAGNOSTIC_CODES for f in findings):
            cache.put(job.key, findings)
    for index in sorted(per_file):
        result.findings.extend(per_file[index])
    return result


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _nul_byte(data: bytes, display: str) -> Finding:
    at = data.index(b"\0")
    line_start = data.rfind(b"\n", 0, at) + 1
    column = len(data[line_start:at].decode("utf-8", errors="replace")) + 1
    line = data.count(b"\n", 0, at) + 1
    return diagnostics.make(
        diagnostics.SYNTAX_ERROR, display, "syntax error: source code cannot contain null bytes", line, column
    )


def _decodable(data: bytes, display: str) -> list[Finding]:
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    from losscheck.lint.engine import decode

    try:
        decode(data)  # a PEP 263 coding line may make it valid
    except ValueError as exc:
        return [diagnostics.make(diagnostics.UNREADABLE_FILE, display, f"cannot decode the file: {exc}")]
    return []


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _lint_all(todo: list[FileJob], options: dict[str, Any], jobs: int | None) -> list[list[Finding]]:
    workers = min(jobs or default_jobs(), len(todo))
    total = sum(len(j.data) for j in todo)
    # An explicit --jobs N is obeyed; by default small runs stay in this process.
    small = jobs is None and (len(todo) < PARALLEL_MIN_FILES or total < PARALLEL_MIN_BYTES)
    if workers <= 1 or small:
        return [lint_job(job, options) for job in todo]
    import multiprocessing  # imported here: single-file runs never pay for the pool machinery
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork: workers inherit the imported modules and the loaded registry (no re-import cost).
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        context = multiprocessing.get_context()
    _rule_classes(sorted({c for job in todo for c in job.codes}))  # import the rules once, before forking
    out: dict[int, list[Finding]] = {}
    # Biggest files first so that no worker is left with a big one at the end.
    ordered = sorted(todo, key=lambda j: -len(j.data))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for index, findings in pool.map(_worker, [(j, options) for j in ordered], chunksize=1):
                out[index] = findings
    except BrokenProcessPool:
        # A worker died (killed for memory, a crash in native code): finish in this process,
        # so the run still reports every file.
        pass
    return [out[j.index] if j.index in out else lint_job(j, options) for j in todo]
