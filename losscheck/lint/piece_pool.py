"""The pieces of one very large file (``chunks.py``), linted by forked workers at the same time.

A file over the chunking threshold is cut into pieces that are linted on their own; one at a
time, a 1 MB file keeps one core busy for about 13 s while the others idle. When the run has
cores to spare (``losscheck lint`` on one big file, or on a few files, without ``--jobs 1``) the
pieces go to a pool of forked workers instead, each parsing one piece at a time, so peak memory
is one piece's tree per worker.

Workers are forked: they inherit the source, the rules and whatever the engine computed for the
whole file, and nothing but each piece's findings is pickled. Where ``fork`` does not exist, or a
worker dies (killed for memory, a crash in native code), the remaining pieces are linted in
this process, so every piece is still reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_R = TypeVar("_R")

# What a forked worker runs: inherited through fork, never pickled.
_LINT_PIECE: Callable[[int], Any] | None = None


def _run(index: int) -> tuple[int, Any]:
    assert _LINT_PIECE is not None
    return index, _LINT_PIECE(index)


def _in_worker() -> None:
    from losscheck.lint.parallel import _raise_gc_threshold

    _raise_gc_threshold()


def lint_pieces(count: int, lint_piece: Callable[[int], _R], workers: int) -> list[_R]:
    """``[lint_piece(0), ..., lint_piece(count - 1)]``, computed by up to ``workers`` forked
    processes (in this process when ``workers`` is 1 or fork is not available)."""
    global _LINT_PIECE
    workers = min(workers, count)
    out: dict[int, _R] = {}
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - platforms without fork
            context = None
        if context is not None:
            _LINT_PIECE = lint_piece
            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_in_worker) as pool:
                    # pieces are of about the same size: no order is better than another
                    for index, result in pool.map(_run, range(count)):
                        out[index] = result
            except Exception:  # noqa: BLE001 - a dead worker (BrokenProcessPool) or a result that would not travel
                pass  # what is missing is linted below, in this process
            finally:
                _LINT_PIECE = None
    return [out[i] if i in out else lint_piece(i) for i in range(count)]
