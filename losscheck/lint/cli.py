"""``losscheck lint``, ``rules``, ``explain`` and ``config``.

Exit codes (conventions.md): 0 clean, 1 findings, 2 usage/config/internal error (a missing
path, an unreadable or unparsable file, a crashing rule: the other files are still linted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from losscheck.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UserError
from losscheck.lint import config as cfg
from losscheck.lint.reporters import FORMATS


def _selectors(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    lint = subparsers.add_parser("lint", help="lint loss code", description="Find silent mistakes in Keras loss code.")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    sel = lint.add_argument_group("rule selection")
    sel.add_argument("--select", action="append", metavar="RULES", help="comma-separated codes, prefixes or names (replaces the config's select)")
    sel.add_argument("--extend-select", action="append", metavar="RULES", help="add to the selection")
    sel.add_argument("--ignore", action="append", metavar="RULES", help="rules to leave out")
    # dest differs from `config --format` (how to print the settings), which is not an output format
    lint.add_argument("--format", "--output-format", dest="output_format", choices=FORMATS, help="output format (default: full)")
    lint.add_argument("--fix", action="store_true", help="apply safe fixes")
    lint.add_argument("--unsafe-fixes", action="store_true", help="with --fix, also apply unsafe fixes")
    lint.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them (exit 1 if any)")
    lint.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    lint.add_argument("--layout", metavar="FILE", help="layout.json for shape inference")
    lint.add_argument("--target-keras", choices=cfg.TARGET_KERAS, help="the Keras the code is written for (default: auto)")
    lint.add_argument("--statistics", action="store_true", help="print counts per rule instead of the findings")
    lint.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    lint.add_argument("--show-settings", action="store_true", help="print the resolved settings and exit")
    lint.add_argument("--config", metavar="FILE", help="use this pyproject.toml instead of searching for one")
    lint.add_argument("--isolated", action="store_true", help="ignore every config file")
    lint.add_argument("--stdin-filename", metavar="PATH", help="lint standard input (`-`) under this name: messages, config, per-file-ignores; PATH.ipynb: a notebook")
    lint.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: CPU count)")
    lint.add_argument("--verbose", "-v", action="store_true", help="print file counts and timings to stderr")
    lint.add_argument("--quiet", "-q", action="store_true", help="print the findings only (no summary, warnings or progress)")
    lint.set_defaults(func=run_lint)

    rules = subparsers.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(func=run_rules)

    explain = subparsers.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", metavar="RULE", help="code (LCK101) or name (batch-mean-reduction)")
    explain.set_defaults(func=run_explain)

    config = subparsers.add_parser("config", help="print the resolved settings")
    config.add_argument("paths", nargs="*", metavar="PATH")
    config.add_argument("--config", metavar="FILE")
    config.add_argument("--isolated", action="store_true")
    config.add_argument("--target-keras", choices=cfg.TARGET_KERAS)
    config.add_argument("--show-targets", action="store_true", help="list the Keras each file is written for, and why")
    config.add_argument("--format", choices=("text", "json"), default="text")
    config.set_defaults(func=run_config)


# -- lint ------------------------------------------------------------------------------------


def _settings_from(args: argparse.Namespace, paths: Sequence[str]) -> cfg.Settings:
    layer = cfg.Layer(
        select=_selectors(getattr(args, "select", None)),
        extend_select=_selectors(getattr(args, "extend_select", None)) or [],
        ignore=_selectors(getattr(args, "ignore", None)) or [],
    )
    layout = getattr(args, "layout", None)
    if layout is not None:
        if not os.path.isfile(layout):
            raise UserError("layout file not found", layout)
        layout = os.path.abspath(layout)
    settings = cfg.build_settings(
        paths,
        config=getattr(args, "config", None),
        isolated=getattr(args, "isolated", False),
        cli_layer=layer,
        overrides={"layout": layout, "output_format": getattr(args, "output_format", None),
                   "target_keras": getattr(args, "target_keras", None)},
    )
    if settings.layout:
        # Validate once, up front: a bad layout is a usage error (exit 2), not a crash per file.
        from losscheck.shapes.sources import load_layout

        load_layout(settings.layout)
    return settings


def _read_text(path: str) -> str | None:
    from losscheck.lint.decoding import decode

    try:
        with open(path, "rb") as fh:
            return decode(fh.read())
    except (OSError, ValueError):
        return None


def _stdin(args: argparse.Namespace) -> Any:
    """The ``stdin`` module when standard input is to be linted (``-``, ``--stdin-filename``),
    else None: a run over files does not import it."""
    if "-" not in (args.paths or []) and args.stdin_filename is None:
        return None
    from losscheck.lint import stdin

    stdin.wanted(args)  # a usage error for `-` with other paths
    return stdin


def run_lint(args: argparse.Namespace) -> int:
    from losscheck.lint import runner
    from losscheck.lint.progress import for_stderr
    from losscheck.lint.reporters import ReportContext, render

    stdin = _stdin(args)
    paths = [args.stdin_filename or "."] if stdin else args.paths or ["."]  # stdin: config from its name
    settings = _settings_from(args, paths)
    the_plan = runner.plan(settings, use_cache=not args.no_cache)
    for error in the_plan.manifest.plugin_errors if not args.quiet else ():
        print(f"losscheck: warning: {error}", file=sys.stderr)
    if args.show_settings:
        print(_settings_text(settings, the_plan))
        return EXIT_CLEAN
    if args.unsafe_fixes and not (args.fix or args.diff):
        raise UserError("--unsafe-fixes needs --fix or --diff")
    if stdin is not None:
        return stdin.run(args, the_plan)
    started = time.perf_counter()
    bar = for_stderr(sys.stderr, quiet=args.quiet)  # a counter, for runs over a second, on a terminal
    try:
        result = runner.run(paths, the_plan, use_cache=not args.no_cache, jobs=args.jobs, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.verbose:
        print(
            f"losscheck: {result.files} files: {result.cached} from the cache, {result.parsed} parsed, "
            f"{result.files - result.cached - result.parsed} skipped by the pre-filter; "
            f"{time.perf_counter() - started:.2f} s",
            file=sys.stderr,
        )
    for missing in result.missing:
        print(f"losscheck: error: {missing}: no such file or directory", file=sys.stderr)
    for path, why in result.unreadable:
        print(f"losscheck: error: {path}: {why}", file=sys.stderr)
    if not (result.files or result.missing or result.unreadable or getattr(args, "quiet", False)):
        print("losscheck: warning: no Python files or notebooks found under the given paths", file=sys.stderr)

    fixed = 0
    changed_diff = False
    fix_failed = False
    findings = result.findings
    if args.fix or args.diff:
        from losscheck.lint.fixer import fix_files

        outcome = fix_files(findings, the_plan, unsafe=args.unsafe_fixes, write=not args.diff)
        findings, fixed = outcome.findings, outcome.fixed
        for error in outcome.errors:
            print(f"losscheck: error: {error}", file=sys.stderr)
        fix_failed = bool(outcome.errors)
        if args.diff:
            sys.stdout.write(outcome.diff)
            changed_diff = bool(outcome.diff)
            if not args.quiet:
                print(f"Would fix {fixed} error{'s' if fixed != 1 else ''}.", file=sys.stderr)
            if result.has_errors or fix_failed:
                return EXIT_ERROR
            return EXIT_FINDINGS if changed_diff and not args.exit_zero else EXIT_CLEAN

    fmt = settings.output_format
    if args.statistics:
        sys.stdout.write(_statistics(findings, fmt))
    else:
        ctx = ReportContext(
            read_source=_read_text,
            rules=the_plan.manifest.rules,
            unsafe_fixes=args.unsafe_fixes,
            fixed=fixed,
            unchecked=len(result.missing) + len(result.unreadable),
            extra={"quiet": args.quiet},
        )
        sys.stdout.write(render(fmt, findings, ctx))
    sys.stdout.flush()
    if result.has_errors or fix_failed or any(f.code in _diag_codes() for f in findings):
        return EXIT_ERROR
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _diag_codes() -> frozenset[str]:
    from losscheck.lint.diagnostics import DIAGNOSTIC_CODES

    return DIAGNOSTIC_CODES


def _statistics(findings: Sequence[Any], fmt: str) -> str:
    counts: dict[str, dict[str, Any]] = {}
    for f in findings:
        entry = counts.setdefault(f.code, {"code": f.code, "name": f.rule, "count": 0, "fixable": False})
        entry["count"] += 1
        entry["fixable"] = entry["fixable"] or f.fix is not None
    rows = sorted(counts.values(), key=lambda e: (-e["count"], e["code"]))
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    width = max([len(str(r["count"])) for r in rows] or [1])
    return "".join(
        f"{r['count']:>{width}}\t{r['code']}\t{'[*] ' if r['fixable'] else '    '}{r['name']}\n" for r in rows
    )


# -- settings ---------------------------------------------------------------------------------


def _settings_dict(settings: cfg.Settings, the_plan: Any) -> dict[str, Any]:
    data = settings.to_dict()
    data["layers"] = [vars(layer) for layer in settings.layers]
    data["enabled_rules"] = [f"{r.code} {r.name}" for r in the_plan.enabled]
    from losscheck.lint.cache import cache_root

    data["cache_dir"] = str(cache_root(settings.root, settings.cache_dir))
    return data


def _settings_text(settings: cfg.Settings, the_plan: Any) -> str:
    data = _settings_dict(settings, the_plan)
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and not isinstance(value[0], dict):
            lines.append(f"{key} = [")
            lines.extend(f"    {json.dumps(v)}," for v in value)
            lines.append("]")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def run_config(args: argparse.Namespace) -> int:
    from losscheck.lint import runner

    settings = _settings_from(args, args.paths or ["."])
    if args.show_targets:
        from losscheck.lint import keras_target

        sys.stdout.write(keras_target.show(args.paths or ["."], settings, args.format, cli=args.target_keras))
        return EXIT_CLEAN
    the_plan = runner.plan(settings)
    if args.format == "json":
        print(json.dumps(_settings_dict(settings, the_plan), indent=2))
    else:
        print(_settings_text(settings, the_plan))
    return EXIT_CLEAN


# -- rules / explain ---------------------------------------------------------------------------


def _all_rules() -> tuple[list[Any], list[str]]:
    from losscheck.lint.diagnostics import DIAGNOSTICS
    from losscheck.lint.registry import load_registry

    registry = load_registry()
    return [*registry.rules, *DIAGNOSTICS], [str(e) for e in registry.errors]


def run_rules(args: argparse.Namespace) -> int:
    rules, errors = _all_rules()
    for error in errors:
        print(f"losscheck: warning: {error}", file=sys.stderr)
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "origin": r.origin,
            "default": "on" if r.default_enabled else "off",
            "fix": "yes" if r.has_fix() else "no",
            "severity": r.severity,
            "summary": r.summary,
        }
        for r in sorted(rules, key=lambda r: r.code)
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_CLEAN
    headers = ("code", "name", "origin", "default", "fix", "summary")
    widths = [max(len(h), *(len(str(row[h])) for row in rows)) for h in headers[:-1]]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)) + "  SUMMARY")
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths)) + "  " + row["summary"])
    return EXIT_CLEAN


def explain_text(key: str, rules: Sequence[Any] | None = None) -> str | None:
    """A rule's page (by code or name) as ``losscheck explain`` prints it; None when no rule
    has that code or name. The language server shows the same text on hover."""
    key = key.strip()
    for r in rules if rules is not None else _all_rules()[0]:
        if r.code == key.upper() or r.name == key.lower():
            fix = "yes" if r.has_fix() else "no"
            default = "on" if r.default_enabled else "off by default (select it by code or name)"
            return (
                f"# {r.name} ({r.code})\n\n"
                f"Origin: {r.origin}. Severity: {r.severity}. Default: {default}. Fix: {fix}.\n\n"
                f"{r.summary}\n\n{r.docs()}\n"
            )
    return None


def run_explain(args: argparse.Namespace) -> int:
    text = explain_text(args.rule)
    if text is None:
        raise UserError(f"unknown rule {args.rule.strip()!r} (see `losscheck rules`)")
    sys.stdout.write(text)
    return EXIT_CLEAN
