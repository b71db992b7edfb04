"""Re-parsing only the changed statements gives the tree a whole parse gives."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from hypothesis import example, given, settings
from hypothesis import strategies as st

from losscheck.lint.incremental_parse import DocumentTrees

ROOT = Path(__file__).resolve().parents[2]
MODULE = (ROOT / "benchmarks" / "data" / "loss_module_300.py").read_text(encoding="utf-8")
LINES = MODULE.splitlines(keepends=True)

# What people type: code, comments (indented or not), blank and whitespace lines, broken code.
SNIPPETS = [
    "    x = 1\n", "    return y_pred\n", "# a note\n", "    # an indented note\n", "\n", "    \n",
    "def extra(y_true, y_pred):\n    return y_pred\n", "x = (\n", ")\n", "    if y_pred is None:\n",
    "        pass\n", "\tpass\n", "class K:\n    pass\n", "'''\n", "@decorator\n",
]


def whole(source: str) -> cst.Module | None:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError:
        return None


def check(trees: DocumentTrees, source: str) -> None:
    expected = whole(source)
    try:
        got = trees.parse("doc.py", source)
    except cst.ParserSyntaxError:
        assert expected is None
        return
    assert expected is not None
    assert got.code == source
    assert got.deep_equals(expected)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(LINES)), st.integers(0, 3), st.sampled_from(SNIPPETS)),
                min_size=1, max_size=4))
@example([(51, 2, "        pass\n")])  # a body indented deeper than the document's default
def test_edits_give_the_whole_parse(edits: list[tuple[int, int, str]]) -> None:
    trees = DocumentTrees()
    lines = list(LINES)
    check(trees, "".join(lines))
    for at, removed, text in edits:
        at = min(at, len(lines))
        lines[at:at + removed] = [text]
        check(trees, "".join(lines))


def test_an_edit_inside_a_function_reuses_the_other_statements() -> None:
    trees = DocumentTrees()
    first = trees.parse("doc.py", MODULE)
    at = MODULE.index("def lesion_loss")
    edited = MODULE[:at] + "# a note\n" + MODULE[at:]
    second = trees.parse("doc.py", edited)
    assert trees.reused == 1
    assert second.deep_equals(cst.parse_module(edited))
    assert second.body[0] is first.body[0] and second.body[-1] is first.body[-1]


def test_the_first_statement_is_parsed_whole() -> None:
    trees = DocumentTrees()
    trees.parse("doc.py", MODULE)
    trees.parse("doc.py", "# licence\n" + MODULE)
    assert trees.reused == 0


def test_the_engine_finds_the_same_with_remembered_trees() -> None:
    from losscheck.lint import incremental_parse
    from losscheck.lint.engine import lint_source
    from losscheck.lint.registry import builtin_rules

    rules = builtin_rules()
    starts = [i for i, line in enumerate(LINES) if line.startswith("def ")]
    versions = []
    for n, at in enumerate(starts[1:8]):  # an edit in each of several functions, one after the other
        lines = list(LINES)
        lines[at - 1:at - 1] = [f"    # edit {n}\n", "    y = 1\n" if n % 2 else "\n"]
        versions.append("".join(lines))
    expected = [lint_source(v, "doc.py", rules=rules) for v in versions]
    trees = incremental_parse.remember_documents()
    try:
        got = [lint_source(v, "doc.py", rules=rules) for v in versions]
        assert trees.reused >= len(versions) - 1
    finally:
        incremental_parse.stop_remembering()
    assert got == expected


def test_the_syntax_index_by_statement_is_the_whole_walk() -> None:
    from losscheck.lint import incremental_parse
    from losscheck.lint.context import FileContext
    from losscheck.lint.syntax_index import SyntaxIndex, syntax_index

    fields = ("order", "functions", "where", "methods", "inner", "by_name", "classes", "compile_calls",
              "direct_calls", "assigns", "extends")
    trees = incremental_parse.remember_documents()
    try:
        for n, at in enumerate([i for i, line in enumerate(LINES) if line.startswith("def ")][:5]):
            lines = list(LINES)
            lines[at:at] = [f"def added_{n}(y_true, y_pred):\n", "    return y_pred\n", "\n", "\n"]
            source = "".join(lines)
            module = trees.parse("doc.py", source)
            by_statement = syntax_index(FileContext("doc.py", source, module))
            whole = SyntaxIndex()
            whole.run(module)
            for name in fields:
                assert getattr(by_statement, name) == getattr(whole, name), name
                assert list(getattr(by_statement, name)) == list(getattr(whole, name)), name  # same order
    finally:
        incremental_parse.stop_remembering()
