"""The rule API, modelled on Fixit's ``LintRule`` and ruff's rule pages.

A rule is a class with an identity (``code``, ``name``), docs in its docstring with the four
sections ruff uses (``## What it does``, ``## Why is this bad?``, ``## Example``,
``## Use instead``), VALID and INVALID examples that the test suite runs, and one method,
``check(ctx)``, that yields findings through ``ctx.report``.

Rules do not walk raw files: they read *facts* from the :class:`~losscheck.lint.context.FileContext`
(the loss functions found in the file, resolved imports, scopes, inferred shapes), which are
computed lazily and once per file, so a rule that needs no scopes never pays for them.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Iterable, Iterator, Union

from losscheck.lint.finding import Finding, Severity

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext


@dataclass(frozen=True)
class Valid:
    """Code on which the rule must stay quiet."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """Code on which the rule must report.

    ``message``: a substring the (first) finding's message must contain.
    ``line``: the 1-based line the first finding must start on (optional).
    ``fixed``: the source after applying this rule's fixes (safe and unsafe), if it has one.
    ``count``: how many findings of this rule the code must produce (optional).
    """

    code: str
    message: str | None = None
    line: int | None = None
    fixed: str | None = None
    count: int | None = None


Example = Union[str, Valid, Invalid]

DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")
DOCS_URL = "https://losscheck.invalid"  # the project's documentation site


def docs_url(name: str) -> str:
    """The page of the rule called ``name`` (SARIF's helpUri, the language server's codeDescription)."""
    return f"{DOCS_URL}/rules/{name}"


class Rule:
    """Base class of every lint rule (built in or from a plugin)."""

    code: ClassVar[str]  # "LCK101": up to 3 capitals + 3 digits, so flake8 accepts it
    name: ClassVar[str]  # "batch-mean-reduction": kebab-case, the stable contract
    summary: ClassVar[str]  # one line, shown by `losscheck rules`
    severity: ClassVar[Severity] = "error"
    default_enabled: ClassVar[bool] = True  # off-by-default rules need --select/--extend-select
    losses_only: ClassVar[bool] = False  # True: skip functions found as metrics
    origin: ClassVar[str] = "losscheck"  # "losscheck" or the plugin's distribution name

    # What a file must hold for the rule to be worth parsing it for; checked on the raw bytes
    # before anything is parsed (``losscheck/lint/prefilter.py``). Left unset here on purpose:
    # a plugin rule that does not set ``triggers`` runs on every file (correct, only slower).
    #
    # ``triggers``: literal substrings (plain ``str``, no regex); the file must contain one.
    # ``trigger_checks``: then one of these must say yes: the core's checks by name
    # (``"loss-code"``: what the built-in rules parse for; ``"model-multi"``, ...) or ``bytes``
    # regexes. Unset, it is ``("loss-code",)``, right for a rule that reads ``ctx.functions``;
    # ``()`` parses every file that holds a trigger.
    # Both must hold on every file the rule can report on: a miss is a silent miss.
    triggers: ClassVar[tuple[str, ...] | None]
    trigger_checks: ClassVar[tuple[str | bytes, ...]]
    # A large file is parsed without the definitions that nothing the triggers find can reach
    # (``losscheck/lint/focus.py``). A rule whose findings weigh every name of the module (a
    # "did you mean" among all its names) sets this: a file where it reports is linted again whole.
    reads_every_name: ClassVar[bool] = False

    VALID: ClassVar[list[Example]] = []
    INVALID: ClassVar[list[Example]] = []

    def check(self, ctx: "FileContext") -> Iterable[Finding] | None:  # pragma: no cover - abstract
        """Yield findings (or call ``ctx.report(self, ...)`` and return None)."""
        raise NotImplementedError

    # -- helpers shared by the CLI, docs and tests -------------------------------------
    @classmethod
    def docs(cls) -> str:
        return textwrap.dedent(inspect.getdoc(cls) or "").strip()

    @classmethod
    def valid_examples(cls) -> Iterator[Valid]:
        for case in cls.VALID:
            yield Valid(textwrap.dedent(case.code if isinstance(case, Valid) else str(case)))

    @classmethod
    def invalid_examples(cls) -> Iterator[Invalid]:
        for case in cls.INVALID:
            if not isinstance(case, Invalid):
                case = Invalid(str(case))
            fixed = textwrap.dedent(case.fixed) if case.fixed is not None else None
            yield replace(case, code=textwrap.dedent(case.code), fixed=fixed)

    @classmethod
    def has_fix(cls) -> bool:
        return any(case.fixed is not None for case in cls.invalid_examples())
