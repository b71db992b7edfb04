"""Lint many files: discover -> read -> cache -> pre-filter -> engine (in parallel) -> sorted findings.

Files are independent, so the parse-and-check work goes to a process pool when there is
enough of it (``parallel.py``); results are put back in path order, so output never depends on
scheduling. Rule classes (and libcst) are imported only when some file actually has to be parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from losscheck.lint import config as cfg
from losscheck.lint import diagnostics, keras_target, project
from losscheck.lint.cache import ResultCache, cache_root, tool_key
from losscheck.lint.discover import discover, is_notebook
from losscheck.lint.finding import Finding
from losscheck.lint.parallel import FileJob, Selection, lint_selected
from losscheck.lint.rule_manifest import Manifest, RuleInfo, load_manifest

if TYPE_CHECKING:  # notebooks and stdin are imported when there is one
    from losscheck.lint.notebook import Notebook
    from losscheck.lint.stdin import StdinFile


@dataclass
class RunResult:
    """What a lint run found and how many files it read, parsed and served from the cache."""

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
    relpaths = [_relpath(path, settings.root) for path in found.files]
    if cache.enabled and stdin is None:
        cache.use_pack(relpaths)  # one read for a warm tree
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
        relpath = relpaths[index]
        rules = cfg.per_file_rules(the_plan.enabled, relpath, settings.per_file_ignores)
        codes = tuple(r.code for r in rules)
        # what beyond the file's bytes its findings depend on: the pins, the rest of the project
        salt = (keras_target.cache_salt(path, codes, the_plan.options, data)
                + project.cache_salt(path, codes, the_plan.options, data)) if cache.enabled else ""
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
    cache.finish()
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
    from losscheck.lint.decoding import decode

    try:
        decode(data)  # a PEP 263 coding line may make it valid
    except ValueError as exc:
        return [diagnostics.make(diagnostics.UNREADABLE_FILE, display, f"cannot decode the file: {exc}")]
    return []


def _no_progress(done: int, total: int) -> None:
    pass



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

    The pre-filter runs in this process (~0.2 s for the 904 files of the Keras tree), biggest
    files first: it says exactly which files need parsing, so that a tree without loss code
    never starts a pool nor imports libcst, and the pool gets only files worth a worker. Once
    it has picked enough work for a pool, the pool starts and it goes on while the workers
    parse (``parallel.lint_selected``). Only the rules whose triggers match run on a file;
    LCK901 still judges every enabled code: a rule filtered out here could not have reported
    on this file."""
    prefilters = {}
    if rules_for:
        from losscheck.lint.prefilter import Prefilter  # here: a run served from the cache needs none

        prefilters = {codes: Prefilter(rules) for codes, rules in rules_for.items()}
    out: dict[int, tuple[bool, list[Finding]]] = {}
    parsed = [0]  # selected files finished so far

    def selections() -> Iterator[Selection]:
        for i in sorted(range(len(todo)), key=lambda i: -len(todo[i].data)):
            job = todo[i]
            worth = prefilters[job.codes].select(job.data)
            if worth:
                yield i, tuple(worth)
            else:
                # Not parsed, so syntax errors go unreported here; bytes that no Python could
                # decode are cheap to spot and always reported.
                out[i] = (False, _decodable(job.data, job.display))
                on_done(len(out) + parsed[0])

    def done(n: int) -> None:
        parsed[0] = n
        on_done(len(out) + n)

    meanwhile = lambda: on_skipped([(i, findings) for i, (_, findings) in out.items()])  # noqa: E731
    for i, findings in lint_selected(todo, selections(), options, jobs, done, meanwhile).items():
        out[i] = (True, findings)
    return [out[i] for i in range(len(todo))]
