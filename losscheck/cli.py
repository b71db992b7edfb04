"""The ``losscheck`` command line: one small dispatcher, each subcommand in its own module.

Subcommand modules are imported lazily so that ``losscheck lint`` never pays for the
compiler's imports and vice versa. Each module exposes ``register(subparsers)`` which
adds its parser and sets ``func`` (``func(args) -> int`` exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from losscheck import __version__
from losscheck.errors import EXIT_ERROR, UserError
from losscheck.startup import dataclass_code_memo

# subcommand -> module that registers it (kept as strings: nothing is imported until used)
SUBCOMMANDS: dict[str, str] = {
    "lint": "losscheck.lint.cli",
    "rules": "losscheck.lint.cli",
    "explain": "losscheck.lint.cli",
    "config": "losscheck.lint.cli",
    "gen": "losscheck.gen.cli",
    "schema": "losscheck.gen.cli",
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
    with dataclass_code_memo():  # most of libcst's import is dataclass compiles: keep them (startup.py)
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Register only the module the command needs (fast path), all of them for --help.
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except UserError as err:
        print(f"losscheck: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
