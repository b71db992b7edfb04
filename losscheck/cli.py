"""The ``losscheck`` command line: one small dispatcher, each subcommand in its own module.

Subcommand modules are imported lazily so that ``losscheck lint`` never pays for the
compiler's imports and vice versa. Each module exposes ``register(subparsers)`` which
adds its parser and sets ``func`` (``func(args) -> int`` exit code).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from typing import Any, Sequence

from losscheck import __version__
from losscheck.errors import EXIT_ERROR, UserError
from losscheck.deferred_init import deferred_package_init
from losscheck.regex_memo import regex_program_memo
from losscheck.startup import dataclass_code_memo, startup_cache_dir

# subcommand -> module that registers it (kept as strings: nothing is imported until used)
SUBCOMMANDS: dict[str, str] = {
    "lint": "losscheck.lint.cli",
    "rules": "losscheck.lint.cli",
    "explain": "losscheck.lint.cli",
    "config": "losscheck.lint.cli",
    "gen": "losscheck.gen.cli",
    "schema": "losscheck.gen.cli",
    "migrate": "losscheck.migrate.cli",
    "server": "losscheck.server.cli",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="losscheck",
        description="Find silent mistakes in Keras loss functions, and generate correct ones from a layout.",
    )
    parser.add_argument("--version", action="version", version=f"losscheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [SUBCOMMANDS[only]] if only in SUBCOMMANDS else list(dict.fromkeys(SUBCOMMANDS.values()))
    for module_name in modules:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # most of libcst's import is dataclass compiles, and much of the rest of the imports is regex
    # compiles: both are kept between runs (startup.py, regex_memo.py); libcst's metadata
    # providers, which the linter does not use, are imported only if something reads them
    # (deferred_init.py)
    folder = startup_cache_dir()
    with dataclass_code_memo(folder), regex_program_memo(folder), deferred_package_init():
        return _guarded(argv)


def run() -> None:
    """The console script: ``main()``, then an exit that skips the interpreter's teardown.

    Freeing every module and object at exit took ~40 ms after linting one 300-line module
    (a sixth of the run): libcst's node classes, the rule modules, the memoised facts. Nothing
    is left to do by then (results are written and the pools are shut down inside ``main``),
    so, as mypy does, the process flushes its streams and ends at once. A normal exit is kept
    whenever something could still need one: a stream that fails to flush, a child process
    still alive, a thread that is not a daemon.

    The cycle collector is off for ``losscheck lint`` outside its parsing: what the command
    allocates there (its imports above all) lives to its end, so collections walk it for
    nothing; one of them, after a single file's lint, walked libcst's and the rules' objects
    for ~9 ms. The parsing runs the collection it needs itself (``parallel._gc_for_parsing``).
    Other commands keep the collector: ``migrate`` lints file after file outside that block,
    and ``server`` lives for a session."""
    import gc

    if _command(sys.argv[1:]) == "lint":
        gc.disable()
    code = main()
    if _can_exit_at_once():
        os._exit(code)
    sys.exit(code)


def _can_exit_at_once() -> bool:
    import threading

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            return False  # let the interpreter report it, as it always did
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.active_children():
        return False
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()  # what the interpreter's exit would do: flush and close log handlers
    return True


class OutputError(Exception):
    """Writing to standard output failed: it is closed, its reader went away, or its disk is full."""

    def __init__(self, cause: OSError | None) -> None:
        super().__init__(cause)
        self.cause = cause

    @property
    def broken_pipe(self) -> bool:
        return isinstance(self.cause, BrokenPipeError) or getattr(self.cause, "errno", None) == errno.EPIPE

    def __str__(self) -> str:
        if self.cause is None:
            return "standard output is closed"
        return self.cause.strerror or str(self.cause)


class _GuardedStdout:
    """Stands in for ``sys.stdout`` while a command runs. A failed write or flush becomes
    :class:`OutputError`, so that it is told apart from every other ``OSError`` (a file the
    command could not write has its own message). ``stream`` is None when the process was
    started with standard output closed."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is None:
            raise OutputError(None)
        try:
            return int(self._stream.write(text))
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise OutputError(None)
        return getattr(self._stream, name)


def _guarded(argv: Sequence[str] | None) -> int:
    real = sys.stdout
    sys.stdout = _GuardedStdout(real)  # type: ignore[assignment]
    try:
        try:
            code = _main(argv)
        except SystemExit:  # argparse's --help, --version and usage errors
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a full disk shows only here, when the buffer is written
        return code
    except OutputError as err:
        _silence(real)
        if not err.broken_pipe:  # a reader that went away (`| head`) is not worth a message
            _error(f"cannot write the output: {err}")
        return EXIT_ERROR
    finally:
        sys.stdout = real


def _silence(stream: Any) -> None:
    """Point standard output at /dev/null, so that the interpreter's own flush at exit does not
    fail again on what is still buffered (and print "Exception ignored ...")."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _error(message: str) -> None:
    if sys.stderr is not None:
        print(f"losscheck: error: {message}", file=sys.stderr)


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand: the first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Register only the module the command needs (fast path), all of them for --help.
    command = _command(argv)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except UserError as err:
        _error(str(err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
