"""docs/keras3-migration.md lists the table as the code holds it."""

from __future__ import annotations

import re
from pathlib import Path

from losscheck.lint.api.keras_backend import OUTSIDE_LOSS_CODE, REMOVED

DOC = (Path(__file__).resolve().parents[2] / "docs" / "keras3-migration.md").read_text(encoding="utf-8")
ROWS = {
    m.group(1): (m.group(2), m.group(3))
    for m in re.finditer(r"^\| `(\w+)` \| `(.+?)` \| (safe|unsafe|none) \|", DOC, re.MULTILINE)
}


def test_every_entry_has_its_row() -> None:
    assert set(ROWS) == set(REMOVED)
    for name, entry in REMOVED.items():
        fix = "none" if entry.fix is None else ("safe" if entry.safe else "unsafe")
        assert ROWS[name] == (entry.replacement, fix), name


def test_every_pointer_is_listed() -> None:
    pointers = DOC.split("| Keras 2 (`K.`) | pointer |", 1)[1]
    assert all(f"`{name}`" in pointers for name in OUTSIDE_LOSS_CODE)


def test_the_counts() -> None:
    safe = sum(e.safe for e in REMOVED.values())
    fixed = sum(e.fix is not None for e in REMOVED.values())
    assert f"{len(REMOVED)} functions: {safe} safe, {len(REMOVED) - safe} unsafe; {fixed} with a fix" in DOC
    assert f"The other {len(OUTSIDE_LOSS_CODE)}" in DOC
