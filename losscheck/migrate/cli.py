"""``losscheck migrate PATH...``: apply the Keras 2 -> 3 changes to files, notebooks and folders.

Exit codes: 0 done (or, with ``--check``, nothing would change), 1 with ``--check`` or ``--diff``
when something would change, 2 on a usage error or a file that could not be read, parsed or
written (the other files are still migrated).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from losscheck.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UserError

if TYPE_CHECKING:
    from losscheck.migrate.notebooks import NotebookMigration
    from losscheck.migrate.run import Migration


def register(subparsers: Any) -> None:
    migrate = subparsers.add_parser(
        "migrate",
        help="rewrite Keras 2 loss code for Keras 3",
        description="Apply every Keras 2 -> 3 change losscheck knows to the files: backend calls (K.mean -> "
        "keras.ops.mean; the value-preserving rewrites, and with --unsafe-fixes also those whose values differ "
        "somewhere), moved imports (keras.utils.np_utils, keras.engine, keras.objectives, keras.layers.core...), "
        "dropped loss aliases (keras.losses.mse), the reduction enums (Reduction.SUM -> \"sum\") and "
        "arguments whose order changed. In a notebook the code cells are migrated as one program (imports in "
        "one cell serve calls in others); only the changed cells' source is rewritten, IPython syntax is kept as "
        "written, and outputs and metadata are not touched.",
    )
    migrate.add_argument("paths", nargs="+", metavar="PATH", help="files, notebooks (.ipynb) or folders (.gitignore is respected)")
    migrate.add_argument("--diff", action="store_true", help="print the changes as a unified diff, write nothing "
                         "(exit 1 if any)")
    migrate.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    migrate.add_argument("--unsafe-fixes", action="store_true",
                         help="also apply the backend rewrites whose values differ somewhere (see docs/keras3-migration.md)")
    migrate.set_defaults(func=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    from losscheck.lint.discover import discover
    from losscheck.migrate.run import MigrateError, write

    found = discover(args.paths)
    if found.missing:
        raise UserError(f"{found.missing[0]}: no such file or folder")
    errors = [f"{path}: {why}" for path, why in found.unreadable]
    preview = args.diff or args.check
    out = sys.stderr if args.diff else sys.stdout
    migrated = changes = left = 0
    for path in found.files:
        try:
            result, data = _migrate(path, args.unsafe_fixes)
            if result.modified and not preview:
                write(path, data)
        except MigrateError as exc:
            errors.append(str(exc))
            continue
        if result.modified:
            migrated += 1
            changes += len(result.changed)
            if args.diff:
                sys.stdout.write(result.diff)
        left += len(result.not_changed)
        if result.changed or result.not_changed:
            print(f"{path}: {len(result.changed)} changed, {len(result.not_changed)} not changed", file=out)
            for note in result.changed:
                print(f"  {note.where}: {note.text}", file=out)
            for note in result.not_changed:
                print(f"  {note.where}: not changed: {note.text}", file=out)
    verb = "Would migrate" if preview else "Migrated"
    summary = f"{verb} {migrated} file{'s' if migrated != 1 else ''} ({changes} change{'s' if changes != 1 else ''})"
    summary += f"; {left} left as {'they are' if preview else 'they were'} (see above)" if left else ""
    if not args.unsafe_fixes:
        summary += "; value-changing rewrites only with --unsafe-fixes"
    print(summary + ".", file=out)
    for message in errors:
        print(f"losscheck: error: {message}", file=sys.stderr)
    if errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if preview and migrated else EXIT_CLEAN


def _migrate(path: str, unsafe: bool) -> tuple[Migration | NotebookMigration, bytes]:
    """A file's or a notebook's migration (both give ``modified``, ``changed``, ``not_changed``,
    ``diff``, notes with ``where`` and ``text``) and the bytes to write. Raises MigrateError."""
    from losscheck.lint.discover import is_notebook

    if is_notebook(path):  # nbformat is imported for notebooks only
        from losscheck.migrate.notebooks import migrate_notebook

        return migrate_notebook(path, unsafe=unsafe)
    from losscheck.migrate.run import migrate_file

    return migrate_file(path, unsafe=unsafe)
