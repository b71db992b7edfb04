"""``losscheck lint -``: lint standard input, as ruff does.

``--stdin-filename PATH`` names the buffer: it is the path in messages, the config is the one
found from it, ``per-file-ignores`` and ``force-exclude`` match it, and ``PATH.ipynb`` makes
the buffer a notebook. With ``--fix`` the fixed text, and nothing else, goes to standard
output (the input unchanged when there is nothing to fix or it cannot be fixed), so an editor
can replace its buffer with it; the findings that remain go to standard error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from losscheck.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UserError
from losscheck.lint.discover import Discovery

STDIN = "-"


@dataclass(frozen=True)
class StdinFile:
    path: str  # --stdin-filename, else "-"
    data: bytes


def wanted(args: argparse.Namespace) -> bool:
    """Is standard input to be linted? ``-`` alone, or ``--stdin-filename`` with no path.
    Raises a usage error for ``-`` among other paths."""
    paths = list(args.paths or [])
    name = getattr(args, "stdin_filename", None)
    if STDIN in paths and paths != [STDIN]:
        raise UserError("`-` (standard input) cannot be linted together with other paths")
    if name is not None and paths and paths != [STDIN]:
        raise UserError("--stdin-filename names standard input: give `-` or no path")
    if name is not None and not name.strip():
        raise UserError("--stdin-filename needs a file name")
    return paths == [STDIN] or name is not None


def stdin_discovery(stdin: StdinFile, settings: Any) -> Discovery:
    """The buffer is the one file, unless ``force-exclude`` excludes its name."""
    from losscheck.lint.discover import Excluder, _excluded_anywhere

    if stdin.path != STDIN and settings.force_exclude:
        excluder = Excluder([*settings.exclude, *settings.extend_exclude], settings.root)
        if _excluded_anywhere(excluder, stdin.path):
            return Discovery()
    return Discovery(files=[stdin.path])


def read(name: str | None) -> StdinFile:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise UserError("cannot read standard input: there is none")
    try:
        data = stream.read()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read standard input: {exc}") from None
    return StdinFile(name or STDIN, data)


def _text(data: bytes, path: str) -> str | None:
    from losscheck.lint import notebook
    from losscheck.lint.decoding import decode

    try:
        return notebook.decode(data) if notebook.is_notebook(path) else decode(data)
    except (ValueError, notebook.NotebookError):
        return None


def run(args: argparse.Namespace, the_plan: Any) -> int:
    """Lint (and with ``--fix``/``--diff``, fix) standard input; the exit code."""
    from losscheck.lint import cli, runner
    from losscheck.lint.diagnostics import DIAGNOSTIC_CODES
    from losscheck.lint.fix import selected_fixes
    from losscheck.lint.fixer import NotWritten, fix_data
    from losscheck.lint.reporters import ReportContext, render

    quiet = bool(getattr(args, "quiet", False))
    stdin = read(getattr(args, "stdin_filename", None))
    result = runner.run([], the_plan, use_cache=False, stdin=stdin)
    findings, fixed, out, diff, failed = result.findings, 0, stdin.data, "", False
    has_diagnostics = any(f.code in DIAGNOSTIC_CODES for f in findings)
    if (args.fix or args.diff) and not has_diagnostics and selected_fixes(findings, args.unsafe_fixes):
        try:
            outcome = fix_data(stdin.path, stdin.data, findings, the_plan, unsafe=args.unsafe_fixes)
        except NotWritten as exc:
            print(f"losscheck: error: {exc}", file=sys.stderr)
            failed = True
        else:
            findings, fixed, diff = outcome.findings, outcome.fixed, outcome.diff
            out = outcome.data if outcome.data is not None else stdin.data
    if args.diff:
        sys.stdout.write(diff)
        if not quiet:
            print(f"Would fix {fixed} error{'s' if fixed != 1 else ''}.", file=sys.stderr)
        if has_diagnostics or failed:
            return EXIT_ERROR
        return EXIT_FINDINGS if diff and not args.exit_zero else EXIT_CLEAN
    # With --fix, standard output is the fixed buffer alone: the report goes to standard error.
    report = sys.stderr if args.fix else sys.stdout
    if args.fix:
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    display = runner.display_path(stdin.path)
    text = _text(out, stdin.path)

    def read_source(path: str) -> str | None:
        return text if path == display else cli._read_text(path)

    if args.statistics:
        report.write(cli._statistics(findings, the_plan.settings.output_format))
    else:
        ctx = ReportContext(
            read_source=read_source,
            rules=the_plan.manifest.rules,
            unsafe_fixes=args.unsafe_fixes,
            fixed=fixed,
            extra={"quiet": quiet},
        )
        report.write(render(the_plan.settings.output_format, findings, ctx))
    report.flush()
    if failed or any(f.code in DIAGNOSTIC_CODES for f in findings):
        return EXIT_ERROR
    return EXIT_FINDINGS if findings and not args.exit_zero else EXIT_CLEAN
