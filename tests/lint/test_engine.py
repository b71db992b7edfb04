"""Engine, suppressions and LCK901 with small rules defined here (independent of the real rules)."""

from __future__ import annotations

import keyword

import libcst as cst
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import decode, lint_bytes, lint_source
from losscheck.lint.fix import apply_fixes
from losscheck.lint.rule import Rule
from losscheck.lint.rules.lck901_unused_suppression import UnusedSuppression
from losscheck.lint.suppress import parse_directives


class NameX(Rule):
    """Reports every use of the name ``x`` (a stand-in rule for the tests)."""

    code = "LCK990"
    name = "name-x"
    summary = "x"

    def check(self, ctx):
        for node in _names(ctx.module, "x"):
            ctx.report(self, node, "uses x")


class Crashes(Rule):
    code = "LCK991"
    name = "crashes"
    summary = "always raises"

    def check(self, ctx):
        for node in _names(ctx.module, "x"):
            ctx.report(self, node, "this finding is dropped with the crash")
        raise ZeroDivisionError("boom")


def _names(module: cst.Module, value: str) -> list[cst.Name]:
    found: list[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == value:
                found.append(node)

    module.visit(V())
    return found


KNOWN = {"known_rules": [("LCK990", "name-x"), ("LCK991", "crashes"), ("LCK901", "unused-suppression"),
                         ("LCK101", "batch-mean-reduction")]}


def lint(src: str, *rules: type[Rule]):
    return lint_source(src, "t.py", rules=list(rules) or [NameX, UnusedSuppression], options=KNOWN)


def test_finding_positions_are_one_based_columns():
    (f,) = lint("y = 1\nz = x\n", NameX)
    assert (f.line, f.column, f.end_line, f.end_column, f.code, f.rule) == (2, 5, 2, 6, "LCK990", "name-x")


def test_syntax_error_is_a_diagnostic_with_the_parser_position():
    (f,) = lint("def f(:\n    pass\n")
    assert f.code == "LCK999" and f.rule == "syntax-error" and f.line == 1 and f.column >= 1


def test_undecodable_bytes_are_lck998():
    (f,) = lint_bytes(b"x = '\xff\xfe'\n", "bad.py", rules=[NameX])
    assert f.code == "LCK998" and "decode" in f.message


def test_pep263_coding_line_is_honoured():
    data = "# -*- coding: latin-1 -*-\nx = 'é'\n".encode("latin-1")
    assert decode(data).endswith("'é'\n")
    assert [f.code for f in lint_bytes(data, "l1.py", rules=[NameX])] == ["LCK990"]


def test_crashing_rule_becomes_lck997_and_other_rules_still_run():
    found = lint("x = 1\n", Crashes, NameX)
    codes = sorted(f.code for f in found)
    assert codes == ["LCK990", "LCK997"]
    crash = next(f for f in found if f.code == "LCK997")
    assert "LCK991" in crash.message and "crashes" in crash.message and "ZeroDivisionError" in crash.message


def test_noqa_and_losscheck_ignore_suppress_by_code_or_name():
    assert lint("a = x  # noqa: LCK990\n") == []
    assert lint("a = x  # noqa\n") == []
    assert lint("a = x  # losscheck: ignore[name-x]\n") == []
    assert lint("a = x  # losscheck: ignore[LCK990]\n") == []
    assert lint("a = x  # losscheck: ignore\n") == []
    assert [f.code for f in lint("a = x  # noqa: E501\n")] == ["LCK990"]  # someone else's code
    assert lint("a = x  # NOQA:lck990\n") == []
    assert [f.code for f in lint("a = x  # noqa: lck101\n")] == ["LCK990", "LCK901"]  # not a bare noqa


def test_directive_in_a_string_is_not_a_directive():
    found = lint('a = (x, "# noqa: LCK990")\n')
    assert [f.code for f in found] == ["LCK990"]


def test_ignore_file_skips_the_whole_file_and_ignore_file_list_drops_rules():
    assert lint("# losscheck: ignore-file\na = x\n") == []
    assert lint("# losscheck: ignore-file[name-x]\na = x\n") == []
    assert lint("# losscheck: ignore-file[LCK101]\na = x\n")[0].code == "LCK990"


def test_used_suppression_is_not_reported_unused_one_is():
    assert lint("a = x  # noqa: LCK990\n") == []
    (f,) = lint("a = 1  # noqa: LCK990\n")
    assert f.code == "LCK901" and "unused: `LCK990`" in f.message


def test_partially_used_suppression_keeps_the_used_entry_when_fixed():
    src = "a = x  # losscheck: ignore[name-x, LCK101]\n"
    (f,) = lint(src)
    assert "not enabled: `LCK101`" in f.message
    fixed, n = apply_fixes(src, [f])
    assert n == 1 and fixed == "a = x  # losscheck: ignore[name-x]\n"
    assert lint(fixed) == []


def test_unknown_rule_in_suppression_is_reported():
    (f,) = lint("a = 1  # losscheck: ignore[no-such-rule]\n")
    assert "unknown rule `no-such-rule`" in f.message


def test_diagnostics_cannot_be_suppressed():
    (f,) = lint("def f(:  # noqa\n")
    assert f.code == "LCK999"


IDENT = st.from_regex(r"[a-wyz][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))


@settings(max_examples=40)
@given(
    lines=st.lists(st.tuples(IDENT, st.booleans(), st.sampled_from(["noqa", "name", "code", "none", "other"])),
                   min_size=1, max_size=8)
)
def test_suppression_property(lines):
    """A line's finding disappears iff a matching directive is on that line; LCK901 flags exactly
    our directives on lines without a finding."""
    src_lines = []
    expect_findings = []
    expect_unused = []
    for i, (name, uses_x, directive) in enumerate(lines, start=1):
        comment = {
            "noqa": "  # noqa: LCK990",
            "name": "  # losscheck: ignore[name-x]",
            "code": "  # losscheck: ignore[LCK990]",
            "other": "  # noqa: E501",
            "none": "",
        }[directive]
        src_lines.append(f"{name} = {'x' if uses_x else '1'}{comment}")
        if uses_x and directive in ("none", "other"):
            expect_findings.append(i)
        if not uses_x and directive in ("noqa", "name", "code"):
            expect_unused.append(i)
    found = lint("\n".join(src_lines) + "\n")
    assert [f.line for f in found if f.code == "LCK990"] == expect_findings
    assert [f.line for f in found if f.code == "LCK901"] == expect_unused
    # Fixing all LCK901 findings removes exactly the unused directives, and the result is clean of them.
    fixed, _ = apply_fixes("\n".join(src_lines) + "\n", found)
    assert [f.code for f in lint(fixed)].count("LCK901") == 0


def test_parse_directives_reports_columns_of_the_directive():
    (d,) = parse_directives("a = 1  # keep  # noqa: LCK101,LCK102\n")
    assert d.kind == "noqa" and d.entries == ("LCK101", "LCK102") and d.line == 1
    assert "a = 1  # keep  # noqa: LCK101,LCK102"[d.column:d.end_column] == "# noqa: LCK101,LCK102"
