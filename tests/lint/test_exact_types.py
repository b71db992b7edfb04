"""The hot walks test a node's type exactly (``type(node) is cst.Call``) instead of ``isinstance``,
which is ~5x slower on libcst's ABC-based classes. That is only the same test while those classes
have no subclasses: this guards it against a libcst upgrade that adds one."""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst

from losscheck.lint import astutil, scope_index

SOURCES = sorted((Path(__file__).resolve().parents[2] / "losscheck").rglob("*.py"))
EXACT = re.compile(r"\bis cst\.(\w+)")


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_every_exactly_tested_node_class_has_no_subclass():
    named = {m for path in SOURCES for m in EXACT.findall(path.read_text())}
    classes = {getattr(cst, name) for name in named}
    classes |= set(astutil._NESTED_SCOPE_TYPES) | set(scope_index.BRANCH_TYPES)
    assert len(classes) >= 15, "the scan found too few exact type tests: has the code style changed?"
    with_subclasses = {cls.__name__: sorted(s.__name__ for s in _all_subclasses(cls)) for cls in classes
                       if _all_subclasses(cls)}
    assert not with_subclasses, f"use isinstance for these: {with_subclasses}"


def test_the_walks_class_tables_read_from_the_mro_agree_with_issubclass():
    """The children memo's node kinds and the import collector's descent read a class's bases
    from its MRO (an ABC's first ``issubclass`` is slow); equal to ``issubclass`` while nothing
    is registered with libcst's ABCs."""
    import inspect

    from losscheck.lint import imports

    classes = [c for c in vars(cst).values() if inspect.isclass(c) and issubclass(c, cst.CSTNode)]
    assert len(classes) > 150
    for cls in [*classes, list, tuple, str, type(None)]:
        if issubclass(cls, (list, tuple)):
            expected = 2
        else:
            expected = 1 if issubclass(cls, cst.CSTNode) and not issubclass(cls, astutil._FORMATTING) else 0
        assert astutil._kind(cls) == expected, cls
        if issubclass(cls, cst.CSTNode):
            assert imports._collector_kind(cls)[2] == (not issubclass(cls, cst.BaseExpression)), cls
