"""Hostile source files: deep nesting, long operator chains and huge statements.

libcst's native parser overflows the stack on deep nesting (SIGSEGV: the whole run dies with no
output), parses long chains in quadratic time, and needs ~0.7 GB of tree per MB of statement.
``lint/guard.py`` decides from the text what it can be given: each case here is one clear
diagnostic for that file (LCK999 where Python itself refuses the code, LCK996 where it is too
complex to parse safely), never a crash, a hang or a traceback, and the other files are still
linted. Code that is deep but within the limits is linted normally, and long operator chains
(parsed flat and rebuilt) give the very tree libcst builds.

Hostile inputs are linted in a child process, so that a regression kills the child, not the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from losscheck.lint import engine, flat_parse, guard, guard_limits, guard_tokens
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry

RULES = [r for r in load_registry(plugins=False).rules if getattr(r, "default_enabled", True)]
LOSS = "import tensorflow as tf\n\n\ndef loss(y_true, y_pred):\n    a = y_pred\n"
BUGGY = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"

_CHILD = """
import json, sys
from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
rules = [r for r in load_registry(plugins=False).rules if getattr(r, "default_enabled", True)]
source = sys.stdin.read()
print(json.dumps([f.to_dict() for f in lint_source(source, "hostile.py", rules=rules)]))
"""


def _lint_in_child(source: str, timeout: float = 120) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=source, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-1500:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    return json.loads(proc.stdout)


def _in_loss(expression: str) -> str:
    return f"{LOSS}    x = {expression}\n    return tf.reduce_mean(x)\n"


# -- one file of 2,000 nested parentheses next to a buggy one, through the CLI ----------------------

def test_deep_parentheses_are_reported_and_the_other_files_still_linted(tmp_path: Path) -> None:
    (tmp_path / "hostile.py").write_text(LOSS + "    return " + "(" * 2000 + "y_pred" + ")" * 2000 + "\n")
    (tmp_path / "buggy.py").write_text(BUGGY)
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])  # not -11 (SIGSEGV)
    assert "Traceback" not in proc.stderr
    found = {(Path(f["path"]).name, f["code"]) for f in json.loads(proc.stdout)}
    assert ("buggy.py", "LCK101") in found
    (hostile,) = [f for f in json.loads(proc.stdout) if Path(f["path"]).name == "hostile.py"]
    assert hostile["code"] == "LCK999" and "too many nested parentheses" in hostile["message"]
    # where Python reports it: the 201st bracket
    assert (hostile["line"], hostile["column"]) == (6, len("    return ") + 201)


# -- each kind of hostile nesting: one diagnostic, in bounded time -------------------------------------

HOSTILE = {
    "parentheses": (_in_loss("(" * 2000 + "a" + ")" * 2000), "LCK999", "too many nested parentheses"),
    "lists": (_in_loss("[" * 1000 + "a" + "]" * 1000), "LCK999", "too many nested parentheses"),
    "calls": (_in_loss("tf.abs(" * 1000 + "a" + ")" * 1000), "LCK999", "too many nested parentheses"),
    "f-string fields": (_in_loss("f'{" + "(" * 1000 + "a" + ")" * 1000 + "}'"), "LCK999",
                        "too many nested parentheses"),
    "indentation": ("".join(" " * i + "if a:\n" for i in range(150)) + " " * 150 + "pass\n", "LCK999",
                    "too many levels of indentation"),
    "unary minus": (_in_loss("-" * 5000 + "a"), "LCK996", "consecutive unary operators"),
    "not": (_in_loss("not " * 5000 + "a"), "LCK996", "consecutive unary operators"),
    "attribute chain": (_in_loss("a" + ".b" * 5000), "LCK996", "chained attribute accesses"),
    "call chain": (_in_loss("a" + "()" * 5000), "LCK996", "chained attribute accesses, calls or subscripts"),
    "subscript chain": (_in_loss("a" + "[0]" * 5000), "LCK996", "chained attribute accesses, calls or subscripts"),
    "power chain": (_in_loss(" ** ".join(["a"] * 5000)), "LCK996", "chained binary operators"),
    "lambdas": (_in_loss("lambda: " * 5000 + "a"), "LCK996", "nested lambdas"),
    "conditional expressions": (_in_loss("a if a else " * 5000 + "a"), "LCK996", "conditional expressions"),
    "comprehension clauses": (_in_loss("[a " + "for a in a " * 5000 + "]"), "LCK996", "comprehension clauses"),
    "and/or": (_in_loss(" and ".join(["a"] * 20_000)), "LCK996", "chained `and`/`or`"),
    "elif": (LOSS + "    if a:\n        pass\n" + "    elif a:\n        pass\n" * 6000 + "    return a\n", "LCK996",
             "`elif` clauses"),
    "a 1.2 MB statement": (LOSS + "DATA = [" + "1.0, " * 240_000 + "]\n", "LCK996", "a logical line of 1.2 MB"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_nesting_is_one_diagnostic(kind: str) -> None:
    source, code, message = HOSTILE[kind]
    findings = _lint_in_child(source, timeout=60)
    assert [f["code"] for f in findings] == [code], findings
    assert message in findings[0]["message"], findings[0]["message"]


def test_bracket_and_indentation_limits_are_pythons() -> None:
    """Exactly where CPython draws the line, at the position it reports."""
    for depth in (200, 201):
        source = "x = " + "(" * depth + "1" + ")" * depth + "\n"
        refusal = guard.scan(source).refusal
        try:
            compile(source, "x.py", "exec", dont_inherit=True)
        except SyntaxError as exc:
            assert refusal is not None and refusal.syntax and exc.msg == refusal.message
            assert guard.line_column(guard.line_starts(source), refusal.offset) == (exc.lineno, exc.offset - 1)
        else:
            assert refusal is None
    for depth in (99, 100):
        source = "".join(" " * i + "if x:\n" for i in range(depth)) + " " * depth + "pass\n"
        refusal = guard.scan(source).refusal
        try:
            compile(source, "x.py", "exec", dont_inherit=True)
        except SyntaxError as exc:
            assert refusal is not None and refusal.syntax and exc.msg == refusal.message
            assert guard.line_column(guard.line_starts(source), refusal.offset)[0] == exc.lineno
        else:
            assert refusal is None


# -- deep but within the limits: linted normally --------------------------------------------------------

@pytest.mark.parametrize("source", [
    _in_loss("tf.reduce_mean(a) + " * 600 + "1.0"),  # a tree 600 deep: libcst's code generator recurses
    _in_loss(" and ".join(["tf.reduce_mean(a)"] * 3000)),
    _in_loss("(" * 150 + "tf.reduce_mean(a)" + ")" * 150),
    _in_loss("-" * 150 + "tf.reduce_mean(a)"),
], ids=["600-term sum", "3000-term and", "150 parentheses", "150 unary minus"])
def test_deep_code_within_the_limits_is_linted(source: str) -> None:
    findings = _lint_in_child(source)
    assert [f["code"] for f in findings] == ["LCK101"], findings


def test_a_10000_term_sum_is_linted_in_linear_time() -> None:
    """libcst parses a chain of N operators in O(N^2) (10,000 terms: minutes, then a stack
    overflow); parsed flat and rebuilt, the loss is linted, through the deep chain, in seconds."""
    source = LOSS.replace("a = y_pred", "a = tf.reduce_mean(y_pred)") + "    return " + " + ".join(["a"] * 10_000) + "\n"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD + "import resource\n"
         "usage = resource.getrusage(resource.RUSAGE_SELF)\nprint(usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"],
        input=source, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    findings = json.loads(proc.stdout)
    assert [(f["code"], f["line"]) for f in findings] == [("LCK101", 5)], findings  # the reduce_mean in `a = ...`
    cpu = float(proc.stderr.strip().splitlines()[-1])
    assert cpu < 15, f"{cpu:.1f} s of CPU for a 10,000-term sum"


@pytest.mark.slow
def test_the_deepest_trees_the_guard_accepts_go_through_every_rule() -> None:
    """At the limits (a 20,000-term chain parsed flat, 5,000 `and`s, 200 brackets, 200 unary
    minuses): every walk and every rule copes with the depth, no rule crashes (LCK997)."""
    source = (
        LOSS
        + "    b = " + " - ".join(["a"] * guard_limits.MAX_FLAT) + "\n"
        + "    c = " + " and ".join(["a"] * guard_limits.MAX_LINEAR_CHAIN) + "\n"
        + "    d = " + "(" * 199 + "-" * 199 + "a" + ")" * 199 + "\n"
        + "    return tf.reduce_mean(b + c + d)\n"
    )
    findings = _lint_in_child(source, timeout=300)
    assert [f["code"] for f in findings] == ["LCK101"], findings


def test_without_a_free_stand_in_operator_chains_are_parsed_as_written() -> None:
    """A chain is parsed flat with a comparison operator the file never contains; a file that
    contains them all is parsed as written, its chains being within the limit."""
    body = "    return " + " + ".join(["a.b"] * 150) + "\n"
    assert len(guard.scan(LOSS + body).flat) == 149
    source = LOSS + "    b = a < a > a <= a >= a == a != a\n" + body
    scan = guard.scan(source)
    assert scan.refusal is None and scan.flat == []
    assert lint_source(source, "x.py", rules=RULES) == []


# -- flat parsing gives libcst's own tree ----------------------------------------------------------------

TERMS = ["a", "1", "2.5", "f(x)", "x[0]", "x.y", "-a", "~a", "a ** 2", "(a + b)", "'s'", "await a", "not_a"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "@", "<<", ">>", "&", "|", "^"]
GAPS = [" ", "", "  ", " \\\n    "]
BRACKETED_GAPS = [*GAPS, "\n    ", "  # note\n    "]
CONTEXTS = [
    "x = {}", "x += {}", "async def f():\n    return {}", "y = f({}, k={})", "y = [{}, 1]", "y = {{'k': {}}}",
    "if {}:\n    pass", "y = lambda: {}", "y = a if {} else b", "y = {} == b", "y = not {}", "assert {}",
    "for i in {}:\n    pass", "y = x[{}:{}]", "@{}\ndef g():\n    pass", "y = ({})", "y = [*{}]", "f(*{})",
    "with {} as c:\n    pass", "y = {} < b < {}", "del x[{}]", "print(f'{{{}}}')", "match {}:\n    case 1:\n        pass",
]


@st.composite
def chains(draw) -> str:
    length = draw(st.integers(2, 12))
    bracketed = draw(st.booleans())
    gaps = BRACKETED_GAPS if bracketed else GAPS
    ops = draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=3))
    parts = [draw(st.sampled_from(TERMS))]
    for _ in range(length - 1):
        parts += [draw(st.sampled_from(gaps)), draw(st.sampled_from(ops)), draw(st.sampled_from(gaps)),
                  draw(st.sampled_from(TERMS))]
    text = "".join(parts)
    return f"({text})" if bracketed else text


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(context=st.sampled_from(CONTEXTS), chain=chains(), other=chains())
@example(context="x = {}", chain="a + b - c * d + e", other="a")
@example(context="y = {} == b", chain="a | b + c | d", other="a")
@example(context="y = f({}, k={})", chain="(a +  # note\n    b\n    - c)", other="-a * b")
def test_flat_parse_builds_libcst_own_tree(monkeypatch, context: str, chain: str, other: str) -> None:
    monkeypatch.setattr(guard_tokens, "FLATTEN_MIN", 1)
    monkeypatch.setattr(guard, "SCAN_MIN", 0)
    monkeypatch.setattr(guard_tokens, "SCAN_MIN", 0)
    source = context.replace("{}", chain, 1).replace("{}", other) + "\n"
    scan = guard.scan(source)
    try:
        expected = cst.parse_module(source)
    except cst.ParserSyntaxError:
        expected = None
    if scan.refusal is not None or not scan.flat:
        return
    try:
        rebuilt = flat_parse.parse(source, scan.flat)
    except (cst.ParserSyntaxError, ValueError):
        return  # the engine then parses the file as written
    assert expected is not None, source
    assert rebuilt.deep_equals(expected), source
    assert rebuilt.code == source


def test_a_failed_flat_parse_falls_back_to_the_text_as_written(monkeypatch) -> None:
    monkeypatch.setattr(guard_tokens, "FLATTEN_MIN", 2)
    monkeypatch.setattr(guard, "SCAN_MIN", 0)
    monkeypatch.setattr(guard_tokens, "SCAN_MIN", 0)
    # `*` takes a bitwise-or operand in a list display: `[*a < b]` would not parse
    source = LOSS + "    return [*a + a + tf.reduce_mean(y_pred)]\n"
    assert guard.scan(source).flat
    direct = lint_source(source, "x.py", rules=RULES)
    assert [f.code for f in direct] == [], direct


# -- the deep-stack thread ----------------------------------------------------------------------------

def test_the_recursion_limit_is_restored_and_errors_reach_the_caller() -> None:
    before = sys.getrecursionlimit()
    assert lint_source(BUGGY, "x.py", rules=RULES)
    assert sys.getrecursionlimit() == before

    def boom() -> None:
        raise KeyError("from the lint thread")

    with pytest.raises(KeyError, match="from the lint thread"):
        engine.run_deep(boom)
    assert sys.getrecursionlimit() == before


def test_a_rule_crash_on_a_deep_tree_is_described_without_recursing() -> None:
    class Deep(Exception):
        def __str__(self) -> str:
            raise RecursionError("maximum recursion depth exceeded")

    assert engine._describe(Deep()) == "Deep"
    assert engine._describe(ValueError("x" * 1000)).endswith("...")


def test_the_first_and_last_lines_of_a_refused_statement_are_reported_where_they_are() -> None:
    source = BUGGY + "\n\nDATA = [" + "1.0, " * 240_000 + "]\n"
    (finding,) = lint_source(source, "x.py", rules=RULES)
    assert (finding.code, finding.line, finding.column) == ("LCK996", 8, 1)
    assert textwrap.shorten(finding.message, 60).startswith("not checked: a logical line of 1.2 MB")


def test_string_literals_do_not_count_towards_a_statements_size() -> None:
    """A 3 MB string is one node to the parser: the file is linted, not refused."""
    source = BUGGY + '\nBLOB = """' + "QUJD" * 750_000 + '"""\n'
    assert [f.code for f in lint_source(source, "x.py", rules=RULES)] == ["LCK101"]


def test_a_bracket_never_closed_is_a_syntax_error_not_a_huge_statement() -> None:
    source = BUGGY + "\nDATA = (1,\n" + "[" + "1, " * 400_000 + "]\n"
    (finding,) = lint_source(source, "x.py", rules=RULES)
    with pytest.raises(SyntaxError) as python:
        compile(source, "x.py", "exec", dont_inherit=True)
    assert finding.code == "LCK999" and python.value.msg in finding.message
    assert (finding.line, finding.column) == (python.value.lineno, python.value.offset)

