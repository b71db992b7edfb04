"""A damaged dataclass code memo (losscheck/startup.py) is ignored and rebuilt by the next run.

The memo holds marshal'd code objects, and ``marshal.loads`` trusts its input: a flipped bit in
a code object's bytecode loads fine and then raises ``SystemError`` (or crashes the interpreter)
when libcst builds its classes. Nothing compiled means nothing rewritten, so without a checksum
every later run failed the same way until the folder was deleted by hand.

Each case damages the memo on disk, runs ``losscheck lint`` in a subprocess, and checks that the
output is the undamaged run's and that the memo was written again, whole and valid.
"""

from __future__ import annotations

import dis
import marshal
import os
import random
import shutil
from pathlib import Path
from types import CodeType

import pytest
from cache_helpers import BUGGY, lint

from losscheck import startup


def _run(project: Path, folder: Path):
    # --no-cache: every run parses, so libcst is imported and builds its classes from the memo
    return lint(project, project / "unused-cache", "--no-cache", "--format", "concise", ".",
                env={startup.STARTUP_CACHE_ENV: str(folder)}, timeout=120)


def _shard(folder: Path) -> Path:
    [shard] = folder.glob("*/dataclass-code.libcst.marshal")
    return shard


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A project, a start-up cache written by a first run, and that run's output."""
    base = tmp_path_factory.mktemp("memo")
    project = base / "project"
    project.mkdir()
    shutil.copy(BUGGY, project / BUGGY.name)
    folder = base / "startup"
    first = _run(project, folder)
    assert first.returncode == 1 and "LCK101" in first.stdout, first.stderr
    shard = _shard(folder)
    good = shard.read_bytes()
    entries = set(startup._read(shard))
    assert len(entries) > 100, "libcst's classes were not built through the memo"
    warm = _run(project, folder)
    assert (warm.returncode, warm.stdout) == (1, first.stdout)
    assert shard.read_bytes() == good, "a warm run rewrote an intact memo"
    return project, folder, good, entries, first.stdout


def _unused_opcode() -> int:
    return next(op for op in range(1, 256) if dis.opname[op].startswith("<"))


def _bad_bytecode(data: bytes) -> bytes:
    """Every copy of one memoised code object's bytecode turned into an opcode that does not exist:
    the file still unmarshals, and running the code raises SystemError."""
    codes = [code for code in _codes(data) if len(code.co_code) >= 8]
    target = codes[0].co_code
    assert target in data
    return data.replace(target, bytes([_unused_opcode(), 0]) * (len(target) // 2))


def _codes(data: bytes) -> list[CodeType]:
    """The code objects in a memo file. Its marshal data follows a short header; which offset it
    starts at is the module's business, so each of the first few is tried."""
    for start in range(256):
        try:
            memo = marshal.loads(data[start:])
        except (EOFError, ValueError, TypeError):
            continue
        if isinstance(memo, dict) and memo and all(isinstance(v, CodeType) for v in memo.values()):
            return list(memo.values())
    raise AssertionError("no marshal'd memo in the file")


def _flip(data: bytes, at: int, bit: int) -> bytes:
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1:]


def _damages(good: bytes) -> dict[str, bytes]:
    rng = random.Random(20240611)
    end = len(good)
    out = {"bytecode": _bad_bytecode(good)}
    for i in range(3):
        at = rng.randrange(end // 4, end)  # in the marshal data
        out[f"bit-{i}"] = _flip(good, at, rng.randrange(8))
    out["bit-in-header"] = _flip(good, 40, 0)
    out["truncated"] = good[: end // 2]
    out["header-only"] = good[:64]
    out["empty"] = b""
    return out


CASES = ["bytecode", "bit-0", "bit-1", "bit-2", "bit-in-header", "truncated", "header-only", "empty"]


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_memo_is_ignored_and_rebuilt(baseline, tmp_path, case):
    project, folder, good, entries, expected = baseline
    mine = tmp_path / "startup"
    shutil.copytree(folder, mine)
    shard = _shard(mine)
    damaged = _damages(good)[case]
    assert damaged != good
    shard.write_bytes(damaged)
    run = _run(project, mine)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and run.stdout == expected, run.stderr[-3000:]
    assert shard.read_bytes() != damaged, "the damaged memo was left in place"
    assert set(startup._read(shard)) == entries, "the memo was not rebuilt whole"
    # and it is used again: the next run agrees and leaves it alone
    rebuilt = shard.read_bytes()
    again = _run(project, mine)
    assert (again.returncode, again.stdout) == (1, expected)
    assert shard.read_bytes() == rebuilt


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_in_place_of_the_memo_does_not_hang_the_run(baseline, tmp_path):
    project, folder, _good, entries, expected = baseline
    mine = tmp_path / "startup"
    shutil.copytree(folder, mine)
    shard = _shard(mine)
    shard.unlink()
    os.mkfifo(shard)
    run = _run(project, mine)  # times out (and fails) if the pipe is opened for a blocking read
    assert (run.returncode, run.stdout) == (1, expected)
    assert shard.is_file() and set(startup._read(shard)) == entries


def test_the_checksum_is_checked_before_unmarshalling(tmp_path, monkeypatch):
    """In process: a file whose checksum fails never reaches marshal.loads."""
    path = tmp_path / "memo.marshal"
    startup.write_memo(path, {"x = 1": compile("x = 1", "<string>", "exec")})
    good = path.read_bytes()
    assert set(startup._read(path)) == {"x = 1"}
    calls = []
    monkeypatch.setattr(startup.marshal, "loads", lambda data: calls.append(data) or {})
    for at in range(len(good)):
        path.write_bytes(_flip(good, at, at % 8))
        assert startup._read(path) == {}
    assert calls == [], "damaged data was unmarshalled"
