"""Large files cost time and memory in proportion to their size.

- Positions are computed for the statement that holds a reported node (``lint/positions.py``),
  not for every node of the file as libcst's ``PositionProvider`` does, and they are the very
  ranges ``PositionProvider`` gives (checked here on every node of many modules).
- Findings are deduplicated in linear time.
- A file over 400 KB is linted in pieces, so a 0.6 MB module stays far below the ~0.5 GB its
  whole tree needs; a statement too large to parse (1.2 MB on one line) is refused before
  anything is parsed, in a few MB.

benchmarks/large_inputs.py measures the same at full size (``--scaling``: 10 KB to 1 MB).
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
import time
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from libcst.metadata import MetadataWrapper, PositionProvider

from loss_programs import loss_programs
from losscheck.lint.astutil import walk
from losscheck.lint.context import FileContext
from losscheck.lint.engine import run_rules
from losscheck.lint.registry import load_registry
from losscheck.lint.rule import Rule

REPO = Path(__file__).resolve().parents[2]
BUILTIN = load_registry(plugins=False).rules
needs_time = pytest.mark.skipif(not shutil.which("time") and not Path("/usr/bin/time").exists(),
                                reason="GNU time (Debian package `time`) measures the peak RSS")


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("losscheck_bench_large_scaling", REPO / "benchmarks" / "large_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- positions ----------------------------------------------------------------------------------------

def _check_positions(source: str, seed: int = 0) -> None:
    """Every node's position, asked in random order, is PositionProvider's."""
    module = cst.parse_module(source)
    truth = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ctx = FileContext(path="x.py", source=source, module=module)
    nodes = [n for n in walk(module, into_nested=True) if type(n) is not cst.Module]
    random.Random(seed).shuffle(nodes)
    for node in nodes:
        assert ctx.position(node) == truth[node], (type(node).__name__, source)
    assert not ctx._locator._whole, "a statement's layout was not understood: fell back to the whole module"
    for node, where in truth.items():  # brackets, commas, whitespace: found in the statements generated
        assert ctx.position(node) == where


LAYOUTS = {
    "decorators, comments, clauses": (
        "import os\n\n\n# comment\n@dec  # c\n# between\n@dec2(\n  1)\n\ndef f(x):  # h\n    '''doc'''\n"
        "    if x: return 1\n    elif x > 2:\n        pass\n    # before else\n    else:\n        y = 1; z = 2\n"
        "        # footer\n    # dedented\n    return x\n\nclass A:\n    def g(self):\n        try:\n            pass\n"
        "        except E as e:\n            raise\n        else:\n            pass\n        finally:\n"
        "            x = \\\n                1\n\n        async def h():\n            async with a as b, c:\n"
        "                await b\n            async for i in x:\n                pass\n            else:\n"
        "                pass\n"
    ),
    "match": "match x:\n    case [a, *rest]:\n        pass\n    # c\n    case {'k': v, **kw} if v:\n        y = v\n"
             "    case _:\n        pass\nwhile x:\n    break\nelse:\n    pass\n",
    "crlf": "def f(y_true, y_pred):\r\n    a = 1\r\n    if a:\r\n        return a\r\n\r\n# c\r\nx = 1\r\n",
    "cr": "x = 1\rdef f(a):\r    return a\r",
    "tabs": "def f(a):\n\tif a:\n\t\treturn a\n\telse:\n\t    return 2\n",
    "no final newline": "def f(a):\n    return a",
    "form feed": "x = 1\n\x0c\ndef f(a):\n    return a\n",
    "whitespace-only lines": "def f(a):\n    x = 1\n    \n    return x\n   \n",
    "semicolons and one-line bodies": "import a; import b\ndef f(): return 1\nclass C: x = 1; y = 2\nif x: pass\nelse: y = 1\n",
    "decorated method": "class A:\n    @property\n    # c\n    @x.setter\n\n    def p(self):\n        return (1 +\n  2)\n",
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_positions_are_position_providers(name: str) -> None:
    _check_positions(LAYOUTS[name])


def test_positions_on_every_rule_example_and_example_module() -> None:
    sources = [case.code for rule in BUILTIN for case in (*rule.valid_examples(), *rule.invalid_examples())]
    sources += [p.read_text() for p in sorted((REPO / "examples" / "losses").glob("*.py"))]
    sources += [p.read_text() for p in sorted((REPO / "benchmarks" / "data").glob("*.py"))]
    for i, source in enumerate(sources):
        _check_positions(source, seed=i)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(source=loss_programs())
def test_positions_on_generated_loss_modules(source: str) -> None:
    try:
        cst.parse_module(source)
    except cst.ParserSyntaxError:
        return
    _check_positions(source)


def test_only_the_reported_statement_is_generated() -> None:
    source = "".join(f"def f{i}(y_true, y_pred):\n    return y_pred * {i}\n\n" for i in range(2000))
    module = cst.parse_module(source)
    ctx = FileContext(path="x.py", source=source, module=module)
    last = module.body[-1].body.body[0].body[0].value  # `y_pred * 1999`
    where = ctx.position(last)
    assert (where.start.line, where.start.column) == (3 * 2000 - 1, 11)
    assert len(ctx._locator.known) < 20  # the one `return` line, not the file's ~20,000 nodes


# -- deduplication -------------------------------------------------------------------------------------

class _Many(Rule):
    code = "LCK990"
    name = "many"
    summary = "reports every name, twice"

    def check(self, ctx):
        names = [n for n in walk(ctx.module) if isinstance(n, cst.Name)]
        for node in names:
            ctx.report(self, node, "a name")
        return ctx.findings[-len(names):]  # the same findings again: reported once


def test_findings_are_deduplicated_in_linear_time() -> None:
    source = "".join(f"x{i} = 1\n" for i in range(6000))
    ctx = FileContext(path="x.py", source=source, module=cst.parse_module(source))
    start = time.process_time()
    found = run_rules(ctx, [_Many])
    spent = time.process_time() - start
    assert [f.line for f in found] == list(range(1, 6001))
    assert spent < 5, f"{spent:.1f} s for 6,000 findings"  # quadratic: ~20 s


# -- memory ---------------------------------------------------------------------------------------------

@needs_time
@pytest.mark.slow
def test_a_06_mb_loss_module_stays_under_400_mb(tmp_path: Path) -> None:
    large = _load_benchmark()
    path = tmp_path / "losses.py"
    shape = large.make_python_file(path, 0.6)
    run = large.measure("lint", [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json",
                                 str(path)], timeout=900)
    assert run.returncode == 1, run.stderr_tail
    assert run.findings is not None and run.findings >= 3 * shape["blocks"], (run.findings, shape)
    assert run.max_rss_mb < 400, f"peak RSS {run.max_rss_mb:.0f} MB for a {shape['bytes']:,}-byte file"


@needs_time
def test_a_statement_too_large_to_parse_is_refused_in_little_memory(tmp_path: Path) -> None:
    large = _load_benchmark()
    path = tmp_path / "data.py"
    path.write_text("import tensorflow as tf\n\n\ndef loss(y_true, y_pred):\n    return tf.reduce_mean(y_pred)\n\n\n"
                    "DATA = [" + "0.123456, " * 120_000 + "]\n")
    run = large.measure("lint", [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json",
                                 str(path)], timeout=300)
    assert run.returncode == 2, run.stderr_tail
    assert "Traceback" not in run.stderr_tail
    assert run.findings == 1
    assert run.max_rss_mb < 150, f"peak RSS {run.max_rss_mb:.0f} MB to refuse a 1.2 MB statement"
