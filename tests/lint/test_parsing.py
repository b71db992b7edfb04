"""The parser without node validation: the same trees, and validation back on afterwards."""

from __future__ import annotations

import threading
from pathlib import Path

import libcst as cst
import pytest

from losscheck.lint.parsing import parse_module

HERE = Path(__file__).resolve().parent
SOURCES = [HERE.parent.parent / "benchmarks" / "data" / "loss_module_300.py", Path(cst.__file__)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_the_same_tree_as_libcst(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    tree = parse_module(source)
    assert tree.code == source
    assert tree.deep_equals(cst.parse_module(source))


def test_validation_is_back_on_after_a_parse() -> None:
    parse_module("x = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")  # an empty name: libcst refuses it when built by hand


def test_validation_is_back_on_after_a_syntax_error() -> None:
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def (:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")


def test_parsers_in_several_threads() -> None:
    source = SOURCES[0].read_text(encoding="utf-8")
    results: list[bool] = []

    def work() -> None:
        for _ in range(3):
            results.append(parse_module(source).code == source)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 12
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")


def test_valid_python_that_libcst_refuses_is_not_called_a_syntax_error() -> None:
    from losscheck.lint.engine import lint_source
    from losscheck.lint.registry import builtin_rules

    # a tab then spaces: the same column to Python (tab stops of 8), a dedent libcst cannot match
    source = "def f(y_true, y_pred):\n    if y_true is None:\n\t    return y_pred\n    return y_pred\n"
    compile(source, "tabs.py", "exec")
    (finding,) = lint_source(source, "tabs.py", rules=builtin_rules())
    assert finding.code == "LCK999"
    assert finding.message.startswith("not checked: Python accepts this file but libcst cannot parse it")
    assert "syntax error" not in finding.message
