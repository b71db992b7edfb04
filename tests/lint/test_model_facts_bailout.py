"""models.analyze's text bail-out (no ``Sequential``/``Model``/``Functional``/``Input`` word: no
facts) must never hide a fact the full analysis would find."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from losscheck.lint import models
from losscheck.lint.model_analyzer import ModelAnalyzer
from losscheck.lint.model_values import Resolver
from losscheck.lint.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
RULES = load_registry(plugins=False).rules


def _full_analysis(source: str) -> models.ModuleModels:
    """The analysis without the bail-out (what analyze did before it)."""
    module = cst.parse_module(source)
    from losscheck.lint.imports import ImportMap

    aliases = Resolver(ImportMap.from_module(module), module)
    facts = models.ModuleModels(aliases=aliases)
    from losscheck.lint.context import FileContext
    from losscheck.lint.scope_index import scope_index

    ModelAnalyzer(aliases, facts, scope_index(FileContext("<string>", source, module))).record()
    return facts


def _has_facts(facts: models.ModuleModels) -> bool:
    return bool(facts.models or facts.calls or facts.keras_tensor_targets or facts.model_targets
                or facts.keras_tensor_args)


def _sources() -> list[str]:
    out = []
    for rule in RULES:
        out.extend(textwrap.dedent(case.code) for case in rule.invalid_examples())
        out.extend(textwrap.dedent(v) for v in getattr(rule, "VALID", []) if isinstance(v, str))
    out.extend(p.read_text() for p in sorted((REPO / "examples").rglob("*.py")))
    return [s for s in out if "keras" in s]


@pytest.mark.parametrize("source", _sources())
def test_bail_out_agrees_with_the_full_analysis(source):
    full = _full_analysis(source)
    if not any(word in source for word in models._ROOT_WORDS):
        assert not _has_facts(full)
    assert _has_facts(models.analyze(cst.parse_module(source), source)) == _has_facts(full)


@pytest.mark.parametrize(
    "source",
    [
        "from keras import Input as I, layers\nx = I((3,))\nz = layers.Dense(2)(x)\n",
        "import keras as k\nm = k.Sequential()\nm.compile(loss=[a, b])\n",
        "import keras.models as km\nm = km.Model(i, {'a': o})\n",
    ],
)
def test_aliased_roots_still_spell_the_word(source):
    assert _has_facts(_full_analysis(source))
    assert _has_facts(models.analyze(cst.parse_module(source), source))
