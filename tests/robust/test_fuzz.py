"""Robustness: generated Python programs and mutated loss functions never crash the linter.

losscheck never crashes: whatever text a file holds, the linter reports findings
or a diagnostic for that file (LCK999 for a syntax error), never a traceback and never an
internal error (LCK997). Three sources of input:

- ``loss_programs()``: our own grammar-ish strategy of *loss-shaped* code (y_true/y_pred, tf /
  keras.ops / keras.backend / NumPy calls, subscripts, lambdas, Loss subclasses, factories,
  comprehensions, decorators, async, walrus, match, compile calls). These go deep into the rules,
  which is where crashes hide; generic random Python rarely looks like a loss.
- hypothesmith's ``from_node()``: arbitrary syntactically valid Python built from libcst nodes.
- ``mutated()``: real loss modules with lines deleted, duplicated, swapped, re-indented, cut, or
  single tokens replaced: the half-edited files an editor or pre-commit hook sees.

Each program goes through the public Python API (``lint_source`` with every built-in rule) and,
in batches, through the real CLI in a subprocess with ``--format json``.
"""

from __future__ import annotations

import functools

import ast
import io
import json
import os
import subprocess
import sys
import tokenize
import warnings
from pathlib import Path

import hypothesmith
import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
from loss_programs import loss_programs

REPO = Path(__file__).resolve().parents[2]
SEED_FILES = [
    REPO / "benchmarks" / "data" / "loss_module_300.py",
    *sorted((REPO / "examples").rglob("*.py")),
]
INTERNAL_ERROR = "LCK997"
SYNTAX_ERROR = "LCK999"

FUZZ = settings(
    max_examples=int(os.environ.get("LOSSCHECK_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --------------------------------------------------------------------------------------------
# Mutations of real loss modules
# --------------------------------------------------------------------------------------------
def _seed_blocks() -> tuple[list[str], list[str]]:
    """The seed files cut into their imports and their other top-level statements (functions,
    classes, compile calls): a mutated program is a few blocks, not a whole 300-line module, so
    each example is cheap and the mutations land in loss code."""
    imports: list[str] = []
    blocks: list[str] = []
    for path in SEED_FILES:
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            segment = ast.get_source_segment(source, node, padded=True) or ""
            decorators = "".join(f"@{ast.get_source_segment(source, d)}\n" for d in getattr(node, "decorator_list", []))
            (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else blocks).append(decorators + segment)
    return sorted(set(imports)), blocks


SEED_IMPORTS, SEED_BLOCKS = _seed_blocks()


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []


REPLACEMENTS = ["y_true", "y_pred", "0", "-1", "axis=0", "(", ")", "[", "]", ":", ",", "lambda", "def", "return",
                "tf.reduce_mean", "np.mean", "K.mean", "\n", "    ", "'", '"""', "\\", "async", "await", "yield",
                "*", "**", "=", ":=", "", "class", "None", "y_true[0]", "if", "else", "@", "match", "case"]


@st.composite
def mutated(draw) -> str:
    header = draw(st.lists(st.sampled_from(SEED_IMPORTS), max_size=4, unique=True))
    body = draw(st.lists(st.sampled_from(SEED_BLOCKS), min_size=1, max_size=4))
    source = "\n".join(header) + "\n\n" + "\n\n".join(body) + "\n"
    for _ in range(draw(st.integers(1, 4))):
        lines = source.splitlines(keepends=True)
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "truncate", "token", "char"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = "    " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip(" ")
        elif op == "truncate":
            offset = draw(st.integers(0, len(source)))
            lines = [source[:offset]]
        elif op == "token":
            toks = _tokens(source)
            if toks:
                tok = draw(st.sampled_from(toks))
                row, col = tok.start
                end_row, end_col = tok.end
                if row == end_row and row - 1 < len(lines):
                    line = lines[row - 1]
                    lines[row - 1] = line[:col] + draw(st.sampled_from(REPLACEMENTS)) + line[end_col:]
        else:  # insert one arbitrary character, including control and non-ASCII ones
            ch = draw(st.characters(codec="utf-8", exclude_categories=["Cs"]))
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + ch + lines[i][pos:]
        source = "".join(lines)
    return source


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------
ALL_RULES = load_registry(plugins=False).rules


def _python_parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def _libcst_rejects(source: str) -> bool:
    try:
        cst.parse_module(source)
    except Exception:
        return True
    return False


def check_api(source: str) -> None:
    """The Python API (``lint_source`` with every built-in rule): never raises; no LCK997; LCK999
    exactly when libcst cannot parse the file; every finding has a sane range."""
    findings = lint_source(source, "fuzz.py", rules=ALL_RULES)
    codes = {f.code for f in findings}
    assert INTERNAL_ERROR not in codes, [f for f in findings if f.code == INTERNAL_ERROR]
    if "ignore-file" not in source:
        assert (SYNTAX_ERROR in codes) == _libcst_rejects(source), findings
    lines = source.count("\n") + 2
    for f in findings:
        assert 1 <= f.line <= f.end_line <= lines, f
        assert f.column >= 1 and (f.end_line, f.end_column) >= (f.line, f.column), f


@functools.lru_cache(maxsize=1)
def _default_prefilter():
    from losscheck.lint.prefilter import Prefilter
    from losscheck.lint.registry import load_registry

    return Prefilter([r for r in load_registry().rules if r.default_enabled])


def run_cli(paths: list[Path], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--no-cache", "--format", "json", *extra, *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )


def check_cli_batch(tmp_path: Path, sources: list[str]) -> None:
    """The real CLI on a folder of files: exit 0/1/2, JSON on stdout, no traceback, no LCK997, no
    LCK999 on a file CPython parses, LCK999 on a loss-like file libcst cannot parse."""
    paths = []
    for n, source in enumerate(sources):
        path = tmp_path / f"prog_{n:03d}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(path)
    proc = run_cli([tmp_path])
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1, 2), (proc.returncode, proc.stderr)
    records = json.loads(proc.stdout)
    assert not [r for r in records if r["code"] == INTERNAL_ERROR], proc.stdout
    bad_syntax = {Path(r["path"]).name for r in records if r["code"] == SYNTAX_ERROR}
    for path, source in zip(paths, sources):
        if _python_parses(source):
            # libcst and CPython agree on every program these strategies produce that CPython accepts
            assert path.name not in bad_syntax, source
        elif _libcst_rejects(source):
            # The pre-filter skips files that cannot hold loss code without parsing them (so a
            # syntax error there goes unreported, by design, as the docs say); a file it lets
            # through is parsed, and the syntax error is reported.
            assert (path.name in bad_syntax) == _default_prefilter().wants(source.encode("utf-8")), source
    if bad_syntax:
        assert proc.returncode == 2


# -- Python API ----------------------------------------------------------------------------
@FUZZ
@given(loss_programs())
def test_generated_loss_programs_api(source: str) -> None:
    check_api(source)


@settings(FUZZ, max_examples=max(FUZZ.max_examples // 3, 10))
@given(hypothesmith.from_node())
def test_hypothesmith_programs_api(source: str) -> None:
    check_api(source)


@FUZZ
@given(mutated())
def test_mutated_loss_modules_api(source: str) -> None:
    check_api(source)


def test_generated_programs_reach_the_rules() -> None:
    """Guard against a strategy that only produces code no rule looks at: a fixed, hand-picked
    loss-shaped program of the same grammar must draw findings (so the fuzz exercises rules)."""
    source = "\n".join([
        "import tensorflow as tf", "", "def loss(y_true, y_pred):",
        "    return tf.reduce_mean(tf.square(y_true - y_pred))", "",
    ])
    assert [f.code for f in lint_source(source, "f.py", rules=ALL_RULES)], "no rule fired on a batch-mean loss"


# -- the CLI, in batches (one subprocess per batch keeps this fast) ------------------------
@settings(FUZZ, max_examples=4)
@given(st.lists(loss_programs(), min_size=15, max_size=15))
def test_generated_loss_programs_cli(tmp_path_factory, sources: list[str]) -> None:
    check_cli_batch(tmp_path_factory.mktemp("gen"), sources)


@settings(FUZZ, max_examples=4)
@given(st.lists(mutated(), min_size=15, max_size=15))
def test_mutated_loss_modules_cli(tmp_path_factory, sources: list[str]) -> None:
    check_cli_batch(tmp_path_factory.mktemp("mut"), sources)


@settings(FUZZ, max_examples=4)
@given(hypothesmith.from_node())  # one program per example: hypothesmith records a target per draw
def test_hypothesmith_programs_cli(tmp_path_factory, source: str) -> None:
    check_cli_batch(tmp_path_factory.mktemp("hsm"), [source])


# -- bytes that are not text --------------------------------------------------------------
@settings(FUZZ, max_examples=3)
@given(st.lists(st.binary(max_size=300), min_size=8, max_size=8))
def test_random_bytes_cli(tmp_path_factory, blobs: list[bytes]) -> None:
    """Undecodable or binary files: a diagnostic for that file (LCK998/LCK999), never a crash."""
    folder = tmp_path_factory.mktemp("bin")
    for n, blob in enumerate(blobs):
        (folder / f"blob_{n}.py").write_bytes(blob)
    proc = run_cli([folder])
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1, 2)
    records = json.loads(proc.stdout)
    assert not [r for r in records if r["code"] == INTERNAL_ERROR]


def test_missing_path_and_fixed_bad_files(tmp_path: Path) -> None:
    """Deterministic corner cases next to the random ones: each gets its own diagnostic, the good
    file is still linted, and the run exits 2."""
    cases = {
        "latin1.py": "x = 'caf\xe9'\n".encode("latin-1"),
        "nul.py": b"x = 1\x00\n",
        "bom.py": b"\xef\xbb\xbfimport tensorflow as tf\n",
        "cr_only.py": b"import tensorflow as tf\rdef loss(y_true, y_pred):\r    return tf.reduce_mean(y_pred)\r",
        "tabs_mixed.py": b"def loss(y_true, y_pred):\n\tif y_true:\n        return y_pred\n",
        "deep.py": ("x = " + "(" * 200 + "1" + ")" * 200 + "\n").encode(),
        "empty.py": b"",
        "good.py": b"import tensorflow as tf\n\ndef loss(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    proc = run_cli([tmp_path, tmp_path / "does_not_exist.py"])
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    records = json.loads(proc.stdout)
    assert not [r for r in records if r["code"] == INTERNAL_ERROR], records
    by_file: dict[str, set[str]] = {}
    for r in records:
        by_file.setdefault(Path(r["path"]).name, set()).add(r["code"])
    assert by_file.get("latin1.py") == {"LCK998"}, by_file
    assert "LCK101" in by_file.get("good.py", set()), by_file
    assert "does_not_exist.py" in proc.stderr + proc.stdout
