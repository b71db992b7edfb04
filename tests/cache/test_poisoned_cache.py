"""A result-cache entry that is not what losscheck wrote is a miss: the run reports what a cold
run reports (never fewer findings, a traceback or a hang) and writes the entry again.

The entries are poisoned on disk, as a bad disk, a crashed writer or a careless script would,
and the CLI runs in a subprocess: the output must be the cold run's, byte for byte."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cache_helpers import BUGGY, entry_key, imported, lint, result_entries

from losscheck import startup
from losscheck.lint import cache as lcache
from losscheck.lint.finding import Edit, Finding, Fix

DEEP = b"[" * 200_000 + b"]" * 200_000
COPIES = 24  # one entry per case: a run checks them all


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """A project of identical files with findings, a warm cache of it, and the output of a run
    without the cache in each format."""
    base = tmp_path_factory.mktemp("poison")
    project = base / "project"
    project.mkdir()
    for i in range(COPIES):
        shutil.copy(BUGGY, project / f"buggy_{i:02}.py")
    cache = base / "cache"
    outputs = {}
    for fmt in ("concise", "full", "sarif", "json"):
        run = lint(project, cache, "--no-cache", "--format", fmt, ".")
        assert run.returncode == 1, run.stderr
        outputs[fmt] = run.stdout
    assert lint(project, cache, "--format", "concise", ".").stdout == outputs["concise"]
    assert len(result_entries(cache)) == COPIES
    return project, cache, outputs


@pytest.fixture
def cold(baseline, tmp_path) -> tuple[Path, Path, dict[str, str]]:
    """The baseline with a cache of this test's own to poison."""
    project, cache, outputs = baseline
    shutil.copytree(cache, tmp_path / "cache")
    return project, tmp_path / "cache", outputs


def _run_agrees(project: Path, cache: Path, fmt: str, expected: str, what: str) -> None:
    # the entries are what is poisoned here: without the run's pack (which would answer first)
    shutil.rmtree(cache / "v1" / "packs", ignore_errors=True)
    warm = lint(project, cache, "--format", fmt, ".", timeout=60)
    assert "Traceback" not in warm.stderr, (what, warm.stderr)
    assert warm.returncode == 1, (what, warm.stderr)
    assert warm.stdout == expected, what


def _all_rewritten(project: Path, cache: Path, expected: str) -> None:
    """Every entry was written again: the next run reads them all and parses nothing."""
    again = lint(project, cache, "--format", "concise", ".", importtime=True)
    assert again.stdout == expected
    assert "libcst" not in imported(again.stderr), "a poisoned entry was not replaced by a good one"


# well-formed JSON that once read as "no findings", and broken bytes
POISONS = {"empty-object": b"{}", "empty-list": b"[]", "other-object": b'{"findings": []}', "null": b"null",
           "zeros": b"\x00" * 64, "truncated": None}
DEEP_POISONS = {"deeply-nested-list": DEEP, "deeply-nested-object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000}


@pytest.mark.parametrize("poisons", [POISONS, DEEP_POISONS], ids=["hiding", "deep"])
def test_a_poisoned_entry_is_a_miss(cold, poisons):
    project, cache, outputs = cold
    for entry, poison in zip(result_entries(cache), poisons.values()):
        entry.write_bytes(entry.read_bytes()[:-7] if poison is None else poison)
    _run_agrees(project, cache, "concise", outputs["concise"], ", ".join(poisons))
    _all_rewritten(project, cache, outputs["concise"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_where_an_entry_belongs_does_not_hang_the_run(cold):
    project, cache, outputs = cold
    entry = result_entries(cache)[0]
    entry.unlink()
    os.mkfifo(entry)  # opening it for a blocking read waits for a writer that never comes
    _run_agrees(project, cache, "concise", outputs["concise"], "a named pipe")
    assert entry.is_file(), "the pipe was not replaced by an entry"
    _all_rewritten(project, cache, outputs["concise"])


def _wrongly_typed(records: list[dict]) -> list[tuple[str, list[dict]]]:
    """Each field of a real record given a value of another type (or out of range)."""
    first = records[0]
    with_fix = next(r for r in records if r["fix"] is not None)
    cases = []
    for field, bad in [("line", "15"), ("line", 0), ("line", True), ("column", 1.5), ("end_line", None),
                       ("end_column", -3), ("code", ["LCK101"]), ("rule", 7), ("severity", {"e": 1}),
                       ("message", None), ("fix", "safe"), ("fix", [])]:
        cases.append((f"{field}={bad!r}", [{**first, field: bad}, *records[1:]]))
    fix = with_fix["fix"]
    edit = fix["edits"][0]
    for label, bad_fix in [("applicability", {**fix, "applicability": 1}), ("edits", {**fix, "edits": {"0": edit}}),
                           ("fix message", {**fix, "message": 3}),
                           ("edit content", {**fix, "edits": [{**edit, "content": None}]}),
                           ("edit line", {**fix, "edits": [{**edit, "line": "1"}]}),
                           ("no fix message", {k: v for k, v in fix.items() if k != "message"})]:
        cases.append((label, [{**r, "fix": bad_fix} if r is with_fix else r for r in records]))
    cases.append(("extra key", [{**first, "path": "elsewhere.py"}, *records[1:]]))
    cases.append(("missing key", [{k: v for k, v in first.items() if k != "severity"}, *records[1:]]))
    cases.append(("not a record", ["LCK101", *records[1:]]))
    assert len(cases) <= COPIES
    return cases


def _records(outputs: dict[str, str]) -> list[dict]:
    """What the cache stores for one of the files: its findings, without the path."""
    found = [f for f in json.loads(outputs["json"]) if f["path"] == "buggy_00.py"]
    return [{k: v for k, v in f.items() if k != "path"} for f in found]


@pytest.mark.parametrize("fmt", ["full", "sarif"])
@pytest.mark.parametrize("sealed", [False, True], ids=["raw", "sealed"])
def test_wrongly_typed_entries_are_misses_in_every_format(cold, fmt, sealed):
    """Raw: what a stray writer leaves. Sealed: the checksum holds, so the field checks alone
    must catch it."""
    project, cache, outputs = cold
    cases = _wrongly_typed(_records(outputs))
    for entry, (_label, bad) in zip(result_entries(cache), cases):
        body = json.dumps(bad).encode()
        entry.write_bytes(lcache.seal(body, entry_key(entry)) if sealed else body)
    _run_agrees(project, cache, fmt, outputs[fmt], "wrongly typed entries")
    _all_rewritten(project, cache, outputs["concise"])


# -- the same checks, in process: every kind of bad entry is a miss ------------------------------


def _finding(**over) -> Finding:
    fields = dict(path="a.py", line=3, column=5, end_line=3, end_column=9, code="LCK101",
                  rule="batch-mean-reduction", severity="error", message="m",
                  fix=Fix((Edit(3, 4, 3, 8, "x"),), safe=False, description="d"))
    return Finding(**{**fields, **over})


def test_what_is_put_is_got_back(tmp_path):
    rc = lcache.ResultCache.open(tmp_path, "tool", {"s": 1})
    findings = [_finding(), _finding(line=7, end_line=8, fix=None, severity="warning"), _finding(cell=2)]
    key = rc.key("a.py", ("LCK101",), b"data")
    rc.put(key, findings)
    assert rc.get(key, "a.py") == findings
    assert [f.fix for f in rc.get(key, "a.py")] == [f.fix for f in findings]


def test_the_checked_fields_are_the_findings_fields():
    """A field added to Finding must be checked here too, or no entry would ever be read back."""
    assert set(_finding().to_dict()) - {"path"} == lcache._FINDING_KEYS


@pytest.mark.parametrize("body", [b"{}", b"null", b"3", b'"x"', DEEP, b'[{"line": 1}]', b"[1, 2]"],
                         ids=["object", "null", "number", "string", "deep", "partial-record", "numbers"])
def test_a_sealed_entry_of_the_wrong_shape_is_a_miss(tmp_path, body):
    rc = lcache.ResultCache.open(tmp_path, "tool", {})
    key = rc.key("a.py", ("LCK101",), b"data")
    rc.put(key, [_finding()])
    Path(rc._file(key)).write_bytes(lcache.seal(body, key))
    assert rc.get(key, "a.py") is None and rc.misses == 1


def test_an_entry_is_bound_to_its_key_and_checked_bit_for_bit(tmp_path):
    rc = lcache.ResultCache.open(tmp_path, "tool", {})
    k1, k2 = (rc.key("a.py", ("LCK101",), data) for data in (b"one", b"two"))
    rc.put(k1, [_finding()])
    rc.put(k2, [])
    good = Path(rc._file(k1)).read_bytes()
    Path(rc._file(k2)).write_bytes(good)  # the findings of another file (or of the same file, before an edit)
    assert rc.get(k2, "a.py") is None
    at = good.index(b'"line":3') + len(b'"line":')
    Path(rc._file(k1)).write_bytes(good[:at] + b"4" + good[at + 1 :])  # still valid JSON, one digit off
    assert rc.get(k1, "a.py") is None
    Path(rc._file(k1)).write_bytes(good[:-5])
    assert rc.get(k1, "a.py") is None
    Path(rc._file(k1)).write_bytes(good)
    assert rc.get(k1, "a.py") == [_finding()]


def test_an_entry_over_the_size_cap_is_not_read(tmp_path, monkeypatch):
    rc = lcache.ResultCache.open(tmp_path, "tool", {})
    key = rc.key("a.py", (), b"")
    rc.put(key, [_finding()])
    monkeypatch.setattr(lcache, "MAX_ENTRY_BYTES", 64)
    assert rc.get(key, "a.py") is None
    rc.put(key, [_finding(message="m" * 100)])  # never written: it could not be read back
    monkeypatch.undo()
    assert rc.get(key, "a.py") == [_finding()]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_reads_take_regular_files_only_and_never_more_than_the_cap(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    small = tmp_path / "small"
    small.write_bytes(b"12345")
    link = tmp_path / "link"
    link.symlink_to(small)
    assert startup.read_regular_file(fifo, 100) is None  # returns at once: the open does not block
    assert startup.read_regular_file(tmp_path, 100) is None
    assert startup.read_regular_file(tmp_path / "missing", 100) is None
    assert startup.read_regular_file(small, 4) is None
    assert startup.read_regular_file(small, 5) == b"12345" == startup.read_regular_file(link, 5)
    if os.path.exists("/dev/zero"):
        assert startup.read_regular_file("/dev/zero", 100) is None  # endless: a device is never read


def test_a_folder_where_an_entry_belongs_leaves_the_rest_of_the_cache_working(tmp_path):
    rc = lcache.ResultCache.open(tmp_path, "tool", {})
    k1, k2 = rc.key("a.py", (), b"1"), rc.key("b.py", (), b"2")
    Path(rc._file(k1)).mkdir(parents=True)
    rc.put(k1, [])
    rc.put(k2, [])
    assert rc.enabled and rc.get(k1, "a.py") is None and rc.get(k2, "b.py") == []

