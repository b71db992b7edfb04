"""Properties of `losscheck migrate` over generated Keras 2 modules: any mix of the backend table's
expressions, in any import spelling, with or without `import keras` or an alias of keras.ops,
migrates to code that parses, calls no removed backend function, keeps the import only while it
is used, and does not change when migrated again."""

from __future__ import annotations

import ast

import keras_migration_helpers as H
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.api.keras_backend import REMOVED
from losscheck.lint.engine import lint_source
from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi
from losscheck.migrate.run import OPTIONS, migrate_source

PREAMBLES = ("", "import keras\n", "from keras import ops as O\n", "import numpy as np\n")


@st.composite
def modules(draw: st.DrawFn) -> str:
    spelling = draw(st.sampled_from(sorted(H.SPELLINGS)))
    names = draw(st.lists(st.sampled_from(H.FIXABLE), min_size=1, max_size=6, unique=True))
    source, _kinds = H.entries_module(spelling, names)
    return draw(st.sampled_from(PREAMBLES)) + source


@settings(max_examples=40, deadline=None)
@given(modules(), st.booleans())
def test_migrated_modules_parse_are_stable_and_call_no_removed_function(source: str, unsafe: bool) -> None:
    result = migrate_source(source, "m.py", unsafe=unsafe)
    ast.parse(result.code)
    again = migrate_source(result.code, "m.py", unsafe=unsafe)
    assert again.code == result.code and not again.changed
    left = [f for f in lint_source(result.code, "m.py", rules=[RemovedKerasApi], options=OPTIONS)
            if f.code == "LCK302"]
    if unsafe:
        assert not left, [f.message for f in left]
    else:
        assert all(REMOVED[f.message.split("`")[1].split(".")[-1]].safe is False for f in left if f.fix)
    # the backend import stays exactly when something Keras 3 kept (K.epsilon()) or a left call uses it
    header = result.code.split("\ndef ", 1)[0]
    still_used = "epsilon()" in result.code or bool(left)
    assert ("backend" in header) == still_used, header
