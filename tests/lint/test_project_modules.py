"""Helpers imported from other modules of the project are read where they are defined: a loss
that returns `focal_loss(y_true, y_pred) + ...` with `from .loss import focal_loss` is judged by
what `focal_loss` returns there."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from project_helpers import lint_findings

from losscheck.lint import project_modules

HELPERS = textwrap.dedent(
    """\
    import tensorflow as tf
    from tensorflow.keras import backend as K

    def focal_term(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    def per_example(y_true, y_pred):
        return K.mean(K.abs(y_true - y_pred), axis=-1)
    """
)


def make(tmp_path: Path, loss: str, *, git: bool = True, helpers: str = HELPERS) -> Path:
    if git:
        (tmp_path / ".git").mkdir(parents=True)
    package = tmp_path / "project" / "losses"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "terms.py").write_text(helpers)
    module = package / "hybrid.py"
    module.write_text(textwrap.dedent(loss))
    return module


def lint(path: Path, *, isolated: bool = False, use_cache: bool = False) -> list[str]:
    found = lint_findings(path, isolated=isolated, use_cache=use_cache)
    return [f"{f.code}@{f.line}:{f.message.split(' returns')[0]}" for f in found if f.code == "LCK101"]


@pytest.mark.parametrize(
    "imports,call",
    [
        ("from .terms import focal_term", "focal_term(y_true, y_pred)"),
        ("from .terms import focal_term as ft", "ft(y_true, y_pred)"),
        ("from losses.terms import focal_term", "focal_term(y_true, y_pred)"),
        ("from project.losses.terms import focal_term", "focal_term(y_true, y_pred)"),
        ("from . import terms", "terms.focal_term(y_true, y_pred)"),
        ("import losses.terms as T", "T.focal_term(y_true, y_pred)"),
    ],
)
def test_an_imported_helper_that_reduces_the_batch(tmp_path: Path, imports: str, call: str) -> None:
    loss = f"{imports}\n\ndef hybrid(y_true, y_pred):\n    return 0.5 * {call}\n"
    assert lint(make(tmp_path, loss)) == [f"LCK101@4:`{call.split('(')[0]}(...)`"]


def test_an_imported_per_example_helper_is_fine(tmp_path: Path) -> None:
    loss = "from .terms import per_example\n\ndef hybrid(y_true, y_pred):\n    return per_example(y_true, y_pred)\n"
    assert lint(make(tmp_path, loss)) == []


@pytest.mark.parametrize(
    "imports",
    [
        "from keras.losses import focal_term",  # not in the project: unknown
        "from .missing import focal_term",
        "from .terms import not_there as focal_term",
    ],
)
def test_what_cannot_be_resolved_is_unknown(tmp_path: Path, imports: str) -> None:
    loss = f"{imports}\n\ndef hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n"
    assert lint(make(tmp_path, loss)) == []


def test_a_broken_helper_module_is_unknown(tmp_path: Path) -> None:
    loss = "from .terms import focal_term\n\ndef hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n"
    assert lint(make(tmp_path, loss, helpers="def focal_term(:\n")) == []
    assert lint(make(tmp_path / "b", loss, helpers="x = (" * 5000 + "\n")) == []


def test_no_project_or_isolated_reads_nothing(tmp_path: Path) -> None:
    loss = "from .terms import focal_term\n\ndef hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n"
    assert lint(make(tmp_path, loss, git=False)) == []
    assert lint(make(tmp_path / "b", loss), isolated=True) == []


def test_the_cache_follows_the_helper_module(tmp_path: Path) -> None:
    loss = "from .terms import focal_term\n\ndef hybrid(y_true, y_pred):\n    return focal_term(y_true, y_pred)\n"
    module = make(tmp_path, loss)
    assert lint(module, use_cache=True) == ["LCK101@4:`focal_term(...)`"]
    terms = module.parent / "terms.py"
    terms.write_text(HELPERS.replace("tf.square(y_true - y_pred))", "tf.square(y_true - y_pred), axis=-1)"))
    assert lint(module, use_cache=True) == []


def test_resolve(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for name in ("a/b/c.py", "a/b/d/__init__.py", "a/x.py", "x.py", "a/b/x.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    here = str(root / "a" / "b" / "c.py")
    assert project_modules.resolve(here, ".d", str(root)) == str(root / "a/b/d/__init__.py")
    assert project_modules.resolve(here, "..x", str(root)) == str(root / "a/x.py")
    assert project_modules.resolve(here, "x", str(root)) == str(root / "a/b/x.py")  # the nearest folder wins
    assert project_modules.resolve(here, "a.x", str(root)) == str(root / "a/x.py")
    assert project_modules.resolve(here, "....x", str(root)) is None  # above the project
    assert project_modules.resolve(here, "os.path", str(root)) is None
