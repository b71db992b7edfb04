"""Very large files are linted in chunks of top-level statements (lint/chunks.py).

The chunked path must report what the whole-file path reports, on the same lines: checked here
with a small chunk size so that ordinary test inputs are cut into many pieces. What it cannot
see (facts that span pieces) may only hide findings, never add one: a Hypothesis property.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, example, given, settings

from losscheck.lint import chunks, engine
from losscheck.lint.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
RULES = [r for r in load_registry(plugins=False).rules if getattr(r, "default_enabled", True)]


def _key(finding) -> tuple:
    return (finding.line, finding.column, finding.end_line, finding.end_column, finding.code, finding.message)


def _place(finding) -> tuple:
    return (finding.line, finding.column, finding.end_line, finding.end_column, finding.code)


def _lint(source: str, monkeypatch, *, chunked: bool, target: int = 1) -> list:
    monkeypatch.setattr(chunks, "CHUNK_THRESHOLD", 0 if chunked else 10**12)
    monkeypatch.setattr(chunks, "CHUNK_TARGET", target)
    return engine.lint_source(source, "big.py", rules=RULES)


# -- cutting ------------------------------------------------------------------------------------

def test_statements_keep_decorators_blocks_and_continuations_whole() -> None:
    source = textwrap.dedent('''\
        from __future__ import annotations
        import keras  # comment
        from keras import (ops,
            losses)

        @decorator
        @other(x=[1,
            2])
        def f(y_true, y_pred):  # a comment after the colon
            """doc
        def not_a_statement(): at column 0 inside a string"""
            return 1

        # between
        class A: pass
        x = {1:
          2}
        if x:
            y = 1
        elif x > 1:
            y = 3
        else:
            y = 2
        try:
            import a
        except ImportError:
            a = None
        finally:
            pass
        def g(): return 3
        ''')
    got = [(s.start, s.end, s.is_import) for s in chunks.top_level_statements(source)]
    assert got == [
        (1, 1, True), (2, 2, True), (3, 4, True),
        (6, 14, False),  # decorators, def, docstring with a column-0 "def", trailing blank/comment
        (15, 15, False), (16, 17, False),
        (18, 23, False),  # if / elif / else
        (24, 29, False),  # try / except / finally
        (30, 30, False),
    ]


STATEMENT_LAYOUTS = [
    "def f():\n    pass\n",
    "def f():\n    pass",  # no final line break
    "def f():\n    pass\n  ",  # a last line of blanks only
    "def f():\n    pass\n# c",  # a comment last
    "x = (1 +\n    2)\\\n\ny = 3\n",  # a continuation onto an empty line
    "if x:\n    a = 1\nelse: b = 2\n# after\nz = 1\n",  # a block, then a one-line clause
    "try:\n    import a\nexcept ImportError:\n    a = None\n\n# note\n\nclass K: pass\n",
    "@d\n@e(1,\n   2)\nclass K:\n    x = '''\ndef not_one(): pass\n'''\n\n\ndef g(): return 1\n",
]


@pytest.mark.parametrize("source", STATEMENT_LAYOUTS)
def test_statements_read_from_the_scan_are_the_tokenizers(source: str) -> None:
    from losscheck.lint import guard

    assert chunks._statements_from_scan(source, guard.scan(source)) == chunks.top_level_statements(source)


def test_chunks_are_lossless_and_each_parses() -> None:
    source = (REPO / "benchmarks" / "data" / "loss_module_300.py").read_text()
    pieces = list(chunks.chunks(source, target=500))
    assert len(pieces) > 5
    own = ["".join(p.text.splitlines(keepends=True)[p.header_lines:]) for p in pieces]
    assert "".join(own) == source
    for piece in pieces:
        cst.parse_module(piece.text)  # header + whole statements: valid Python
        assert piece.text.startswith(pieces[0].text.splitlines(keepends=True)[0])  # same header


def test_untokenizable_file_is_not_chunked() -> None:
    assert chunks.chunks("def f(:\n    x = '''\n") is None


# -- same findings as the whole file -----------------------------------------------------------

def test_large_input_block_file_same_findings(monkeypatch) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import large_inputs

    blocks = "".join(large_inputs.BLOCK.format(n=n) for n in range(12))
    source = large_inputs.HEADER + blocks
    whole = _lint(source, monkeypatch, chunked=False)
    parts = _lint(source, monkeypatch, chunked=True, target=2000)
    assert len(whole) >= 12 * 3
    assert sorted(map(_key, parts)) == sorted(map(_key, whole))


def test_names_and_imports_across_pieces(monkeypatch) -> None:
    source = textwrap.dedent('''\
        import keras.backend as K
        from keras import ops


        def first(y_true, y_pred):
            return ops.mean(ops.square(y_true - y_pred) * WEIGHT, axis=-1)


        def second(y_true, y_pred):
            return K.mean(y_true - y_pred, axis=-1)


        def third(y_true, y_pred):
            return ops.mean(y_pred[..., :num_classes] - y_true, axis=-1)


        WEIGHT = 0.5
        ''')
    parts = _lint(source, monkeypatch, chunked=True)
    whole = _lint(source, monkeypatch, chunked=False)
    assert sorted(map(_key, parts)) == sorted(map(_key, whole))
    got = {(f.code, f.line) for f in parts}
    assert ("LCK302", 10) in got  # K.mean: the alias from the file's imports, in a later piece
    assert ("LCK301", 14) in got  # num_classes: written nowhere else
    assert not any(f.code == "LCK301" and f.line == 6 for f in parts)  # WEIGHT: another piece


def test_metric_compiled_in_another_piece_is_a_metric(monkeypatch) -> None:
    source = textwrap.dedent('''\
        import keras
        from keras import ops


        def accuracy_gap(y_true, y_pred):
            return ops.mean(ops.abs(y_true - y_pred))


        model.compile(loss="mse", metrics=[accuracy_gap])
        ''')
    whole = _lint(source, monkeypatch, chunked=False)
    parts = _lint(source, monkeypatch, chunked=True)
    assert not any(f.code == "LCK101" for f in whole)
    assert sorted(map(_key, parts)) == sorted(map(_key, whole))


def test_syntax_error_in_a_late_piece_is_reported_where_it_is(monkeypatch) -> None:
    good = "".join(f"def loss_{i}(y_true, y_pred):\n    return y_true - y_pred\n\n\n" for i in range(20))
    source = good + "def broken(y_true, y_pred:\n    return 1\n"
    parts = _lint(source, monkeypatch, chunked=True, target=200)
    assert [f.code for f in parts] == ["LCK999"]
    assert parts[0].line == good.count("\n") + 1


def test_suppressions_apply_to_chunked_files(monkeypatch) -> None:
    source = textwrap.dedent('''\
        import keras


        def loss(y_true, y_pred):
            return keras.ops.mean(y_true - y_pred)  # noqa: LCK101


        def other(y_true, y_pred):
            return keras.ops.mean(y_true - y_pred)
        ''')
    parts = _lint(source, monkeypatch, chunked=True)
    assert [(f.code, f.line) for f in parts] == [("LCK101", 9)]


# -- property: chunking only ever hides findings ------------------------------------------------

from loss_programs import loss_programs  # noqa: E402


# Facts that span top-level statements, which a piece cannot see: which functions compile()
# binds as losses or metrics, and the models built, compiled and fitted at module level.
CROSS_PIECE = ("compile(", "fit(", "Sequential", "Input(", "Model(")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(loss_programs())
@example("def loss(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred) + scale\n\n"
         "exec(open('settings.py').read())\n")
@example("import tensorflow as tf\n\nmodel.compile(loss=dice)\n\ndef build():\n"
         "    def dice(y_true, y_pred):\n        return tf.reduce_mean(y_true.numpy() - y_pred, axis=-1)\n"
         "    model.compile(loss='mse', metrics=[dice])\n")  # a loss elsewhere, a metric in its own piece
@example("model.compile(loss=seg_loss)\n\nasync def seg_loss(yt, yp):\n    async def loss(y_true, y_pred):\n"
         "        return mask\n    return loss\n")  # compiled in another piece, by a name its signature lacks
@example("import tensorflow as tf\n\ndef weighted(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred) * scale\n\n"
         "def build(model):\n    model.compile(loss=weighted(2.0))\n")  # a factory call binds what it returns
@example("async def loss(y_true, y_pred):\n    model.compile(loss=loss, metrics=[metric])\n\n"
         "class Dice(keras.losses.Loss):\n    @staticmethod\n    async def metric(y_true, y_pred):\n"
         "        async def loss(y_true, y_pred):\n            return mask\n")  # a method bound by its bare name
@example("async def loss(y_true, y_pred):\n    x = y_true\n\nmodel.compile(loss=[loss, loss])\n\n"
         "async def loss(yt, yp):\n    def inner(y_true, y_pred):\n        return y_pred\n    return inner2\n")  # two defs
@example("async def loss(y_true, y_pred):\n    x = y_true\n\nasync def loss(yt, yp):\n    x = y_true\n"
         "    model.compile(loss=loss)\n")  # compiled in a piece that holds one of two defs of the name
@example("model.compile(loss=f'{x}')\n\nasync def f(y_true, y_pred):\n    return np.mean(xs)\n")  # a string prefix, not a name
def test_chunked_and_whole_file_runs_agree(source: str) -> None:
    """Chunking never adds a finding; on programs without cross-piece facts, the only findings it
    may drop are undefined names that another piece writes (the documented trade-off)."""
    try:
        cst.parse_module(source)
    except Exception:  # noqa: BLE001 - only valid programs: both paths then parse
        return
    from losscheck.lint import guard

    assert chunks._statements_from_scan(source, guard.scan(source)) == chunks.top_level_statements(source)
    with pytest.MonkeyPatch.context() as mp:
        whole = _lint(source, mp, chunked=False)
        parts = _lint(source, mp, chunked=True)
    # where and what: a message also names the loss function that reads the place, which a piece
    # may see differently when the file binds one function by a method's bare name elsewhere
    added = set(map(_place, parts)) - set(map(_place, whole))
    assert not added, f"chunking added findings: {sorted(added)}"
    whole, parts = set(map(_key, whole)), set(map(_key, parts))
    if any(marker in source for marker in CROSS_PIECE):
        return
    lines = source.split("\n")
    dropped = {k for k in whole - parts if k[:5] not in {p[:5] for p in parts}}
    for line, column, end_line, end_column, code, message in dropped:
        assert code == "LCK301", f"chunking dropped {code} at {line}:{column}: {message}"
        name = lines[line - 1][column - 1 : end_column - 1]
        assert len(re.findall(rf"(?<![\w.]){re.escape(name)}\b", source)) > 1, f"dropped LCK301 for {name!r}"


def test_dynamic_names_in_another_piece_silence_undefined_name_as_in_the_whole_file(monkeypatch) -> None:
    source = textwrap.dedent("""\
        import tensorflow as tf

        def loss(y_true, y_pred):
            return tf.reduce_mean(y_true - y_pred, axis=-1) * scale

        exec(open("settings.py").read())
        """)
    assert _lint(source, monkeypatch, chunked=False) == []
    assert _lint(source, monkeypatch, chunked=True) == []
    plain = source.replace('exec(open("settings.py").read())', 'print("done")')
    assert [f.code for f in _lint(plain, monkeypatch, chunked=True)] == ["LCK301"]


def test_a_crashing_rule_in_a_piece_is_reported_not_dropped(monkeypatch) -> None:
    from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction

    def boom(self, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(BatchMeanReduction, "check", boom)
    source = "import keras\n\n\ndef loss(y_true, y_pred):\n    return keras.ops.mean(y_true - y_pred)\n"
    parts = _lint(source, monkeypatch, chunked=True)
    assert [(f.code, "boom" in f.message) for f in parts] == [("LCK997", True)] * len(parts) and parts


def test_form_feeds_and_crlf_do_not_shift_the_cut(monkeypatch) -> None:
    """str.splitlines() splits on a form feed; Python and the tokenizer do not. The pieces must
    be cut on the tokenizer's lines, or a cut lands inside a statement."""
    block = (
        "import keras\r\n\x0c\r\n"
        "def loss_{n}(y_true, y_pred):\r\n"
        "    s = 'a\x0cb\x1cc'\r\n"
        "    return keras.ops.mean(y_true - y_pred)\r\n\r\n\r\n"
    )
    source = "".join(block.format(n=n) for n in range(10))
    whole = _lint(source, monkeypatch, chunked=False)
    parts = _lint(source, monkeypatch, chunked=True, target=50)
    assert [f.code for f in whole] == ["LCK101"] * 10
    assert sorted(map(_key, parts)) == sorted(map(_key, whole))


# -- pieces linted by forked workers -------------------------------------------------------------

def _lint_with_workers(source: str, monkeypatch, workers: int, target: int) -> list:
    monkeypatch.setattr(chunks, "CHUNK_THRESHOLD", 0)
    monkeypatch.setattr(chunks, "CHUNK_TARGET", target)
    return engine.lint_source(source, "big.py", rules=RULES, options={"piece_workers": workers})


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_pieces_in_workers_report_what_one_process_reports(monkeypatch) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import large_inputs

    source = large_inputs.HEADER + "".join(large_inputs.BLOCK.format(n=n) for n in range(8))
    alone = _lint_with_workers(source, monkeypatch, 1, 2000)
    shared = _lint_with_workers(source, monkeypatch, 2, 2000)
    assert len(alone) >= 8 * 3
    assert list(map(_key, shared)) == list(map(_key, alone))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_syntax_error_in_a_worker_still_stands_alone(monkeypatch) -> None:
    good = "".join(f"def loss_{i}(y_true, y_pred):\n    return y_true - y_pred\n\n\n" for i in range(20))
    source = good + "def broken(y_true, y_pred:\n    return 1\n"
    parts = _lint_with_workers(source, monkeypatch, 2, 200)
    assert [(f.code, f.line) for f in parts] == [("LCK999", good.count("\n") + 1)]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_dead_worker_leaves_its_pieces_to_this_process(monkeypatch) -> None:
    import os

    from losscheck.lint import piece_pool

    parent = os.getpid()
    calls: list[int] = []

    def piece(index: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # a worker killed (for memory, by a native crash)
        calls.append(index)
        return index * 10

    assert piece_pool.lint_pieces(4, piece, 2) == [0, 10, 20, 30]
    assert calls == [0, 1, 2, 3]
