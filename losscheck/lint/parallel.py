"""The parse-and-check work on many files: one file (:func:`lint_job`), in this process or spread over
a forked process pool (:func:`lint_selected`), with the garbage collector tuned while parsing.

Files are independent; results come back in ``todo``'s order, so output never depends on
scheduling. Rule classes (and libcst) are imported only when some file has to be parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from losscheck.lint import diagnostics
from losscheck.lint.finding import Finding

# Below this much work, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 4
PARALLEL_MIN_BYTES = 64_000


@dataclass
class FileJob:
    """One file to lint: its bytes, how it is shown, the rules to run and its cache key."""

    index: int
    display: str
    relpath: str
    data: bytes
    codes: tuple[str, ...]  # the rules to run on the file (before the pre-filter: every enabled one)
    key: str | None
    enabled: tuple[str, ...] = ()  # every rule enabled for the file (for LCK901)



def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1



# -- the per-file work (runs in workers) -----------------------------------------------------

_RULE_CLASSES: dict[str, Any] = {}


def rule_classes(codes: Sequence[str]) -> list[Any]:
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
        return lint_bytes(job.data, job.display, rules=rule_classes(job.codes), options=options)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one file, one diagnostic
        return [diagnostics.make(diagnostics.INTERNAL_ERROR, job.display, f"{type(exc).__name__}: {exc}")]


Selection = tuple[int, tuple[str, ...]]  # (index in todo, the rules the pre-filter picked for it)


def selected(job: FileJob, codes: tuple[str, ...]) -> FileJob:
    """``job`` with only the rules the pre-filter picked; LCK901 still judges every enabled one."""
    return replace(job, codes=codes, enabled=job.codes)


def lint_selected(
    todo: Sequence[FileJob],
    selections: Iterable[Selection],
    options: dict[str, Any],
    jobs: int | None,
    on_done: Callable[[int], None] = lambda n: None,
    meanwhile: Callable[[], None] = lambda: None,
) -> dict[int, list[Finding]]:
    """The findings of each selected file (index -> findings), in a process pool when it pays.

    ``selections`` is the pre-filter at work (``runner.check_all``): it is drawn from here, and
    once what it has picked is worth a pool the pool starts on it, while this process draws the
    rest and hands each file it picks to the workers (the pre-filter's ~0.2 s on the Keras tree
    then overlaps the parsing instead of preceding it). ``on_done(n)``: n selected files are
    finished. ``meanwhile()`` runs once the selections are exhausted, while the pool works (or
    before linting, without a pool)."""
    picked: list[Selection] = []
    weight = 0
    stream = iter(selections)
    if jobs != 1 and _can_fork():
        for selection in stream:
            picked.append(selection)
            weight += len(todo[selection[0]].data)
            if _worth_a_pool(len(picked), weight, jobs):
                return _lint_in_pool(todo, picked, stream, options, jobs or default_jobs(), on_done, meanwhile)
    else:
        picked.extend(stream)
        weight = sum(len(todo[i].data) for i, _ in picked)
        workers = min(jobs or default_jobs(), len(picked))
        if workers > 1 and _worth_a_pool(len(picked), weight, jobs):
            return _lint_in_pool(todo, picked, iter(()), options, workers, on_done, meanwhile)
    meanwhile()
    # a file big enough to be linted in pieces may use the cores no other file does
    spare = 1 if jobs == 1 else (jobs or default_jobs())
    return _lint_here(todo, picked, {**options, "piece_workers": spare}, on_done)


def _worth_a_pool(files: int, weight: int, jobs: int | None) -> bool:
    """An explicit --jobs N is obeyed from two files on; by default small runs stay in this
    process: below this much work, starting worker processes costs more than it saves."""
    if jobs is not None:
        return jobs > 1 and files >= 2
    return default_jobs() > 1 and files >= PARALLEL_MIN_FILES and weight >= PARALLEL_MIN_BYTES


def _can_fork() -> bool:
    # what multiprocessing's "fork" context needs, without importing it (5 ms: a run that
    # lints one file never starts a pool)
    return hasattr(os, "fork")


def _lint_here(
    todo: Sequence[FileJob], picked: Sequence[Selection], options: dict[str, Any], on_done: Callable[[int], None]
) -> dict[int, list[Finding]]:
    out: dict[int, list[Finding]] = {}
    if not picked:
        return out  # nothing to parse: no libcst import
    _import_for_parsing(_codes_of(picked))
    with _gc_for_parsing(freeze=True):
        for n, (i, codes) in enumerate(picked, 1):
            out[i] = lint_job(selected(todo[i], codes), options)
            if n < len(picked):  # after the last file it would only walk what the imports made (~10 ms)
                after_file()
            on_done(n)
    return out


def _codes_of(picked: Sequence[Selection]) -> list[str]:
    return sorted({c for _, codes in picked for c in codes})


def _import_for_parsing(codes: Sequence[str]) -> None:
    """Import libcst and the rules ``codes`` name, before the collector's view is frozen (in a
    worker, or in this process before its files): else the first collection after a file walks
    every object of those imports."""
    rule_classes(codes)
    import libcst  # noqa: F401


# -- the pool ----------------------------------------------------------------------------------
#
# Why it is built this way (the Keras tree: 904 files, 62 of them parsed, on 2 cores):
# - Each worker imports libcst and the rule modules as it starts (``_init_worker``), on its own
#   core, while this process goes on pre-filtering, and ``gc.freeze()`` then moves those objects
#   out of the collector's sight. (Importing them here first, to be inherited, left the other
#   cores idle for the ~0.1 s it takes.)
# - The pool starts as soon as the pre-filter, which looks at the biggest files first, has
#   picked enough work; it goes on in this process while the workers parse, and each file it
#   picks is sent on at once (a 1,000-file tree: the 0.2 s it takes is no longer spent before
#   the first parse).
# - The jobs are not sent to the workers: forked workers inherit them (``_SHARED``), and a task
#   names job indices (and the rules picked) only. Nothing big is pickled, in either direction
#   but findings.
# - Biggest files first, in small batches pulled as workers free up (longest-processing-time
#   scheduling): a 100 kB file parsed last would leave the other worker idle for 0.5 s.
# - The collector runs far less often while parsing (below).

BATCH_BYTES = 48_000  # a task: one file at least this big, or small files up to this many bytes
BATCH_FILES = 24


@dataclass
class _Shared:
    """What every worker needs: inherited through fork, pickled once per worker otherwise."""

    jobs: Sequence[FileJob] | dict[int, FileJob]  # by index in todo (forked: all of todo)
    options: dict[str, Any]


_SHARED: _Shared | None = None


def _init_worker(shared: _Shared | None, codes: Sequence[str] = ()) -> None:
    global _SHARED
    if shared is not None:  # not forked: it came pickled
        _SHARED = shared
    import gc

    _import_for_parsing(codes)
    from losscheck.startup import save_memos

    save_memos()  # the worker's imports may be this installation's first: keep what they compiled
    gc.freeze()  # what the imports made lives as long as the worker: out of the collector's sight
    _raise_gc_threshold()


def _lint_batch(batch: list[Selection]) -> list[tuple[int, list[Finding]]]:
    shared = _SHARED
    assert shared is not None
    out = []
    for i, codes in batch:
        out.append((i, lint_job(selected(shared.jobs[i], codes), shared.options)))
        after_file()
    return out


def batches(sizes: Sequence[int]) -> list[list[int]]:
    """Indices of ``sizes``, biggest first, cut into tasks: a big file alone, small ones together
    (fewer round trips) up to ``BATCH_BYTES`` or ``BATCH_FILES``."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    return list(_cut((i, sizes[i]) for i in order))


_Item = TypeVar("_Item")


def _cut(sized: Iterable[tuple[_Item, int]]) -> Iterator[list[_Item]]:
    """Items with their sizes, in the order they come, cut into tasks as ``batches`` says; a
    task is given as soon as the item after it is known not to fit (items may still be coming:
    the pre-filter at work)."""
    current: list[_Item] = []
    weight = 0
    for item, size in sized:
        if current and (weight + size > BATCH_BYTES or len(current) >= BATCH_FILES):
            yield current
            current, weight = [], 0
        current.append(item)
        weight += size
    if current:
        yield current


def _lint_in_pool(
    todo: Sequence[FileJob],
    picked: list[Selection],
    more: Iterator[Selection],
    options: dict[str, Any],
    workers: int,
    on_done: Callable[[int], None],
    meanwhile: Callable[[], None],
) -> dict[int, list[Finding]]:
    """Lint ``picked`` in the pool, and what ``more`` picks while it works (``picked`` grows:
    it holds every selection once this returns)."""
    global _SHARED
    import multiprocessing  # imported here: single-file runs never pay for the pool machinery
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    forked = _can_fork()
    context = multiprocessing.get_context("fork" if forked else None)
    # Each worker imports libcst and the rules itself, as it starts: the imports (~0.1 s) then
    # run on every core at once while this process goes on pre-filtering, where importing them
    # here first, to be inherited, kept the other cores idle for that long. A rule that only a
    # later file needs is imported by the worker that meets it.
    codes = _codes_of(picked)
    if forked:
        shared = _Shared(todo, options)
    else:
        shared = _Shared({i: todo[i] for i, _ in picked}, options)  # pickled: the picked files only
    out: dict[int, list[Finding]] = {}
    _SHARED = shared
    try:
        with _gc_for_parsing(freeze=forked), ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(None if forked else shared, codes),
        ) as pool:
            sizes = [len(todo[i].data) for i, _ in picked]
            pending = {pool.submit(_lint_batch, [picked[k] for k in batch]) for batch in batches(sizes)}

            def drawn() -> Iterator[tuple[Selection, int]]:
                for selection in more:
                    picked.append(selection)
                    yield selection, len(todo[selection[0]].data)

            # the pre-filter goes on here; what it picks is cut into tasks as it comes, biggest
            # first (it looks at the biggest files first)
            for batch in _cut(drawn()):
                pending.add(pool.submit(_lint_batch, batch))
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
    picked.extend(more)  # the pool broke while the pre-filter still ran: it finishes here
    missing = [selection for selection in picked if selection[0] not in out]
    if missing:
        done_before = len(out)
        out.update(_lint_here(todo, missing, options, lambda n: on_done(done_before + n)))
    return out


# -- the garbage collector while parsing --------------------------------------------------------
# Parsing makes hundreds of thousands of objects that live until the file is done, and very few
# reference cycles: with the default threshold (700) the collector runs ~1,600 times over the 59
# Keras files that get parsed. Time spent collecting on those files (two runs each, machine under
# load): 0.54-0.81 s with the defaults; with the imported modules frozen and a threshold of 5,000:
# 0.23-0.31 s, 20,000: 0.17-0.22 s, 50,000: 0.19-0.33 s, 100,000: 0.21-0.36 s.
# Most of what a file leaves for the collector is gone: the engine empties the file's facts when
# it is done (``FileContext.release``), so its tree and facts go by reference counting, not in
# cycles. So while files are linted the collector does not run on its own: after each file (each
# piece of a large one) the young generation, which then holds that file's few leftovers, is
# collected once (``after_file``). A 1 MB file: 5.2 s -> 4.2-4.5 s on 2 cores, 185 MB -> 140 MB
# at peak; the Keras tree: 2.1-2.2 s -> 1.8-2.0 s, 111 MB -> 101 MB.

GC_THRESHOLD = (0, 50, 100)  # 0: no automatic collection; see after_file()


def _raise_gc_threshold() -> None:
    import gc

    gc.set_threshold(*GC_THRESHOLD)


def after_file() -> None:
    """Collect what the file just linted left in reference cycles, when the collector is off
    for the run (``_gc_for_parsing``): the young generation only, which holds it."""
    import gc

    if gc.get_threshold()[0] == 0 and gc.isenabled():
        gc.collect(0)


@contextmanager
def _gc_for_parsing(*, freeze: bool) -> Iterator[None]:
    """No automatic collection in the block (``after_file`` collects after each file), also
    when the collector was off (the console entry turns it off for a command: ``cli.run``);
    ``freeze``: also move every object alive now (the imported modules) out of the collector's
    sight, as children forked in the block inherit it."""
    import gc

    before, enabled = gc.get_threshold(), gc.isenabled()
    if freeze:
        gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    gc.enable()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not enabled:
            gc.disable()
        if freeze:
            gc.unfreeze()
