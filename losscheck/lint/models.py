"""Module facts about Keras models, read statically (no import of the user's code or of Keras).

What it finds, per file:

- model constructions: ``Sequential([...])`` / ``keras.Sequential()`` (+ ``.add``), functional
  ``Model(inputs, outputs=...)`` with the outputs' form (a dict with its names, a list, one tensor),
  and instances of user subclasses of ``keras.Model``;
- ``.compile(...)`` / ``.fit(...)`` / ``.evaluate(...)`` / ``.train_on_batch(...)`` calls, tied to the
  model bound to the variable they are called on at that point of the code;
- layer outputs (KerasTensors): names bound to ``keras.Input(...)``, ``Dense(...)(x)``,
  ``layer(x)``, ``model.output``, ``model.layers[i].output``, ``keras.ops`` on KerasTensors, ...

Precision first: what a name holds is read through the scope index's reaching definitions
(``model_analyzer.py``); a name that a branch or a loop may re-bind is "unknown", a name bound by
anything the analysis does not understand is "unknown", and unknown never produces a finding.
``with`` blocks are transparent (``with strategy.scope(): model = ...`` is the common case).

Import resolution goes through the file's :class:`~losscheck.lint.imports.ImportMap`; it only needs to
answer "is this expression ``keras...Sequential``?".
"""

from __future__ import annotations

import libcst as cst

from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.imports import ImportMap
from losscheck.lint.loss_reads import OuterRead, in_source_order, loss_scope, reads_in, within
from losscheck.lint.model_analyzer import ModelAnalyzer
from losscheck.lint.model_syntax import (
    dict_items,
    full_range,
    is_target_like,
    literal_elements,
    mentions_model_calls,
    short_code,
)
from losscheck.lint.model_values import FIT_METHODS, ModelCall, ModelInfo, ModuleModels, Resolver

# The rules read these from here (the model facts and the helpers they use with them).
__all__ = [
    "FIT_METHODS", "ModelCall", "ModelInfo", "ModuleModels", "OuterRead", "analyze",
    "dict_items", "full_range", "in_source_order", "is_target_like", "literal_elements", "loss_scope",
    "mentions_model_calls", "model_facts", "reads_in", "short_code", "within",
]


@fact()
def model_facts(ctx) -> ModuleModels:
    """The models of ``ctx.module`` and how they are compiled and fitted."""
    imports = ctx.imports if "keras" in ctx.source else None
    return analyze(ctx.module, ctx.source, imports=imports, ctx=ctx)


_ROOT_WORDS = ("Sequential", "Model", "Functional", "Input")


def analyze(module: cst.Module, source: str | None = None, imports: ImportMap | None = None,
            ctx: FileContext | None = None) -> ModuleModels:
    """The models of ``module`` (``ctx``: the file's context, whose scope index says which
    definitions reach each name; a throwaway one when not given)."""
    text = source if source is not None else module.code
    if "keras" not in text:  # cheap pre-filter: every fact below needs a Keras import
        return ModuleModels()
    if not any(word in text for word in _ROOT_WORDS):
        # Every fact starts from a model construction or an ``Input``: a name whose qualified
        # name ends in one of these words, which the file must then spell out somewhere.
        return ModuleModels()
    aliases = Resolver(imports or ImportMap.from_module(module), module)
    facts = ModuleModels(aliases=aliases)
    from losscheck.lint.scope_index import scope_index

    if ctx is None:
        ctx = FileContext(path="<string>", source=text, module=module)
    ModelAnalyzer(aliases, facts, scope_index(ctx)).record()
    return facts
