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

REPO = Path(__file__).resolve().parent.parent
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
# A grammar-ish strategy of loss-shaped Python
# --------------------------------------------------------------------------------------------
IMPORTS = [
    "import tensorflow as tf",
    "import keras",
    "from keras import ops",
    "import keras.backend as K",
    "from tensorflow.keras import backend as K",
    "import numpy as np",
    "from tensorflow import keras",
    "from keras import losses as L",
    "import tensorflow.keras.backend as KB",
    "from keras.ops import mean, sum as ksum",
    "from tensorflow.math import reduce_mean",
    "from keras.losses import Loss",
    "from . import helpers",
    "from .helpers import *",
]
TENSOR_NAMES = ["y_true", "y_pred", "mask", "w", "x", "probs", "err", "self.alpha", "num_classes"]
FUNCS = [
    "tf.reduce_mean", "tf.reduce_sum", "tf.math.reduce_max", "tf.reduce_min", "tf.nn.softmax",
    "tf.argmax", "tf.concat", "tf.gather", "tf.one_hot", "tf.where", "tf.cast", "tf.square",
    "tf.stack", "tf.expand_dims", "tf.squeeze", "tf.reshape", "tf.transpose", "tf.matmul",
    "tf.clip_by_value", "tf.math.log", "tf.boolean_mask", "tf.py_function", "tf.numpy_function",
    "tf.shape", "tf.size", "tf.math.divide_no_nan", "tf.keras.losses.binary_crossentropy",
    "ops.mean", "ops.sum", "ops.max", "ops.softmax", "ops.argmax", "ops.take", "ops.concatenate",
    "ops.where", "ops.cast", "ops.one_hot", "ops.log", "ops.clip", "ops.abs", "ops.square",
    "ops.maximum", "keras.ops.mean", "keras.ops.sum", "keras.losses.categorical_crossentropy",
    "keras.losses.binary_crossentropy", "keras.losses.BinaryCrossentropy()",
    "keras.losses.MeanSquaredError(reduction='none')", "L.mse", "K.mean", "K.sum",
    "K.binary_crossentropy", "K.categorical_crossentropy", "K.epsilon", "K.clip", "KB.mean",
    "np.mean", "np.average", "np.sum", "np.array", "np.asarray", "np.where", "mean", "ksum",
    "reduce_mean", "helpers.masked_mean", "len", "float", "int", "print", "range", "zip",
    "getattr", "super().call", "self.loss_fn", "loss_fn", "fn",
]
AXES = ["0", "-1", "1", "[1, 2]", "[1, 2, 3]", "(0, 1)", "None", "axis", "-2", "i", "[0]"]
SUBSCRIPTS = [
    "0", "i", "-1", ":, 0", ":, :1", "..., 0", "..., 1:3", "..., -1:", ":, 0:4", "'seg'",
    "\"cls\"", "None, :", ":, None", "::2", "..., ::-1", "tf.newaxis", "k", "0, 0", ":, i",
    "..., i:i + 2",
]
NUMBERS = ["0", "1", "2", "1.0", "0.5", "1e-7", "-1", "255", "0.0", "3j", "True", "None", "10**-7"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "@", "&", "|"]
COMPARES = [">", "<", "==", "!=", ">=", "is", "is not", "in"]


@st.composite
def expressions(draw, depth: int = 0) -> str:
    """A random expression over tensor-ish names; deeper levels favour leaves."""
    leaf = st.one_of(
        st.sampled_from(TENSOR_NAMES),
        st.sampled_from(NUMBERS),
        st.sampled_from(["'seg'", "\"cls\"", "f'{x}'", "b'raw'", "[]", "()", "{}", "..."]),
    )
    if depth >= 3:
        return draw(leaf)
    sub = expressions(depth=depth + 1)
    kind = draw(st.integers(0, 15))
    if kind <= 2:
        return draw(leaf)
    if kind == 3:  # a call, with positional args and maybe axis/keepdims/from_logits
        func = draw(st.sampled_from(FUNCS))
        args = draw(st.lists(sub, max_size=3))
        kwargs = []
        if draw(st.booleans()):
            kwargs.append(f"axis={draw(st.sampled_from(AXES))}")
        if draw(st.integers(0, 4)) == 0:
            kwargs.append(f"keepdims={draw(st.sampled_from(['True', 'False']))}")
        if draw(st.integers(0, 5)) == 0:
            kwargs.append("from_logits=True")
        if draw(st.integers(0, 8)) == 0:
            kwargs.append("**kw")
        if draw(st.integers(0, 8)) == 0:
            args.append("*xs")
        return f"{func}({', '.join(args + kwargs)})"
    if kind == 4:
        return f"{draw(sub)}[{draw(st.sampled_from(SUBSCRIPTS))}]"
    if kind == 5:
        return f"({draw(sub)} {draw(st.sampled_from(BINOPS))} {draw(sub)})"
    if kind == 6:
        return f"({draw(sub)} {draw(st.sampled_from(COMPARES))} {draw(sub)})"
    if kind == 7:
        params = draw(st.sampled_from(["y_true, y_pred", "yt, yp", "t, p=None", "*a, **k", ""]))
        return f"(lambda {params}: {draw(sub)})"
    if kind == 8:
        comp = draw(st.sampled_from(["[{e} for i in range(3)]", "{{k: {e} for k in ('a', 'b')}}",
                                     "({e} for y in y_true)", "{{{e} for j in x if j}}"]))
        return comp.format(e=draw(sub))
    if kind == 9:
        return f"(z := {draw(sub)})"
    if kind == 10:
        return f"({draw(sub)} if {draw(sub)} else {draw(sub)})"
    if kind == 11:
        return f"({draw(sub)}).{draw(st.sampled_from(['numpy()', 'shape', 'dtype', 'shape[-1]', 'T', 'ndim']))}"
    if kind == 12:
        return f"({draw(st.sampled_from(['-', 'not ', '~', '+']))}{draw(sub)})"
    if kind == 13:
        return f"[{', '.join(draw(st.lists(sub, max_size=3)))}]"
    if kind == 14:
        key = draw(st.sampled_from(['"seg"', '"cls"', "k"]))
        return "{" + key + ": " + draw(sub) + "}"
    return f"({draw(sub)})({draw(sub)})"  # calling an arbitrary expression


def indent(lines: list[str], by: int = 1) -> list[str]:
    return [("    " * by + line) if line else line for line in lines]


@st.composite
def statements(draw, depth: int = 0, in_async: bool = False) -> list[str]:
    """One statement (possibly compound) as a list of lines, relative indentation 0."""
    expr = expressions()
    target = st.sampled_from(["x", "mask", "w", "probs", "err", "y_true", "y_pred", "self.alpha", "x[0]",
                              "a, b", "(c, *d)"])
    kind = draw(st.integers(0, 17 if depth < 2 else 8))
    if kind <= 2:
        return [f"{draw(target)} = {draw(expr)}"]
    if kind == 3:
        return [f"return {draw(expr)}"]
    if kind == 4:
        return [f"{draw(st.sampled_from(['x', 'err', 'w']))} {draw(st.sampled_from(['+=', '*=', '/=', '-=']))} {draw(expr)}"]
    if kind == 5:
        annotation = draw(st.sampled_from(["tf.Tensor", 'Float[Tensor, "b h w 2"]', "int"]))
        return [f"x: {annotation} = {draw(expr)}"]
    if kind == 6:
        return [draw(expr)]
    if kind == 7:  # the comments are statements followed by `pass`, so a block never holds only a comment
        return [draw(st.sampled_from(["pass", "del x", "assert y_true is not None", "raise ValueError('bad')",
                                      "global num_classes", "# y_true shape: (batch_size, 64, 64, 2)",
                                      "# losscheck: output=seg", "x = 1  # noqa: LCK101",
                                      "y = y_pred  # losscheck: ignore[wrong-axis]"])), "pass"]
    if kind == 8 and in_async:
        return [f"x = await ({draw(expr)})"]
    if kind == 8:
        return [f"return {draw(expr)}, {draw(expr)}"]
    body = st.lists(statements(depth=depth + 1, in_async=in_async), min_size=1, max_size=3)

    def block() -> list[str]:
        return indent([line for stmt in draw(body) for line in stmt])

    if kind == 9:
        lines = [f"if {draw(expr)}:", *block()]
        if draw(st.booleans()):
            lines += ["else:", *block()]
        return lines
    if kind == 10:
        loop = draw(st.sampled_from(["for i in range(3):", "for k, v in y_true.items():", "for t in y_pred:",
                                     "while x:", "async for t in y_pred:" if in_async else "for t in zip(y_true, y_pred):"]))
        return [loop, *block()]
    if kind == 11:
        return [draw(st.sampled_from(["with tf.GradientTape() as tape:", "with tf.name_scope('loss'):",
                                      "async with ctx:" if in_async else "with ctx as (a, b):"])), *block()]
    if kind == 12:
        return ["try:", *block(), "except (ValueError, TypeError) as e:", *block(), "finally:", *indent(["pass"])]
    if kind == 13:
        subject = draw(expr)
        return [f"match {subject}:", *indent(["case [a, b, *rest]:", *block(), "case {'seg': s}:", *block(),
                                               "case tf.Tensor(shape=s) if s:", *block(), "case _:", *block()])]
    if kind in (14, 15):
        return draw(functions(depth=depth + 1))
    if kind == 16:
        return draw(classes(depth=depth + 1))
    return [f"{draw(st.sampled_from(['model', 'm', 'self.model']))}.compile({draw(compile_args())})"]


@st.composite
def functions(draw, depth: int = 0) -> list[str]:
    is_async = draw(st.integers(0, 6)) == 0
    name = draw(st.sampled_from(["loss", "seg_loss", "my_loss", "dice", "call", "metric", "inner", "f"]))
    params = draw(st.sampled_from([
        "y_true, y_pred", "y_true, y_pred, sample_weight=None", "yt, yp", "labels, logits", "target, output",
        "self, y_true, y_pred", "y_true: tf.Tensor, y_pred: 'Float[Tensor, \"b 3\"]'", "*args, **kwargs",
        "y_true, y_pred, /, *, axis=-1", "gamma=2.0", "",
    ]))
    decorators = draw(st.lists(st.sampled_from([
        "@tf.function", "@tf.function(jit_compile=True)", "@keras.saving.register_keras_serializable()",
        "@staticmethod", "@functools.wraps(f)", "@decorator", "@(lambda f: f)",
    ]), max_size=2))
    body = draw(st.lists(statements(depth=depth, in_async=is_async), min_size=1, max_size=5))
    if draw(st.integers(0, 3)) == 0:  # a factory returning a closure
        inner = draw(functions(depth=depth + 2)) if depth < 2 else ["def inner(y_true, y_pred):", "    return y_pred"]
        body.append(inner + ["return inner"])
    lines = [*decorators, f"{'async ' if is_async else ''}def {name}({params}):"]
    if draw(st.booleans()):
        lines.append('    """Docstring."""')
    lines += indent([line for stmt in body for line in stmt])
    return lines


@st.composite
def classes(draw, depth: int = 0) -> list[str]:
    base = draw(st.sampled_from(["keras.losses.Loss", "tf.keras.losses.Loss", "Loss", "L.Loss", "object",
                                 "keras.metrics.Metric", "keras.layers.Layer", "Base, metaclass=Meta"]))
    name = draw(st.sampled_from(["DiceLoss", "FocalLoss", "MyMetric", "Thing"]))
    methods = draw(st.lists(functions(depth=depth + 1), min_size=1, max_size=3))
    body = [line for method in methods for line in method]
    if draw(st.booleans()):
        body = ["alpha = 0.25", *body]
    return [f"class {name}({base}):", *indent(body)]


@st.composite
def compile_args(draw) -> str:
    loss = draw(st.one_of(
        st.sampled_from(["loss", "seg_loss", "'mse'", "DiceLoss()", "my_loss(2.0)", "[seg_loss, dice]",
                         "{'seg': seg_loss, 'cls': dice}", "{'seg': [loss, dice]}", "None"]),
        expressions(depth=2),
        st.just("lambda y_true, y_pred: tf.reduce_mean(y_true - y_pred)"),
    ))
    extra = draw(st.sampled_from(["", ", metrics=[metric]", ", metrics={'seg': [loss]}", ", loss_weights=[1, 2]",
                                  ", optimizer='adam'", ", **cfg"]))
    return f"loss={loss}{extra}"


@st.composite
def loss_programs(draw) -> str:
    lines = draw(st.lists(st.sampled_from(IMPORTS), max_size=5, unique=True))
    parts = draw(st.lists(st.one_of(
        functions(),
        classes(),
        st.builds(lambda a: [f"model.compile({a})"], compile_args()),
        st.just(["model = keras.Sequential([keras.layers.Dense(2)])",
                 "model.compile(loss=[loss, loss])", "model.fit(x, [y1, y2])"]),
        st.just(["inputs = keras.Input((8,))", "features = keras.layers.Dense(4)(inputs)"]),
        st.builds(lambda s: s, statements()),
    ), min_size=1, max_size=5))
    for part in parts:
        lines += [""] + part
    return "\n".join(lines) + "\n"


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
