"""flake8-losscheck: losscheck's rules as a flake8 plugin, for teams that lint through flake8.

flake8 gives the checker each file's lines; the checker runs the same engine as
``losscheck lint`` (same rules, same messages, same exact positions) and hands the findings
back as flake8 errors ``LCK101 [batch-mean-reduction] ...``. flake8 then does what it always
does: ``--select``/``--extend-ignore``/``per-file-ignores``, ``# noqa: LCK101``, output formats.

- Rules from losscheck plugins (e.g. losscheck-torch's ``LTH1xx``) run too; flake8 shows them
  once selected: ``flake8 --extend-select LTH``.
- Rules that are off by default in losscheck stay off unless named with
  ``--losscheck-enable LCK902`` (or ``losscheck-enable = LCK902`` in the flake8 config).
- LCK901 (unused suppression) is left to flake8, which owns ``# noqa`` here.
"""

from __future__ import annotations

import ast
from typing import Any, ClassVar, Iterator

__version__ = "0.1.0"

# flake8 owns `# noqa` when it runs us: judging suppressions is not our job here.
_NOT_IN_FLAKE8 = frozenset({"LCK901"})
_SELECTION: dict[frozenset[str], tuple[list[Any], Any]] = {}


class LosscheckChecker:
    """A flake8 "tree" plugin (flake8 needs a ``tree`` parameter to call us; we read ``lines``,
    because losscheck parses with libcst, not ``ast``)."""

    name = "flake8-losscheck"
    version = __version__
    enabled: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option(
            "--losscheck-enable",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="losscheck rules that are off by default to run as well (codes or names, e.g. LCK902)",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.enabled = frozenset(str(x).strip() for x in (options.losscheck_enable or []) if str(x).strip())

    @classmethod
    def rules(cls) -> tuple[list[Any], Any]:
        """The rules to run and their pre-filter, built once per process and set of options."""
        cached = _SELECTION.get(cls.enabled)
        if cached is None:
            from losscheck.lint.prefilter import Prefilter
            from losscheck.lint.registry import load_registry
            from losscheck.startup import dataclass_code_memo

            # importing the rules imports libcst: with the start-up cache's dataclass memo, as
            # `losscheck lint` does (~0.15 s less per flake8 process)
            with dataclass_code_memo():
                registry = load_registry(plugins=True)
            rules = [
                r
                for r in registry.rules
                if r.code not in _NOT_IN_FLAKE8
                and (r.default_enabled or r.code in cls.enabled or r.name in cls.enabled)
            ]
            cached = _SELECTION[cls.enabled] = (rules, Prefilter(rules))
        return cached

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        from losscheck.lint.engine import lint_source

        source = "".join(self.lines)
        rules, prefilter = self.rules()
        # the same cheap bytes test `losscheck lint` uses: most files hold no loss code
        if not prefilter.wants(source.encode("utf-8", "surrogateescape")):
            return
        for finding in lint_source(source, self.filename, rules=rules):
            # flake8 columns are 0-based here (it prints col + 1); losscheck's are 1-based
            yield finding.line, finding.column - 1, f"{finding.code} [{finding.rule}] {finding.message}", type(self)
