"""docs/shapes.md shows the tool's real output: re-run every example and compare.

The page marks files with ``<!-- file: NAME -->`` before a fenced block and commands with
``<!-- run: losscheck ... -->`` before a ``text`` block holding the exact output. Set
``LOSSCHECK_UPDATE_DOCS=1`` to rewrite the output blocks from the tool instead of comparing.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from losscheck.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "shapes.md"
MARKER = re.compile(r"<!-- (file|run): (.+?) -->\n```[a-z]*\n(.*?)```", re.DOTALL)


def _run(command: str, cwd: Path, capsys) -> str:
    argv = shlex.split(command)
    assert argv[0] == "losscheck"
    old = os.getcwd()
    os.chdir(cwd)
    try:
        main([argv[1], "--no-cache", "--isolated"] + argv[2:])
    finally:
        os.chdir(old)
    return capsys.readouterr().out


def test_docs_examples_match_the_tool(tmp_path, capsys):
    text = DOC.read_text()
    files: dict[str, str] = {}
    pieces: list[tuple[int, int, str]] = []  # (start, end, new output) for the update mode
    mismatches = []
    runs = 0
    for match in MARKER.finditer(text):
        kind, arg, body = match.groups()
        if kind == "file":
            (tmp_path / arg).write_text(body)
            files[arg] = body
            continue
        runs += 1
        out = _run(arg, tmp_path, capsys)
        if out != body:
            mismatches.append((arg, body, out))
        pieces.append((match.start(3), match.end(3), out))
    assert runs >= 8
    if os.environ.get("LOSSCHECK_UPDATE_DOCS"):
        for start, end, out in reversed(pieces):
            text = text[:start] + out + text[end:]
        DOC.write_text(text)
        pytest.skip("docs/shapes.md rewritten from the tool's output")
    assert not mismatches, "\n\n".join(f"$ {c}\n--- doc\n{b}--- tool\n{o}" for c, b, o in mismatches)
