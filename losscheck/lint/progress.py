"""A progress counter on stderr for long runs: ``losscheck: 412/904 files``, redrawn in place.

Shown only when stderr is a terminal (never in CI logs, pipes or editors), only once a run has
taken ``delay`` seconds (short runs print nothing), and redrawn at most every ``interval``
seconds, so a run of thousands of files writes a few dozen short lines at most. No dependency:
a carriage return and the counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

DELAY_S = 1.0
INTERVAL_S = 0.1


class Progress:
    """Call it with ``(done, total)`` as often as you like; ``close()`` wipes the line."""

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.interval = INTERVAL_S if interval is None else interval
        self.show_from = clock() + (DELAY_S if delay is None else delay)
        self.next_draw = self.show_from
        self.width = 0  # of the text on screen, to wipe it

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now < self.next_draw:
            return
        self.next_draw = now + self.interval
        self._draw(f"losscheck: {done}/{total} files")

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self.width - len(text))
        try:
            self.stream.write(f"\r{text}{pad}")
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal must not stop the run
            return
        self.width = len(text)

    def close(self) -> None:
        """Wipe the counter (if it was ever drawn), so what follows starts on a clean line."""
        if self.width:
            self._draw("")
            try:
                self.stream.write("\r")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.width = 0


def for_stderr(stream: TextIO, *, quiet: bool) -> Progress | None:
    """A counter for ``stream`` when it is a terminal and the run is not quiet; else None."""
    if quiet:
        return None
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return None
    return Progress(stream) if tty else None
