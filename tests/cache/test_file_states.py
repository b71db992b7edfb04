"""Values read from files, remembered by the files' states (losscheck/file_states.py): reused
while every file is as it was, read again as soon as one changes, never kept from files that
changed too recently to be told apart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from losscheck import file_states
from losscheck.lint import cache as lcache


class Reader:
    """Reads the files and counts how often it was asked to."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return "|".join(p.read_text() if p.exists() else "-" for p in self.paths)


@pytest.fixture
def settled(monkeypatch):
    """Files count as settled at once (a test cannot wait for the file system clock)."""
    monkeypatch.setattr(file_states, "SETTLED_NS", 0)


def _remember(folder: Path, reader: Reader) -> str:
    return file_states.remembered("test", [str(p) for p in reader.paths], reader, lambda v: isinstance(v, str),
                                  folder=folder)


def _files(tmp_path: Path, *texts: str) -> list[Path]:
    paths = []
    for n, text in enumerate(texts):
        path = tmp_path / f"f{n}.py"
        path.write_text(text)
        paths.append(path)
    return paths


def test_unchanged_files_are_not_read_again(tmp_path, settled):
    reader = Reader(_files(tmp_path, "a = 1\n", "b = 2\n"))
    first = _remember(tmp_path / "memo", reader)
    again = _remember(tmp_path / "memo", Reader(reader.paths))
    assert first == again == "a = 1\n|b = 2\n"
    fresh = Reader(reader.paths)
    _remember(tmp_path / "memo", fresh)
    assert fresh.calls == 0


@pytest.mark.parametrize("change", ["same-size edit", "append", "delete", "replace by rename", "chmod"])
def test_any_change_reads_the_files_again(tmp_path, settled, change):
    paths = _files(tmp_path, "a = 1\n", "b = 2\n")
    _remember(tmp_path / "memo", Reader(paths))
    target = paths[1]
    time.sleep(0.05)  # past the file system clock's tick: the settling rule, turned off here, covers less
    if change == "same-size edit":
        target.write_text("b = 3\n")  # same size: the times and the status change tell it
    elif change == "append":
        target.write_text("b = 2\nc = 3\n")
    elif change == "delete":
        target.unlink()
    elif change == "replace by rename":
        other = tmp_path / "other.py"
        other.write_text("b = 9\n")
        os.replace(other, target)
    else:
        target.chmod(0o600)
    reader = Reader(paths)
    value = _remember(tmp_path / "memo", reader)
    assert reader.calls == 1
    assert value == reader()


def test_files_changed_too_recently_are_read_again_next_time(tmp_path):
    """Without the settling rule: a file written twice within one tick of the file system clock
    keeps its times, so a value read from a file that had just changed is not kept."""
    paths = _files(tmp_path, "a = 1\n")
    _remember(tmp_path / "memo", Reader(paths))
    reader = Reader(paths)
    _remember(tmp_path / "memo", reader)
    assert reader.calls == 1
    assert not list((tmp_path / "memo").glob("file-states.*"))


def test_a_settled_file_is_remembered_with_the_real_margin(tmp_path):
    paths = _files(tmp_path, "a = 1\n")
    old = 1_000_000_000  # 2001: long settled, as far as mtime goes; ctime is now, so not settled
    os.utime(paths[0], ns=(old, old))
    reader = Reader(paths)
    _remember(tmp_path / "memo", reader)
    assert reader.calls == 1 and not list((tmp_path / "memo").glob("file-states.*"))


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_a_bad_memo_is_a_miss(tmp_path, settled, damage):
    paths = _files(tmp_path, "a = 1\n")
    _remember(tmp_path / "memo", Reader(paths))
    [memo] = (tmp_path / "memo").glob("file-states.*")
    if damage is None:  # intact, but holding a value of the wrong type
        key = file_states._key("test", "", [str(paths[0])], [file_states.file_state(str(paths[0]))])
        file_states.write_memo(memo, {"key": key, "value": 42})
    else:
        memo.write_bytes(damage)
    reader = Reader(paths)
    assert _remember(tmp_path / "memo", reader) == "a = 1\n"
    assert reader.calls == 1


def test_no_folder_no_memo(tmp_path, settled, monkeypatch):
    monkeypatch.setenv("LOSSCHECK_STARTUP_CACHE", "off")
    paths = _files(tmp_path, "a = 1\n")
    for _ in range(2):
        reader = Reader(paths)
        file_states.remembered("test", [str(paths[0])], reader, lambda v: isinstance(v, str))
        assert reader.calls == 1


def test_the_package_state_is_the_same_remembered_or_read(tmp_path, settled):
    """losscheck's own code: the remembered digest and codes are those a full read gives."""
    import losscheck

    base = os.path.dirname(losscheck.__file__)
    files = lcache._package_files(base)
    read = lcache._read_package(base, files)
    remembered = file_states.remembered("package", [p for p, _ in files], lambda: lcache._read_package(base, files),
                                        lcache._is_package_state, context=base, folder=tmp_path)
    again = file_states.remembered("package", [p for p, _ in files], lambda: ("not", []),
                                   lcache._is_package_state, context=base, folder=tmp_path)
    assert read == remembered == again
    assert set(read[1]) == lcache.package_state().builtin_codes
