"""Lint one file: decode -> parse -> facts -> rules -> suppressions -> findings.

Pipeline position: discover -> prefilter -> **engine** -> cache -> reporters.

Nothing here stops a run: bad syntax becomes LCK999, undecodable bytes LCK998, a crashing
rule LCK997 naming the rule (its other findings for the file are dropped, other rules run), a
statement too large or too deeply nested to parse safely LCK996 (``guard.py`` decides that from
the text, before libcst sees it). libcst is imported on first parse only, so files the pre-filter
rejects never pay for it.

The per-file work runs on a thread with a large stack and a high recursion limit: libcst's parser
and code generator, and some of the walks over its trees, recurse once per nesting level, and the
statements the guard lets through (a 20,000-term sum rebuilt from a flat parse) are that deep.
"""

from __future__ import annotations

import ast
import functools
import gc
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from losscheck.lint import chunks, diagnostics, flat_parse, focus, guard, suppress
from losscheck.lint.decoding import decode
from losscheck.lint.finding import Finding

if TYPE_CHECKING:
    import libcst as cst

    from losscheck.lint.context import FileContext
    from losscheck.lint.rule import Rule


def run_rules(ctx: FileContext, rules: Sequence[type[Rule]]) -> list[Finding]:
    """Run each rule; a rule that raises becomes one LCK997 finding and loses its other findings."""
    seen: set[Finding] = set()  # findings are hashable: dedupe in linear time
    for rule_cls in rules:
        if getattr(rule_cls, "after_suppressions", False):
            continue  # runs once the suppressions are known (LCK901)
        before = len(ctx.findings)
        try:
            produced = rule_cls().check(ctx)
            if produced is not None:
                reported = set(ctx.findings[before:])
                for finding in produced:
                    if finding not in reported:
                        reported.add(finding)
                        ctx.findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - a rule bug must not stop the run
            del ctx.findings[before:]
            ctx.findings.append(_crashed(ctx.path, rule_cls, exc))
    unique: list[Finding] = []
    for finding in ctx.findings:
        if finding not in seen:
            seen.add(finding)
            unique.append(finding)
    return unique


def _crashed(path: str, rule_cls: type[Rule], exc: BaseException) -> Finding:
    return diagnostics.make(
        diagnostics.INTERNAL_ERROR, path, f"rule {rule_cls.code} ({rule_cls.name}) crashed: {_describe(exc)}"
    )


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message``, never failing: the message of an exception raised on a
    very deep tree may itself recurse (a node's repr) or be huge."""
    try:
        text = str(exc).splitlines()[0] if str(exc) else ""
    except Exception:  # noqa: BLE001
        text = ""
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _syntax_error(path: str, exc: Exception, source: str | None = None) -> Finding:
    if source is not None:
        # CPython's own parser pinpoints the error better than libcst's; ask it first
        # (only bad files pay for this second parse).
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as py_exc:
            line = py_exc.lineno or 1
            column = py_exc.offset or 1
            return diagnostics.make(diagnostics.SYNTAX_ERROR, path, f"syntax error: {py_exc.msg}", line, column)
        except (ValueError, RecursionError, MemoryError, OverflowError):
            pass
        else:  # valid Python that libcst refuses (indentation mixing tabs and spaces, mostly)
            message = getattr(exc, "message", None) or str(exc).splitlines()[0]
            return diagnostics.make(
                diagnostics.SYNTAX_ERROR, path,
                f"not checked: Python accepts this file but libcst cannot parse it ({message}); indentation "
                "that mixes tabs and spaces is the usual cause (`expand -t 8` or an editor fixes it)",
            )
    line = int(getattr(exc, "raw_line", 1) or 1)
    column = int(getattr(exc, "raw_column", 0) or 0) + 1
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    return diagnostics.make(diagnostics.SYNTAX_ERROR, path, f"syntax error: {message}", line, column)


def _refused(path: str, source: str, refusal: guard.Refusal) -> Finding:
    """The guard's refusal as a diagnostic at its place: CPython's own limits are syntax errors."""
    line, column = guard.line_column(guard.line_starts(source), refusal.offset)
    if refusal.syntax:
        return diagnostics.make(diagnostics.SYNTAX_ERROR, path, f"syntax error: {refusal.message}", line, column + 1)
    message = f"not checked: {refusal.message}, too complex to parse safely"
    return diagnostics.make(diagnostics.TOO_COMPLEX, path, message, line, column + 1)


def _parse(text: str, path: str, flat: list[tuple[int, str]], unflattened: guard.Refusal | None,
           whole: str) -> cst.Module | Finding:
    """``text`` parsed (long operator chains in ``flat`` parsed flat, see guard.py), or the
    diagnostic that replaces the tree. ``whole`` is the file (``text`` may be a piece of it)."""
    import libcst as cst

    from losscheck.lint import incremental_parse
    from losscheck.lint.parsing import parse_module

    try:
        if flat:
            try:
                return flat_parse.parse(text, flat)
            except (cst.ParserSyntaxError, ValueError):
                if unflattened is not None:  # as written the file is too deep to parse safely
                    error = _python_syntax_error(path, text)
                    return error if error is not None else _refused(path, whole, unflattened)
        trees = incremental_parse.documents()
        if trees is not None and text is whole:  # the language server: reuse the unchanged statements
            return trees.parse(path, text)
        return parse_module(text)
    except cst.ParserSyntaxError as exc:
        return _syntax_error(path, exc, text)
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        return _syntax_error(path, exc)


def _python_syntax_error(path: str, source: str) -> Finding | None:
    try:
        compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        message = f"syntax error: {exc.msg}"
        return diagnostics.make(diagnostics.SYNTAX_ERROR, path, message, exc.lineno or 1, exc.offset or 1)
    except (ValueError, RecursionError, MemoryError, OverflowError):
        pass
    return None


def lint_source(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Lint ``source``; returns findings sorted by position, suppressions applied.

    ``options`` reaches rules as ``ctx.options``; the engine itself reads ``known_rules``
    (every rule that exists, for LCK901's "not enabled" vs "unknown" distinction).
    """
    options = dict(options or {})
    directives = suppress.parse_directives(source)
    file_ignores = suppress.file_level(directives)
    if any(d.entries is None for d in file_ignores):
        return []  # `# losscheck: ignore-file`: the file is not checked at all
    if file_ignores:  # `ignore-file[...]`: those rules do not run here
        dropped = {e.upper() for d in file_ignores for e in d.entries or ()} | {
            e.lower() for d in file_ignores for e in d.entries or ()
        }
        rules = [r for r in rules if r.code not in dropped and r.name not in dropped]
    scan = guard.scan(source)
    if scan.refusal is not None:
        return [_refused(path, source, scan.refusal)]
    return run_deep(_lint_scanned, source, path, rules, options, directives, scan)


_STOPPING = frozenset({diagnostics.SYNTAX_ERROR.code, diagnostics.TOO_COMPLEX.code})


def _lint_scanned(
    source: str,
    path: str,
    rules: Sequence[type[Rule]],
    options: dict[str, Any],
    directives: list[suppress.Directive],
    scan: guard.Scan,
) -> list[Finding]:
    import libcst as cst  # lazily: 0.25 s of import that pre-filtered files never pay

    from losscheck.lint import incremental_parse
    from losscheck.lint.context import FileContext

    pieces = None
    if len(source) > chunks.CHUNK_THRESHOLD:
        pieces = chunks.chunks(source, scan=scan)
    if pieces is not None:
        # a very large file: one piece at a time, so only one piece's tree is alive (chunks.py)
        findings = _lint_chunks(source, path, pieces, rules, options, scan)
        if any(f.code in _STOPPING for f in findings):
            return findings
        # what LCK901 needs below: the whole file's text, no tree
        ctx = FileContext(path=path, source=source, module=cst.Module(body=[]), options=options)
    else:
        focused = _focused(source, scan, rules, options)
        if focused is not None:
            findings, ctx = _lint_whole(focused.source, focused.scan, path, rules, options)
            # a fix is computed on the whole file (it may add or drop imports), and so are a
            # parse failure and the findings that weigh every name of the module
            whole = {r.code for r in rules if getattr(r, "reads_every_name", False)}
            if ctx is None or any(f.fix is not None or f.code in whole for f in findings):
                focused = None
                if ctx is not None and incremental_parse.documents() is None:
                    ctx.release()
        if focused is None:
            findings, ctx = _lint_whole(source, scan, path, rules, options)
        if ctx is None:
            return findings  # the parse failure alone
    findings = suppress.apply(findings, directives)
    for rule_cls in rules:
        if getattr(rule_cls, "after_suppressions", False):
            try:
                findings.extend(rule_cls.check_suppressions(ctx, directives, rules))
            except Exception as exc:  # noqa: BLE001
                findings.append(_crashed(path, rule_cls, exc))
    if incremental_parse.documents() is None:
        ctx.release()  # the tree and facts go now, not when the cycle collector runs
    return sorted(findings, key=Finding.sort_key)


def _lint_whole(source: str, scan: guard.Scan, path: str, rules: Sequence[type[Rule]],
                options: dict[str, Any]) -> tuple[list[Finding], FileContext | None]:
    """Parse ``source`` whole and run the rules on it: the findings (a parse failure alone) and
    the context LCK901 reads, None with a parse failure."""
    from losscheck.lint import astutil, incremental_parse
    from losscheck.lint.context import FileContext

    parsed = _parse(source, path, scan.flat, scan.unflattened, source)
    if isinstance(parsed, Finding):
        return [parsed], None
    # the scan's logical lines locate nodes (positions.py)
    ctx = FileContext(path=path, source=source, module=parsed, options=options, scan=scan)
    try:
        return run_rules(ctx, rules), ctx
    finally:
        # the per-file memos hold the tree: let it go with the file, unless the language
        # server lints the next version of it (astutil.forget)
        astutil.forget(keep=incremental_parse.documents() is not None)


def _focused(source: str, scan: guard.Scan, rules: Sequence[type[Rule]], options: Mapping[str, Any]) -> focus.Focused | None:
    """The file with what no rule can reach blanked (``focus.py``), or None to parse it as it is
    (the language server reuses the statements of the last version it parsed)."""
    from losscheck.lint import incremental_parse

    if options.get("whole_file") or incremental_parse.documents() is not None:
        return None
    return focus.focus(source, scan, _part_test(tuple(rules)))


@functools.lru_cache(maxsize=8)
def _part_test(rules: tuple[type[Rule], ...]) -> focus.PartTest:
    from losscheck.lint.prefilter import Prefilter

    return Prefilter(rules).part_test


def _lint_chunks(
    source: str,
    path: str,
    pieces: Iterable[chunks.Chunk],
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any],
    scan: guard.Scan,
) -> list[Finding]:
    from losscheck.lint import astutil
    from losscheck.lint.context import FileContext

    from losscheck.lint.parallel import after_file
    from losscheck.lint.piece_pool import lint_pieces

    options = {**options, "compile_uses": chunks.compile_uses(source)}
    calls = chunks.CallSites(source)
    todo = list(pieces)

    def lint_piece(index: int) -> tuple[list[Finding], bool]:
        """The piece's findings, placed in the file; True with a parse failure, which stands alone."""
        piece = todo[index]
        header = len(piece.text) - (piece.end - piece.start)
        flat = [(header + at - piece.start, op) for at, op in scan.flat if piece.start <= at < piece.end]
        parsed = _parse(piece.text, path, flat, scan.unflattened, source)
        if isinstance(parsed, Finding):  # reported where it is in the file, alone
            if parsed.code == diagnostics.TOO_COMPLEX.code:
                return [parsed], True  # placed in the whole file already
            return [chunks.place(parsed, piece, anywhere=True)], True
        ctx = FileContext(path=path, source=piece.text, module=parsed,
                          options={**options, "called_elsewhere": calls.outside(piece.start, piece.end)})
        found: list[Finding] = []
        try:
            for finding in run_rules(ctx, rules):
                if chunks.defined_in_another_piece(finding, piece, source):
                    continue
                # a diagnostic (a crashed rule: line 1) is kept, at the piece's first line
                placed = chunks.place(finding, piece, anywhere=finding.code in diagnostics.DIAGNOSTIC_CODES)
                if placed is not None:
                    found.append(placed)
        finally:
            ctx.release()
            del ctx, parsed  # before the next piece is parsed: one tree alive at a time
            astutil.forget()
            after_file()
        return found, False

    # `piece_workers`: the cores the runner leaves to this file (1 inside a pool of files)
    found: list[Finding] = []
    for findings, alone in lint_pieces(len(todo), lint_piece, int(options.get("piece_workers", 1))):
        if alone:
            return findings
        found.extend(findings)
    return found


# -- deep trees --------------------------------------------------------------------------------

_DEEP_STACK_BYTES = 512 * 1024 * 1024  # address space only: pages are touched as the stack grows
_DEEP_RECURSION_LIMIT = 200_000
_deep_lock = threading.Lock()
_deep_state: dict[str, Any] = {"users": 0, "saved": 0, "thresholds": (0, 0, 0)}
_T = TypeVar("_T")


def run_deep(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` on a thread with a large stack and a high recursion limit (see the
    module docs): the process's shared deep thread when it is idle, else a new one; in this
    thread with the usual limits when no such thread can be started."""
    if threading.current_thread() is _shared.thread:
        return function(*args)  # already deep: a nested call
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
            outcome["error"] = exc

    if not _run_on_shared_thread(target):
        with _deep_lock:
            thread = _start_deep_thread(target)
            if thread is not None:
                _begin_deep_lint()
        if thread is None:
            return function(*args)
        try:
            thread.join()
        finally:
            with _deep_lock:
                _end_deep_lint()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _start_deep_thread(target: Callable[[], None]) -> threading.Thread | None:
    """A started daemon thread with the large stack, running ``target``; None when the platform
    refuses the stack size or the thread. Called with ``_deep_lock`` held (the stack size is
    process-wide state)."""
    previous = threading.stack_size()
    try:
        threading.stack_size(_DEEP_STACK_BYTES)
        thread = threading.Thread(target=target, name="losscheck-lint", daemon=True)
        thread.start()
    except (ValueError, RuntimeError, MemoryError):
        return None
    finally:
        threading.stack_size(previous)
    return thread


class _SharedDeepThread:
    """One long-lived deep thread per process, reused by every file it lints.

    A new thread per file pays again for its stack: the deep walks touch fresh pages each time
    (measured: ~15 ms of a 130 ms lint of a 300-line module in the language server, which lints
    the same document again on every edit). A caller that finds it busy (another thread of the
    process linting at the same time) starts a thread of its own, as before; a forked worker
    process starts its own shared thread (``pid``)."""

    def __init__(self) -> None:
        self.pid = -1
        self.thread: threading.Thread | None = None
        self.idle = threading.Lock()  # held by the caller whose job the thread runs
        self.jobs: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = queue.SimpleQueue()

    def serve(self) -> None:
        while True:
            job, done = self.jobs.get()
            try:
                job()
            finally:
                done.set()


_shared = _SharedDeepThread()


def _run_on_shared_thread(target: Callable[[], None]) -> bool:
    """Run ``target`` on the shared deep thread and wait; False (nothing run) when it is busy or
    cannot be started."""
    global _shared
    if _shared.pid != os.getpid():
        with _deep_lock:
            if _shared.pid != os.getpid():
                _shared = _SharedDeepThread()
                _shared.thread = _start_deep_thread(_shared.serve)
                _shared.pid = os.getpid()
    shared = _shared
    if shared.thread is None or not shared.idle.acquire(blocking=False):
        return False
    try:
        with _deep_lock:
            _begin_deep_lint()
        done = threading.Event()
        shared.jobs.put((target, done))
        done.wait()
    finally:
        with _deep_lock:
            _end_deep_lint()
        shared.idle.release()
    return True


def _begin_deep_lint() -> None:
    """Called with ``_deep_lock`` held; the limit is the interpreter's, shared by every deep thread.

    The cycle collector's automatic runs are off as well while a file is linted: the parse
    makes hundreds of thousands of objects that live until the file is done, so each run walks
    a growing tree for nothing (a 0.3 MB module linted with ``lint_source``: 3.9 s of CPU with
    them, 3.1 s without). The file's tree goes by reference counting when it is done
    (``FileContext.release``), and the next automatic run after the lint collects the rest.
    The command line's runs also collect after each file (``parallel.after_file``)."""
    if _deep_state["users"] == 0:
        _deep_state["saved"] = sys.getrecursionlimit()
        sys.setrecursionlimit(max(_deep_state["saved"], _DEEP_RECURSION_LIMIT))
        _deep_state["thresholds"] = gc.get_threshold()
        gc.set_threshold(0, *_deep_state["thresholds"][1:])
    _deep_state["users"] += 1


def _end_deep_lint() -> None:
    _deep_state["users"] -= 1
    if _deep_state["users"] == 0:
        sys.setrecursionlimit(_deep_state["saved"])
        gc.set_threshold(*_deep_state["thresholds"])


def lint_bytes(
    data: bytes,
    path: str,
    *,
    rules: Sequence[type[Rule]],
    options: Mapping[str, Any] | None = None,
) -> list[Finding]:
    try:
        source = decode(data)
    except ValueError as exc:
        return [diagnostics.make(diagnostics.UNREADABLE_FILE, path, f"cannot decode the file: {exc}")]
    return lint_source(source, path, rules=rules, options=options)
