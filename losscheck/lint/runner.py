"""Lint many files: discover -> read -> cache -> pre-filter -> engine (in parallel) -> sorted findings.

Files are independent, so the parse-and-check work goes to a process pool when there is
enough of it; results are put back in path order, so output never depends on scheduling.
Rule classes (and libcst) are imported only when some file actually has to be parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from losscheck.lint import config as cfg
from losscheck.lint import diagnostics, keras_target
from losscheck.lint.cache import ResultCache, cache_root, tool_key
from losscheck.lint.discover import discover, is_notebook
from losscheck.lint.finding import Finding
from losscheck.lint.prefilter import Prefilter
from losscheck.lint.rule_manifest import Manifest, RuleInfo, load_manifest

if TYPE_CHECKING:  # notebooks and stdin are imported when there is one
    from losscheck.lint.notebook import Notebook
    from losscheck.lint.stdin import StdinFile

# Below this much work, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 4
PARALLEL_MIN_BYTES = 64_000


@dataclass
class FileJob:
    index: int
    display: str
    relpath: str
    data: bytes
    codes: tuple[str, ...]  # the rules to run on the file (before the pre-filter: every enabled one)
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


# -- the run -----------------------------------------------------------------------------------


def run(
    paths: Sequence[str],
    the_plan: Plan,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    keep_sources: bool = False,
    progress: Callable[[int, int], None] | None = None,
    stdin: StdinFile | None = None,
) -> RunResult:
    """Lint ``paths``. ``progress(done, total)``, when given, is called as files are finished
    (often: it decides itself how often to draw). ``stdin``: lint that buffer instead, under
    its file name (``paths`` is not looked at; nothing is cached)."""
    settings = the_plan.settings
    if stdin is not None:
        from losscheck.lint.stdin import stdin_discovery

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
    rules_for: dict[tuple[str, ...], list[RuleInfo]] = {}  # the enabled rules, per set of codes
    total = len(found.files)
    tick = progress if progress is not None else _no_progress
    notebooks: dict[int, Notebook] = {}  # index -> the notebook, to put findings back in its cells
    for index, path in enumerate(found.files):
        tick(index - len(todo), total)  # the files before this one that are finished
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
        notebook = is_notebook(path)
        if b"\0" in data and not notebook:  # Python refuses the whole file, comments included
            per_file[index] = [_nul_byte(data, display)]
            continue
        relpath = _relpath(path, settings.root)
        rules = cfg.per_file_rules(the_plan.enabled, relpath, settings.per_file_ignores)
        codes = tuple(r.code for r in rules)
        salt = keras_target.cache_salt(path, codes, the_plan.options, data) if cache.enabled else ""  # pins
        key = cache.key(relpath, codes, data, salt) if cache.enabled else None
        if key is not None:
            hit = cache.get(key, display)
            if hit is not None:
                per_file[index] = hit
                result.cached += 1
                continue
        if notebook:  # after the cache: a cached notebook is not read again (nor nbformat imported)
            from losscheck.lint.notebook import prepare

            prepared = prepare(data, display)
            if isinstance(prepared, Finding):
                per_file[index] = [prepared]
                continue
            data, notebooks[index] = prepared
        # The pre-filter and the engine run later, in the pool when there is enough work.
        rules_for.setdefault(codes, rules)
        todo.append(FileJob(index, display, relpath, data, codes, key))
    finished = total - len(todo)
    tick(finished, total)
    stored: set[int] = set()

    def store(i: int, parsed: bool, findings: list[Finding]) -> None:
        job = todo[i]
        if job.index in notebooks:
            findings = notebooks[job.index].to_cells(findings)
        per_file[job.index] = findings
        result.parsed += parsed
        # A file with a diagnostic is not cached: the next run reports it again, freshly.
        if job.key is not None and not any(f.code in diagnostics.DIAGNOSTIC_CODES for f in findings):
            cache.put(job.key, findings)
        stored.add(i)

    checked = check_all(
        todo,
        rules_for,
        the_plan.options,
        jobs,
        lambda n: tick(finished + n, total),
        on_skipped=lambda skipped: [store(i, False, findings) for i, findings in skipped],
    )
    for i, (parsed, findings) in enumerate(checked):
        if i not in stored:
            store(i, parsed, findings)
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


def _no_progress(done: int, total: int) -> None:
    pass


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_all(
    todo: list[FileJob],
    rules_for: dict[tuple[str, ...], list[RuleInfo]],
    options: dict[str, Any],
    jobs: int | None,
    on_done: Callable[[int], None] = lambda n: None,
    on_skipped: Callable[[list[tuple[int, list[Finding]]]], None] = lambda skipped: None,
) -> list[tuple[bool, list[Finding]]]:
    """(parsed?, findings) for every job, in ``todo``'s order; ``on_done(n)`` as files finish.
    ``on_skipped`` gets the (index, findings) of the files the pre-filter skipped while the
    workers parse the others: writing their ~900 cache entries on the Keras tree (~0.45 s)
    then overlaps the parsing instead of following it.

    The pre-filter runs here, in this process (~0.2 s for the 904 files of the Keras tree): it
    says exactly which files need parsing, so that a tree without loss code never starts a
    pool nor imports libcst, and the pool gets only files worth a worker. Only the rules whose
    triggers match run on a file; LCK901 still judges every enabled code (``enabled``): a rule
    filtered out here could not have reported on this file."""
    prefilters = {codes: Prefilter(rules) for codes, rules in rules_for.items()}
    out: dict[int, tuple[bool, list[Finding]]] = {}
    parse: list[FileJob] = []
    at: list[int] = []  # index in ``todo`` of each job in ``parse``
    for i, job in enumerate(todo):
        worth = prefilters[job.codes].select(job.data)
        if worth:
            parse.append(replace(job, codes=tuple(worth), enabled=job.codes))
            at.append(i)
        else:
            # Not parsed, so syntax errors go unreported here; bytes that no Python could
            # decode are cheap to spot and always reported.
            out[i] = (False, _decodable(job.data, job.display))
            on_done(len(out))
    skipped = len(out)
    meanwhile = lambda: on_skipped([(i, findings) for i, (_, findings) in out.items()])  # noqa: E731
    for i, findings in zip(at, lint_all(parse, options, jobs, lambda n: on_done(skipped + n), meanwhile)):
        out[i] = (True, findings)
    return [out[i] for i in range(len(todo))]


def lint_all(
    todo: list[FileJob],
    options: dict[str, Any],
    jobs: int | None,
    on_done: Callable[[int], None] = lambda n: None,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[list[Finding]]:
    """The findings of every job, in ``todo``'s order, in a process pool when it pays.
    ``meanwhile()`` runs once, while the pool works (or first, without a pool)."""
    if not todo:
        meanwhile()
        return []
    workers = min(jobs or default_jobs(), len(todo))
    total = sum(len(j.data) for j in todo)
    # An explicit --jobs N is obeyed; by default small runs stay in this process.
    small = jobs is None and (len(todo) < PARALLEL_MIN_FILES or total < PARALLEL_MIN_BYTES)
    if workers <= 1 or small:
        meanwhile()
        return _lint_here(todo, options, on_done)
    return _lint_in_pool(todo, options, workers, on_done, meanwhile)


def _lint_here(todo: list[FileJob], options: dict[str, Any], on_done: Callable[[int], None]) -> list[list[Finding]]:
    out = []
    with _gc_for_parsing(freeze=False):
        for n, job in enumerate(todo, 1):
            out.append(lint_job(job, options))
            on_done(n)
    return out


# -- the pool ----------------------------------------------------------------------------------
#
# Why it is built this way (the Keras tree: 904 files, 59 of them parsed, on 2 cores):
# - Workers are forked after libcst and the rule modules are imported (once, not once per
#   worker), and ``gc.freeze()`` moves those objects out of the collector's sight first: the
#   children neither re-import nor copy the pages that a collection would touch.
# - The jobs are not sent to the workers: forked workers inherit them (``_SHARED``), and a task
#   names job indices only. Nothing big is pickled, in either direction but findings.
# - Biggest files first, in small batches pulled as workers free up (longest-processing-time
#   scheduling): a 100 kB file parsed last would leave the other worker idle for 0.5 s.
# - The collector runs far less often while parsing (below).

BATCH_BYTES = 48_000  # a task: one file at least this big, or small files up to this many bytes
BATCH_FILES = 24


@dataclass
class _Shared:
    """What every worker needs: inherited through fork, pickled once per worker otherwise."""

    jobs: list[FileJob]
    options: dict[str, Any]


_SHARED: _Shared | None = None


def _init_worker(shared: _Shared | None) -> None:
    global _SHARED
    if shared is not None:  # not forked: it came pickled
        _SHARED = shared
    _raise_gc_threshold()


def _lint_batch(batch: list[int]) -> list[tuple[int, list[Finding]]]:
    shared = _SHARED
    assert shared is not None
    return [(i, lint_job(shared.jobs[i], shared.options)) for i in batch]


def batches(sizes: Sequence[int]) -> list[list[int]]:
    """Indices of ``sizes``, biggest first, cut into tasks: a big file alone, small ones together
    (fewer round trips) up to ``BATCH_BYTES`` or ``BATCH_FILES``."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    out: list[list[int]] = []
    current: list[int] = []
    weight = 0
    for i in order:
        if current and (weight + sizes[i] > BATCH_BYTES or len(current) >= BATCH_FILES):
            out.append(current)
            current, weight = [], 0
        current.append(i)
        weight += sizes[i]
    if current:
        out.append(current)
    return out


def _lint_in_pool(
    todo: list[FileJob],
    options: dict[str, Any],
    workers: int,
    on_done: Callable[[int], None],
    meanwhile: Callable[[], None],
) -> list[list[Finding]]:
    global _SHARED
    import multiprocessing  # imported here: single-file runs never pay for the pool machinery
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    try:
        context = multiprocessing.get_context("fork")
        forked = True
    except ValueError:  # pragma: no cover - platforms without fork
        context, forked = multiprocessing.get_context(), False
    shared = _Shared(todo, options)
    if forked:
        # import what parsing needs once, here, so that no worker imports it again
        _rule_classes(sorted({c for job in todo for c in job.codes}))
        import libcst  # noqa: F401
    out: dict[int, list[Finding]] = {}
    _SHARED = shared
    try:
        with _gc_for_parsing(freeze=forked), ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(None if forked else shared,),
        ) as pool:
            pending = {pool.submit(_lint_batch, batch) for batch in batches([len(j.data) for j in todo])}
            meanwhile()  # the workers are busy: this process has time to spare
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    out.update(future.result())
                on_done(len(out))
    except BrokenProcessPool:
        # A worker died (killed for memory, a crash in native code): finish in this process,
        # so the run still reports every file.
        pass
    finally:
        _SHARED = None
    missing = [i for i in range(len(todo)) if i not in out]
    if missing:
        rest = _lint_here([todo[i] for i in missing], options, lambda n: on_done(len(out) + n))
        out.update(zip(missing, rest))
    return [out[i] for i in range(len(todo))]


# -- the garbage collector while parsing --------------------------------------------------------
# Parsing makes hundreds of thousands of objects that live until the file is done, and very few
# reference cycles: with the default threshold (700) the collector runs ~1,600 times over the 59
# Keras files that get parsed. Time spent collecting on those files (two runs each, machine under
# load): 0.54-0.81 s with the defaults; with the imported modules frozen and a threshold of 5,000:
# 0.23-0.31 s, 20,000: 0.17-0.22 s, 50,000: 0.19-0.33 s, 100,000: 0.21-0.36 s.

GC_THRESHOLD = (20_000, 50, 100)


def _raise_gc_threshold() -> None:
    import gc

    gc.set_threshold(*GC_THRESHOLD)


@contextmanager
def _gc_for_parsing(*, freeze: bool) -> Iterator[None]:
    """Raise the collector's thresholds for the block; ``freeze``: also move every object alive
    now (the imported modules) out of its sight, as children forked in the block inherit it."""
    import gc

    before = gc.get_threshold()
    if freeze:
        gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()
