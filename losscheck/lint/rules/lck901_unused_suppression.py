"""LCK901 unused-suppression: a ``# noqa: LCK...`` or ``# losscheck: ignore[...]`` that hides nothing.

The engine runs this rule after the other rules and the suppressions (it sets
``after_suppressions``), so it sees which directive entries were used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

from losscheck.lint.finding import Edit, Finding, Fix
from losscheck.lint.rule import Invalid, Rule

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext
    from losscheck.lint.suppress import Directive

OUR_PREFIX = "LCK"


class UnusedSuppression(Rule):
    """Reports suppression comments that suppress nothing.

    ## What it does
    Reports a `# noqa: LCK101` or `# losscheck: ignore[batch-mean-reduction]` entry that no
    finding on its line needed, names a rule that is not enabled, or names no rule at all.
    A bare `# noqa` and other tools' codes (`# noqa: E501`) are left alone: flake8 and ruff
    read those comments too.

    ## Why is this bad?
    A stale suppression hides the next real mistake on that line, and a misspelt rule name
    suppresses nothing while looking as if it did.

    ## Example
    ```python
    def loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)  # noqa: LCK101
    ```

    ## Use instead
    ```python
    def loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
    ```
    """

    code = "LCK901"
    name = "unused-suppression"
    summary = "A suppression comment that suppresses nothing."
    severity = "warning"
    after_suppressions: ClassVar[bool] = True

    VALID = [
        "x = 1\n",
        # not ours: flake8's and ruff's codes, and the bare form they share
        "import os  # noqa: F401\n",
        "x = 1  # noqa\n",
        "y = 2  # noqa: E501, W291\n",
        # inside a string, not a comment
        's = "# noqa: LCK101"\n',
        "t = '''\n# losscheck: ignore[batch-mean-reduction]\n'''\n",
    ]
    INVALID = [
        Invalid(
            "x = 1  # noqa: LCK101\n",
            message="LCK101",
            line=1,
            fixed="x = 1\n",
        ),
        Invalid(
            "x = 1  # noqa: E501, LCK102\n",
            message="LCK102",
            fixed="x = 1  # noqa: E501\n",
        ),
        Invalid(
            "x = 1  # losscheck: ignore[no-such-rule]\n",
            message="unknown rule `no-such-rule`",
            fixed="x = 1\n",
        ),
        Invalid("x = 1  # losscheck: ignore\n", message="suppresses nothing", count=1),
        Invalid(
            "a = 1  # keep this  # losscheck: ignore[LCK101, wrong-axis]\n",
            message="LCK101",
            fixed="a = 1  # keep this\n",
        ),
    ]

    def check(self, ctx: FileContext) -> None:
        return None  # everything happens in check_suppressions

    @classmethod
    def check_suppressions(
        cls, ctx: FileContext, directives: list[Directive], enabled: Sequence[type[Rule]]
    ) -> Iterable[Finding]:
        if not directives:
            return []
        known = _known_rules(ctx)
        # The runner passes every rule enabled for the file ("enabled_codes"): the pre-filter may
        # have skipped some that could not report here, which makes their suppressions unused.
        codes = ctx.options.get("enabled_codes")
        enabled_codes = set(codes) if codes is not None else {r.code for r in enabled}
        enabled_keys = enabled_codes | {name for code, name in known.values() if code in enabled_codes}
        lines = ctx.source.splitlines()
        out: list[Finding] = []
        for d in directives:
            if d.kind == "ignore-file":
                continue  # the file was skipped or the rules dropped: nothing to measure
            if d.entries is None:
                if d.kind == "ignore" and not d.used:
                    out.append(cls._finding(ctx, d, "`# losscheck: ignore` suppresses nothing on this line", lines, ()))
                continue
            unused, not_enabled, unknown, keep = [], [], [], []
            for entry in d.entries:
                is_ours = d.kind == "ignore" or entry.upper().startswith(OUR_PREFIX) or entry.upper() in known
                if entry in d.used or not is_ours:
                    keep.append(entry)
                    continue
                key = entry.upper() if entry.upper() in known else entry.lower()
                rule_id = known.get(key)
                if rule_id is None:
                    unknown.append(entry)
                elif rule_id[0] not in enabled_keys:
                    not_enabled.append(entry)
                else:
                    unused.append(entry)
            parts = []
            for label, items in (("unused", unused), ("not enabled", not_enabled)):
                if items:
                    parts.append(f"{label}: " + ", ".join(f"`{e}`" for e in items))
            if unknown:
                parts.append("unknown rule " + ", ".join(f"`{e}`" for e in unknown))
            if parts:
                out.append(cls._finding(ctx, d, "Unused suppression (" + "; ".join(parts) + ")", lines, tuple(keep)))
        return out

    @classmethod
    def _finding(
        cls, ctx: FileContext, d: Directive, message: str, lines: list[str], keep: tuple[str, ...]
    ) -> Finding:
        line_text = lines[d.line - 1] if d.line - 1 < len(lines) else ""
        if keep:
            prefix = "# noqa: " if d.kind == "noqa" else "# losscheck: ignore["
            suffix = "" if d.kind == "noqa" else "]"
            edit = Edit(d.line, d.column, d.line, d.end_column, prefix + ", ".join(keep) + suffix)
        else:
            # Remove the directive and the blanks before it; the whole comment if it held only this.
            start = d.comment_column if d.comment_is_directive_only else d.column
            while start > 0 and line_text[start - 1] in " \t":
                start -= 1
            end = d.end_column
            if d.comment_is_directive_only:
                end = len(line_text.rstrip("\r\n"))
            edit = Edit(d.line, start, d.line, end, "")
        return Finding(
            path=ctx.path,
            line=d.line,
            column=d.column + 1,
            end_line=d.line,
            end_column=d.end_column + 1,
            code=cls.code,
            rule=cls.name,
            severity=cls.severity,
            message=message,
            fix=Fix(edits=(edit,), safe=True, description="Remove the unused suppression"),
        )


def _known_rules(ctx: FileContext) -> dict[str, tuple[str, str]]:
    """code or name -> (code, name) of every rule that exists (enabled or not)."""
    rules = ctx.options.get("known_rules")
    if rules is None:
        from losscheck.lint.registry import load_registry

        rules = load_registry().rules
    known: dict[str, tuple[str, str]] = {}
    for r in rules:
        code, name = r if isinstance(r, tuple) else (r.code, r.name)
        known[code] = (code, name)
        known[name] = (code, name)
    return known
