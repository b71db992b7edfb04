"""The memo of regex programs (losscheck/regex_memo.py): what module bodies compile is kept
between runs, gives the very patterns ``re`` gives, and nothing else is kept."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck import regex_memo, startup

PATTERNS = [
    r"(?P<name>[A-Za-z_]\w*)\s*=\s*(?P=name)",
    rb"def\s+(\w+)\s*\(([^)]*)",
    r"(?i:noqa)\s*:[^\n]*\bLCK[0-9]",
    r"^[ \t]*import[ \t]+(?:tensorflow|keras)[\w.]*",
    r"(?<![\w.])np\b(?![.(\[])",
]


def _write_module(folder: Path, name: str, patterns: list, flags: int = 0) -> None:
    lines = ["import re", f"PATTERNS = [re.compile(p, {flags}) for p in {patterns!r}]"]
    (folder / f"{name}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _import_fresh(folder: Path, name: str):
    sys.path.insert(0, str(folder))
    try:
        re.purge()  # re's own cache would answer before the memo is asked
        sys.modules.pop(name, None)
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


def _memo(folder: Path) -> dict:
    return regex_memo._load(folder / regex_memo.MEMO_NAME)


def test_a_module_body_s_patterns_are_kept_and_reused(tmp_path):
    cache, code = tmp_path / "cache", tmp_path / "code"
    code.mkdir()
    _write_module(code, "memo_first", PATTERNS)
    with regex_memo.regex_program_memo(cache) as shim:
        fresh = _import_fresh(code, "memo_first").PATTERNS
    assert shim is not None and shim.compiled == len(PATTERNS)
    assert {key for key, _ in _memo(cache).items()} >= {(p, 0) for p in PATTERNS}

    with regex_memo.regex_program_memo(cache) as shim:
        again = _import_fresh(code, "memo_first").PATTERNS
    assert shim is not None and shim.compiled == 0, "the kept programs were compiled again"
    assert again == fresh  # same flags, text and program
    for old, new in zip(fresh, again):
        assert (old.groups, old.groupindex, old.flags) == (new.groups, new.groupindex, new.flags)
    text = "x = x\ndef f(a, b):\n  # noqa: LCK101\nimport tensorflow.keras\nnp.sum(np)"
    assert [p.pattern for p in again if p.search(text if isinstance(p.pattern, str) else text.encode())]


def test_patterns_compiled_outside_a_module_body_are_not_kept(tmp_path):
    cache = tmp_path / "cache"
    with regex_memo.regex_program_memo(cache) as shim:
        re.purge()
        name = f"run_time_{os.getpid()}"
        pattern = re.compile(rf"(?<![\w.]){name}(?!\w)")  # built from what a linted file names
        assert pattern.search(f"x = {name}")
    assert shim is not None and shim.compiled == 0
    assert not (cache / regex_memo.MEMO_NAME).exists()


def test_patterns_the_installed_code_declares_are_kept(tmp_path):
    """A rule's declared triggers are compiled at run time, inside ``installed_patterns``: kept."""
    cache = tmp_path / "cache"
    trigger = rb"(?:import|from)\s+memo_declared_pack\b"
    with regex_memo.regex_program_memo(cache) as shim:
        re.purge()
        with regex_memo.installed_patterns():
            first = re.compile(trigger)
        re.compile(rb"(?<!\w)not_declared_here\b")  # after the block: run-time again
    assert shim is not None and shim.compiled == 1
    assert set(_memo(cache)) == {(trigger, 0)}
    with regex_memo.regex_program_memo(cache) as shim:
        re.purge()
        with regex_memo.installed_patterns():
            again = re.compile(trigger)
    assert shim is not None and shim.compiled == 0 and again == first


def test_the_patch_is_undone_even_when_the_block_raises(tmp_path):
    before = regex_memo._compiler.compile
    with pytest.raises(KeyError):
        with regex_memo.regex_program_memo(tmp_path):
            assert regex_memo._compiler.compile is not before
            raise KeyError("boom")
    assert regex_memo._compiler.compile is before


def test_nested_use_leaves_the_outer_patch_alone(tmp_path):
    with regex_memo.regex_program_memo(tmp_path / "a") as outer:
        with regex_memo.regex_program_memo(tmp_path / "b") as inner:
            assert inner is None
        assert regex_memo._compiler.compile is outer


def test_turned_off_without_a_folder():
    before = regex_memo._compiler.compile
    with regex_memo.regex_program_memo(None) as shim:
        assert shim is None and regex_memo._compiler.compile is before


def test_a_program_of_the_wrong_kind_is_compiled_the_usual_way(tmp_path):
    """An entry whose checksum holds but whose program ``_sre`` refuses (wrong types, code that
    does not validate) is a miss: the pattern is compiled as ``re`` compiles it, and replaced."""
    cache, code = tmp_path / "cache", tmp_path / "code"
    code.mkdir()
    _write_module(code, "memo_bad", PATTERNS[:2])
    bad = {(PATTERNS[0], 0): (0, ["not", "code"], 0, {}, (None,)),
           (PATTERNS[1], 0): (0, [1, 2, 3, 4, 5], 1, {}, (None, None))}
    startup.write_memo(cache / regex_memo.MEMO_NAME, bad)
    with regex_memo.regex_program_memo(cache) as shim:
        patterns = _import_fresh(code, "memo_bad").PATTERNS
    assert patterns == [re.compile(p) for p in PATTERNS[:2]]
    assert shim is not None and shim.compiled == 2
    assert _memo(cache)[(PATTERNS[0], 0)] != bad[(PATTERNS[0], 0)], "the bad entry was not replaced"


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_a_damaged_memo_file_is_ignored_and_rewritten(tmp_path, damage):
    cache, code = tmp_path / "cache", tmp_path / "code"
    code.mkdir()
    _write_module(code, "memo_damaged", PATTERNS)
    with regex_memo.regex_program_memo(cache):
        _import_fresh(code, "memo_damaged")
    path = cache / regex_memo.MEMO_NAME
    good = path.read_bytes()
    damaged = {"flip": good[:-30] + bytes([good[-30] ^ 4]) + good[-29:], "truncate": good[: len(good) // 2],
               "empty": b"", "garbage": b"\x00" * 100}[damage]
    path.write_bytes(damaged)
    with regex_memo.regex_program_memo(cache) as shim:
        patterns = _import_fresh(code, "memo_damaged").PATTERNS
    assert patterns == [re.compile(p) for p in PATTERNS]
    assert shim is not None and shim.compiled == len(PATTERNS)
    assert len(_memo(cache)) >= len(PATTERNS), "the damaged memo was not rewritten"


_SAFE_TEXT = st.text(alphabet="ab(|)*+?[]^$.\\{},-09", max_size=12)


@settings(max_examples=60, deadline=None)
@given(pattern=_SAFE_TEXT, flags=st.sampled_from([0, re.I, re.M | re.S, re.X, re.A]))
def test_a_kept_program_makes_the_pattern_re_makes(tmp_path_factory, pattern, flags):
    """Any pattern ``re`` accepts, stored and read back, compiles to a pattern equal to re's."""
    flags = int(flags)  # as re hands them on
    try:
        expected = re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError):
        return
    program = regex_memo._program(pattern, flags)
    folder = tmp_path_factory.mktemp("programs")
    startup.write_memo(folder / regex_memo.MEMO_NAME, {(pattern, flags): program})
    [(key, stored)] = _memo(folder).items()
    assert key == (pattern, flags)
    import _sre

    rebuilt = _sre.compile(pattern, *stored)
    assert rebuilt == expected and rebuilt.groupindex == expected.groupindex and rebuilt.groups == expected.groups


LINT_TWICE = """
    import os, subprocess, sys
    folder, target = sys.argv[1], sys.argv[2]
    for seed in ("1", "2"):
        env = {**os.environ, "LOSSCHECK_STARTUP_CACHE": folder, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "losscheck", "lint", "--no-cache", target], env=env, check=False,
                       capture_output=True)
        [memo] = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f == "re-programs.marshal"]
        print(os.stat(memo).st_mtime_ns, os.path.getsize(memo))
"""


def test_the_kept_patterns_do_not_change_from_run_to_run(tmp_path):
    """Two lint runs with different string hash seeds: the second finds every program it needs
    and writes nothing. A module-level pattern built in set order would be new text on every
    start, and its memo rewritten (and grown) every time."""
    target = tmp_path / "loss.py"
    target.write_text("import tensorflow as tf\n\ndef loss(y_true, y_pred):\n"
                      "    return tf.reduce_mean(tf.square(y_true - y_pred))\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(LINT_TWICE), str(tmp_path / "startup"), str(target)],
                          capture_output=True, text=True, timeout=300, check=True, cwd=tmp_path)
    first, second = proc.stdout.split("\n")[:2]
    assert first == second, "the second run rewrote the regex memo"
