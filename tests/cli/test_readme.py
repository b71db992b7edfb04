"""The README is part of the product: its Quickstart and rule table must match what ships."""

from __future__ import annotations

import re
from pathlib import Path

from losscheck.lint.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_quickstart_has_exactly_two_commands():
    block = re.search(r"```console\n(.*?)```", _section("Quickstart"), re.S)
    assert block
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2, commands
    assert "losscheck lint" in commands[0] and "losscheck gen" in commands[0]
    assert "pytest" in commands[1]
    # .ci/run runs the second command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test = commands[1].split(" && ")
    assert install.replace("pip install", "python -m pip install -q") in ci
    assert test in ci


def test_rule_table_lists_every_builtin_rule():
    rows = dict(re.findall(r"^\| `(LCK\d{3})` \| `([a-z-]+)` \|", README, re.M))
    registry = load_registry(plugins=False)
    assert rows == {rule.code: rule.name for rule in registry.rules}


def test_readme_shape_messages_are_what_the_docs_examples_print():
    # docs/shapes.md's outputs are re-run by tests/shapes/test_shapes_docs.py; the README quotes them.
    docs = (ROOT / "docs" / "shapes.md").read_text(encoding="utf-8")
    quoted = re.search(r"### Shape inference.*?```text\n(.*?)```", README, re.S)
    assert quoted
    for line in quoted.group(1).splitlines():
        assert line in docs, line
