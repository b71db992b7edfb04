"""What ``probabilities-as-logits`` (LCK106) says: the consequence of applying a softmax or
sigmoid twice, the message for a probability that reaches a logits argument, and the findings of
a loss compiled elsewhere in the project with a model that ends in an activation."""

from __future__ import annotations

import os
from collections.abc import Iterator

import libcst as cst

from losscheck.lint import project
from losscheck.lint.api.logits import APPLICATIONS_MODULE, Activation
from losscheck.lint.compiled_models import (
    compiled_on_probabilities,
    looped_on_probabilities,
    prediction_as_logits,
)
from losscheck.lint.context import FileContext
from losscheck.lint.logit_sinks import Sink
from losscheck.lint.probabilities import Probability, ProbabilityModel
from losscheck.lint.project_uses import defined_name, uses_of

TWICE = {
    "sigmoid": "sigmoid(sigmoid(x)) lies between 0.5 and 0.73, so the loss never reaches its minimum "
    "and its gradient is scaled down by a factor of at most 0.25 at every step",
    "softmax": "softmax of values already in [0, 1] is nearly uniform, so the loss stays close to "
    "log(number of classes) and its gradient nearly vanishes",
}


def sink_message(ctx: FileContext, sink: Sink, found: Probability) -> str:
    written = ctx.code_for(sink.argument)
    if found.named is None:
        held = f" ({sink.via})" if sink.via else ""
        return (f"`{written}` holds values that are already probabilities (a {found.activation}, "
                f"{found.where(ctx)}) and is passed as logits to `{sink.callee}`{held}, which applies the "
                f"{found.activation} again: {TWICE[found.activation]}. Pass the values before the "
                f"{found.activation}{' (or drop `from_logits=True`)' if sink.switch else ''}.")
    activation = applied_by(sink.callee)
    held = f"`{written}`" if written == found.named else f"`{written}` may hold `{found.named}`, which"
    return (f"{held} is named as probabilities ({found.where(ctx)}) and is passed as logits to "
            f"`{sink.callee}`, which applies a {activation} to it: if the values are probabilities, "
            f"{TWICE[activation]}. Pass the values before the {activation}, or, if they are logits, "
            "name them so.")


def drop_activation_hint(ctx: FileContext, model: ProbabilityModel, output: Probability) -> str:
    """How to fix a model that ends in an activation and a loss that applies it again."""
    origin = output.origin
    if output.elsewhere is None and type(origin) is cst.Call:
        qualname = model.qualname(origin.func) or ""
        if qualname.startswith(APPLICATIONS_MODULE + "."):
            return (f"Pass `classifier_activation=None` to `{ctx.code_for(origin.func)}` (and apply the "
                    f"{output.activation} when predicting), or drop `from_logits=True`.")
    return "Drop the output activation (and apply it when predicting), or drop `from_logits=True`."


def applied_by(callee: str) -> Activation:
    """The activation a logits-taking call applies, from its name."""
    lowered = callee.lower()
    return "sigmoid" if "sigmoid" in lowered or "binary" in lowered or "weighted_cross" in lowered else "softmax"


def compiled_elsewhere(ctx: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
    """(where, message) for each place a loss of this file treats its prediction as logits,
    when another module compiles it with (or a training step there gives it the output of) a
    model that ends in a softmax or sigmoid."""
    root = project.root_for(ctx.path, ctx.options.get("keras_target"))
    if root is None:
        return  # no project around the file (or --isolated): nothing else is read
    for fn in ctx.functions:
        name = defined_name(fn)
        if name is None or fn.class_node is not None:
            continue
        uses = uses_of(os.path.abspath(ctx.path), root).get(name)
        if uses is None or not (uses.compile_calls or uses.loop):
            continue  # compiled or looped nowhere else: the rest would find nothing
        sites = prediction_as_logits(ctx, fn)
        if not sites:
            continue
        compiled = compiled_on_probabilities(ctx, name)
        if compiled:
            first = compiled[0]
            activation = first.output.activation
            given = f"the model compiled with it at {first.where} already ends in a {activation} ({first.output_where})"
        else:
            looped = looped_on_probabilities(ctx, fn, name)
            if not looped:
                continue
            call = looped[0]
            activation = call.output.activation
            given = (f"the training step at {call.where} passes it `{call.argument}`, which already went through "
                     f"a {activation} ({call.output_where})")
        for node, how in sites:
            yield node, (f"`{fn.name}` treats its prediction `{fn.y_pred}` as logits (it {how}), but {given}: "
                         f"{TWICE[activation]}. Drop the model's final activation (and apply it when predicting), "
                         f"or treat `{fn.y_pred}` as probabilities.")
