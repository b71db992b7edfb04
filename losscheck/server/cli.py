"""``losscheck server``: the language server, on standard input and output.

pygls and lsprotocol come with the ``losscheck[server]`` extra; without them the command says
how to install them and exits 2, and nothing else in losscheck needs them.
"""

from __future__ import annotations

import argparse
import os
import sys

from losscheck.errors import EXIT_ERROR, UserError
from losscheck.lint import config as cfg

INSTALL_HINT = 'the language server needs pygls: pip install "losscheck[server]"'


def register(subparsers: argparse._SubParsersAction) -> None:
    server = subparsers.add_parser(
        "server",
        help="run the language server (LSP over stdio)",
        description="A Language Server for editors: diagnostics, fixes, suppressions and rule docs on hover.",
    )
    server.add_argument("--layout", metavar="FILE", help="layout.json for shape inference (as `lint --layout`)")
    server.add_argument("--config", metavar="FILE", help="use this pyproject.toml instead of searching for one")
    server.add_argument("--isolated", action="store_true", help="ignore every config file")
    server.add_argument("--target-keras", choices=cfg.TARGET_KERAS, help="the Keras the code is written for")
    server.add_argument("--debounce-ms", type=int, default=150, metavar="MS", help="quiet time before linting an edit (default: 150)")
    server.set_defaults(func=run_server)


def available() -> bool:
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        return False
    return True


def run_server(args: argparse.Namespace) -> int:
    if not available():
        print(f"losscheck: error: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_ERROR
    layout = args.layout
    if layout is not None:
        if not os.path.isfile(layout):
            raise UserError("layout file not found", layout)
        layout = os.path.abspath(layout)
    if args.config is not None and not os.path.isfile(args.config):
        raise UserError("config file not found", args.config)
    if args.debounce_ms < 0:
        raise UserError("--debounce-ms must be 0 or more")
    from losscheck.server.projects import ServerOptions
    from losscheck.server.server import serve

    options = ServerOptions(layout=layout, config=args.config, target_keras=args.target_keras, isolated=args.isolated)
    return serve(options, args.debounce_ms / 1000)
