"""Shared machinery of the built-in emitters: one module layout, dialects of tensor ops.

The generated module is: header and slice table; imports; small ``_lc_*`` helpers (only
the ones used); one function per task and one per output; the ``LOSSES``,
``LOSS_WEIGHTS`` and ``TASK_LOSSES`` dicts; ``pack_targets`` (NumPy). A subclass gives
its dialect: how to spell each op (:func:`spell_ops`), the files its helpers are copied
from (``HELPER_FILES``, see :mod:`losscheck.gen.helpers`), and the registration decorator.

Generated-code conventions, chosen so ``losscheck lint`` finds nothing to say:
no integer index on the batch axis, every reduction names its non-batch axes, masks
come from ``y_true`` only, masked means divide by the mask's count (at least 1), and
helpers take ``truth``/``pred`` (they are not loss functions themselves).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from losscheck.gen.emitter import header_lines, num
from losscheck.gen.emitters._copy import Helper, function_text, helpers_in
from losscheck.gen.emitters._format import WIDTH, q, wrap_lines
from losscheck.gen.helpers import COMMON
from losscheck.gen.plan import OutputPlan, Plan, TaskPlan, TermPlan

# The ops task functions call: op -> (the function's usual name, its arguments). {0}, {1}...
# are argument expressions, {axis} the framework's axis keyword, {sum} its sum function.
_CALLS: dict[str, tuple[str, str]] = {
    "cast": ("cast", "{0}, {1}"),
    "transpose": ("transpose", "{0}, {1}"),
    "equal": ("equal", "{0}, {1}"),
    "not_equal": ("not_equal", "{0}, {1}"),
    "logical_not": ("logical_not", "{0}"),
    "logical_and": ("logical_and", "{0}, {1}"),
    "any_last": ("any", "{0}, {axis}=-1"),
    "where": ("where", "{0}, {1}, {2}"),
    "mean": ("mean", "{0}, {axis}={1}"),
    "pool_mean": ("mean", "{0}, {axis}={1}"),
    "pool_max": ("max", "{0}, {axis}={1}"),
    "argmax_last": ("argmax", "{0}, {axis}=-1"),
    "take_last": ("take", "{0}, {1}, {axis}=-1"),
    "sigmoid": ("sigmoid", "{0}"),
    "softmax_last": ("softmax", "{0}, {axis}=-1"),
    "zeros_per_example": ("zeros_like", "{sum}(y_pred, {axis}={1})"),
    "ones_like": ("ones_like", "{0}"),
}


def spell_ops(namespace: str, *, axis: str = "axis", renamed: Mapping[str, str | None] | None = None,
              spelled: Mapping[str, str] | None = None) -> dict[str, str]:
    """An emitter's op table: op name -> format string of its call.

    Every op of ``_CALLS`` is ``namespace.function(arguments)`` with the axis keyword ``axis``;
    ``renamed`` maps a usual function name to the framework's (None: the op is left out, and
    the emitter does without it), and ``spelled`` gives ops that are not such a call.
    """
    renamed = renamed or {}
    total = f"{namespace}.{renamed.get('sum') or 'sum'}"
    table = {}
    for op, (function, arguments) in _CALLS.items():
        name = renamed.get(function, function)
        if name is None:
            continue
        arguments = arguments.replace("{axis}", axis).replace("{sum}", total)
        table[op] = f"{namespace}.{name}({arguments})"
    table.update(spelled or {})
    return table


def _docstring(text: str, indent: str = "    ") -> str:
    """A docstring wrapped at 88 columns (its text holds only validated names and numbers)."""
    lines = textwrap.wrap(text, WIDTH - 6 - len(indent), break_on_hyphens=False, break_long_words=False)
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    return "\n".join([f'{indent}"""{lines[0]}', *(indent + line for line in lines[1:]), f'{indent}"""'])


class SourceEmitter:
    framework: ClassVar[str]
    imports: ClassVar[tuple[str, ...]]
    # op name -> format string; {0}, {1}... are argument expressions (see spell_ops)
    OPS: ClassVar[dict[str, str]]
    # the files whose ``_lc`` functions are copied into generated modules, in the order the
    # module holds them; a name is defined in one file only
    HELPER_FILES: ClassVar[tuple[Path, ...]]
    # how to use the module, in its docstring
    USAGE: ClassVar[str] = (
        "Use: ``model.compile(loss=LOSSES, loss_weights=LOSS_WEIGHTS)``, then\n"
        "``model.fit(x, {name: pack_targets(name, targets) for name in LOSSES})``.\n"
        "Every loss returns one value per example, shape (batch,): Keras applies\n"
        "sample_weight and the batch mean.\n"
    )

    def register_decorator(self, package: str) -> str:
        raise NotImplementedError

    def register_statement(self, package: str) -> str:
        """The statement that defines ``_lc_register``, the decorator of every loss function."""
        return f"_lc_register = {self.register_decorator(package)}"

    @property
    def helpers(self) -> Mapping[str, Helper]:
        """Every helper this emitter can copy in, in module order."""
        return helpers_in(self.HELPER_FILES)

    def op(self, name: str, *args: str) -> str:
        return self.OPS[name].format(*args)

    # -- the module ----------------------------------------------------------------------
    def emit(self, plan: Plan) -> str:
        self._used: dict[str, None] = {}
        bodies: list[str] = []
        for output in plan.outputs:
            for task in output.tasks:
                bodies.append(self.task_function(output, task))
            bodies.append(self.output_function(output, plan.variable_weights))
        extras = self.extras(plan)  # before the helpers are listed: extras use helpers too
        helpers = [helper.text for name, helper in self.helpers.items() if name in self._used]
        title = f"Per-example loss functions for the output layout {plan.layout_name}."
        code = [
            "\n".join(wrap_lines([self.register_statement(plan.registry_package)])),
            *helpers,
            *bodies,
            *extras,
            self.tables(plan),
            self.pack_targets(plan),
        ]
        imports = "\n".join(_used_imports(self.imports, "\n".join(code)))
        parts = [
            "\n".join(header_lines(plan)),
            # one blank line between the module docstring and the imports, as formatters keep it
            _docstring(title, indent="").rstrip('"') + f'\n\n{self.USAGE}"""\n\n' + imports,
            *code,
        ]
        return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"

    def extras(self, plan: Plan) -> list[str]:
        """Module parts after the loss functions (metrics, variable weights: see
        :mod:`._additions`); none by default."""
        return []

    def use(self, helper: str) -> str:
        """Name a helper in generated code: it, and the helpers it calls, are copied in."""
        if helper not in self._used:
            if helper not in self.helpers:  # an emitter bug: say where the helper should be
                raise KeyError(f"no helper {helper!r} in {', '.join(p.name for p in self.HELPER_FILES)}")
            self._used[helper] = None
            for other in self.helpers[helper].needs:
                self.use(other)
        return helper

    # -- slicing -------------------------------------------------------------------------
    def slice_expr(self, output: OutputPlan, tensor: str, start: int, stop: int, total: int) -> str:
        """The channels [start, stop) of ``tensor``, channels last."""
        if start == 0 and stop == total:
            sliced = tensor  # the whole output: no copy (and Keras keeps its logits shortcut)
        elif output.channels_first:
            sliced = f"{tensor}[:, {start}:{stop}]"
        else:
            sliced = f"{tensor}[..., {start}:{stop}]"
        if output.channels_first:
            perm = ", ".join(str(a) for a in (0, *range(2, output.rank), 1))
            return self.op("transpose", sliced, f"({perm})")
        return sliced

    def channel_expr(self, output: OutputPlan, tensor: str, channel: int) -> str:
        """One channel of ``tensor`` with the channel axis dropped: shape (B, *S)."""
        return f"{tensor}[:, {channel}]" if output.channels_first else f"{tensor}[..., {channel}]"

    # -- one task ------------------------------------------------------------------------
    def task_doc(self, task: TaskPlan) -> str:
        doc = (f"{task.key} ({task.type}{', sparse targets' if task.sparse else ''}"
               f"{', logits' if task.from_logits else ''}): y_true{task.y_true}, y_pred{task.y_pred}; "
               f"{task.describe_loss()}.")
        if task.gate is not None:
            doc += f" Counts where {task.output}.{task.gate.describe()} (y_true)."
        if task.ignore_value is not None:
            doc += f" Leaves out positions whose target is {num(task.ignore_value)}."
        if task.class_weights is not None:
            doc += " Weighs positions by the true class: " + ", ".join(num(w) for w in task.class_weights) + "."
        if task.label_smoothing:
            doc += f" Label smoothing {num(task.label_smoothing)}."
        if task.pool is not None:
            doc += f" Pooled ({task.pool}) over the spatial axes first."
        return doc

    def task_inputs(self, output: OutputPlan, task: TaskPlan) -> list[str]:
        """The lines that set ``y``, ``p`` (channels last) and, for a masked task, ``keep`` and ``mask``."""
        lines = [
            (f"    {self.use('_lc_check')}(y_true, y_pred, output={q(output.name)}, rank={output.rank}, "
             f"true_channels={output.true_channels}, pred_channels={output.pred_channels}, "
             f"channel_axis={output.channel_axis})"),
            f"    y_true = {self.op('cast', 'y_true', 'y_pred.dtype')}",
            f"    y = {self.slice_expr(output, 'y_true', task.y_true.start, task.y_true.stop, output.true_channels)}",
            f"    p = {self.slice_expr(output, 'y_pred', task.y_pred.start, task.y_pred.stop, output.pred_channels)}",
        ]
        if task.masked:
            conds = []
            if task.gate is not None:
                conds.append(self.gate_expr(output, task))
            if task.ignore_value is not None and task.y_true.count == 1 and "not_equal" in self.OPS:
                # one target channel: "no channel equals" is a single comparison (no any(), no not)
                conds.append(self.op("not_equal", "y[..., 0]", num(task.ignore_value)))
            elif task.ignore_value is not None:
                conds.append(self.op("logical_not", self.op("any_last", self.op("equal", "y", num(task.ignore_value)))))
            keep = conds[0] if len(conds) == 1 else self.op("logical_and", *conds)
            lines += [
                "    # Positions that count come from y_true only; elsewhere y is replaced (not",
                "    # multiplied), so a NaN/inf target or a bad class index there reaches neither",
                "    # value nor gradient.",
                f"    keep = {keep}",
                # y_true only: it takes no gradient, so this where() costs no backward pass (one on
                # the prediction or on the error p - y cost 7-12% of a training step in graph
                # mode). y_pred is used as it is: finite p times mask 0 gives 0 value and gradient.
                f"    y = {self.op('where', 'keep[..., None]', 'y', self.op('fill_like', 'y', '0.0'))}",
            ]
            lines.append(f"    mask = {self.op('cast', 'keep', 'y_pred.dtype')}")
        if task.pool is not None:
            axes = repr(output.spatial_axes)
            lines += [
                "    # An image-level task: targets and predictions (logits as they are) pooled first.",
                f"    y = {self.op('pool_' + task.pool, 'y', axes)}",
                f"    p = {self.op('pool_' + task.pool, 'p', axes)}",
            ]
        return lines

    def gate_expr(self, output: OutputPlan, task: TaskPlan) -> str:
        """Where the gate task's ground truth is one of the listed classes: shape (B, *S), boolean."""
        gate = task.gate
        assert gate is not None
        if gate.kind == "dense":
            channels = self.slice_expr(output, "y_true", gate.channel, gate.channel + gate.count, output.true_channels)
            labels = self.op("argmax_last", channels)
        else:
            labels = self.channel_expr(output, "y_true", gate.channel)
        if len(gate.classes) == 1 and gate.kind != "dense":
            return self.op("equal", labels, num(float(gate.classes[0])))
        classes = "(" + ", ".join(str(c) for c in gate.classes) + ("," if len(gate.classes) == 1 else "") + ")"
        return f"{self.use('_lc_in_classes')}({labels}, classes={classes})"

    def task_function(self, output: OutputPlan, task: TaskPlan) -> str:
        lines = [
            "@_lc_register",
            f"def {task.function_name}(y_true, y_pred):",
            _docstring(self.task_doc(task)),
            *self.task_inputs(output, task),
        ]
        if task.sparse and any("focal" in t.loss or self.smoothed(task, t) for t in task.terms):
            lines.append(f"    y_onehot = {self.op('one_hot', 'y', str(task.units))}")
        result = []
        map_terms = [self.term_expr(output, task, t) for t in task.map_terms]
        if map_terms:
            line = f"    loss = {' + '.join(map_terms)}"
            if len(line) <= WIDTH:
                lines.append(line)
            else:  # one term a line
                lines += [f"    loss = {map_terms[0]}", *(f"    loss += {term}" for term in map_terms[1:])]
            if task.class_weights is not None:
                weights = "(" + ", ".join(num(float(w)) for w in task.class_weights) + ")"
                lines += [
                    "    # The true class's weight, from the unsmoothed targets; the mean's divisor",
                    "    # stays the count.",
                    (f"    loss = loss * {self.use('_lc_true_class_weight')}(y, class_weights={weights}, "
                     f"sparse={task.sparse})"),
                ]
            axes = output.spatial_axes
            if task.pool is not None:
                result.append("loss")  # pooled: one value per example already
            elif task.masked:
                if axes:
                    result.append(f"{self.use('_lc_masked_mean')}(loss, mask, axes={axes!r})")
                else:
                    result.append("loss * mask")  # one position per example: its mask is the count
            else:
                result.append(self.op("mean", "loss", repr(axes)) if axes else "loss")
        result += [self.term_expr(output, task, t) for t in task.dice_terms]
        line = f"    return {' + '.join(result)}"
        if len(line) <= WIDTH or len(result) == 1:
            lines.append(line)
        else:
            lines += [f"    loss = {result[0]}", *(f"    loss += {r}" for r in result[1:]), "    return loss"]
        return "\n".join(wrap_lines(lines))

    @staticmethod
    def smoothed(task: TaskPlan, term: TermPlan) -> bool:
        return bool(task.label_smoothing) and term.loss in (
            "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
            "categorical_focal_crossentropy")

    def term_expr(self, output: OutputPlan, task: TaskPlan, term: TermPlan) -> str:
        smoothed = self.smoothed(task, term)
        y, p = ("y_onehot" if task.sparse and ("focal" in term.loss or smoothed) else "y"), "p"
        if term.is_dice and task.from_logits:
            # dice needs probabilities: softmax over all the task's classes (before a class subset
            # is taken, so a subset still sees real probabilities), sigmoid for binary/multilabel
            p = self.op("softmax_last", p) if task.type == "categorical" else self.op("sigmoid", p)
        if term.classes is not None:
            idx = "[" + ", ".join(str(c) for c in term.classes) + "]"
            y, p = self.op("take_last", y, idx), self.op("take_last", p, idx)
        fl = "from_logits=" + ("True" if task.from_logits else "False")
        loss = term.loss
        if smoothed:
            expr = self.smoothed_term(y, p, fl, term, num(task.label_smoothing))
        elif loss == "binary_crossentropy":
            pw = f", pos_weight={num(term.pos_weight)}" if term.pos_weight is not None else ""
            expr = f"{self.use('_lc_binary_crossentropy')}({y}, {p}, {fl}{pw})"
        elif loss == "binary_focal_crossentropy":
            alpha = num(term.alpha) if term.alpha is not None else "None"
            expr = (f"{self.use('_lc_binary_focal_crossentropy')}({y}, {p}, {fl}, gamma={num(term.gamma)}, "
                    f"alpha={alpha})")
        elif loss == "categorical_crossentropy" and task.sparse:
            expr = f"{self.use('_lc_sparse_categorical_crossentropy')}({y}, {p}, {fl})"
        elif loss == "categorical_crossentropy":
            expr = f"{self.use('_lc_categorical_crossentropy')}({y}, {p}, {fl})"
        elif loss == "categorical_focal_crossentropy":
            expr = (f"{self.use('_lc_categorical_focal_crossentropy')}({y}, {p}, {fl}, alpha={num(term.alpha)}, "
                    f"gamma={num(term.gamma)})")
        elif loss == "huber":
            expr = f"{self.use('_lc_huber')}({y}, {p}, delta={num(term.delta)})"
        elif loss in ("mean_squared_error", "mean_absolute_error", "log_cosh"):
            expr = f"{self.use('_lc_' + loss)}({y}, {p})"
        elif loss == "dice":
            expr = f"{self.use('_lc_dice')}({y}, {p}, axes={output.dice_axes!r})"
        else:  # the validator only lets catalogue losses through
            raise ValueError(f"no emitter support for loss {loss!r}")
        return expr if term.weight == 1.0 else f"{num(term.weight)} * {expr}"

    def smoothed_term(self, y: str, p: str, fl: str, term: TermPlan, smoothing: str) -> str:
        """A term with label smoothing (validated for the built-in emitters only)."""
        raise ValueError(f"framework {self.framework!r} does not generate label_smoothing")

    # -- one output ----------------------------------------------------------------------
    def variable_weight(self, key: str) -> str:
        """The current value of ``WEIGHTS[key]`` inside a loss (``"weights": "variable"``,
        validated for the built-in emitters only)."""
        raise ValueError(f"framework {self.framework!r} does not generate variable weights")

    def output_function(self, output: OutputPlan, variable: bool = False) -> str:
        parts = []
        for task in output.tasks:
            call = f"{task.function_name}(y_true, y_pred)"
            if variable:  # the weight is read on every call: no task is dropped
                parts.append(f"{self.variable_weight(task.key)} * {call}")
                continue
            if task.weight == 0.0:
                continue  # a zero weight drops the task (0 * NaN would not)
            parts.append(call if task.weight == 1.0 else f"{num(task.weight)} * {call}")
        doc = " + ".join(
            (t.name if t.weight == 1.0 else f"{num(t.weight)} * {t.name}") for t in output.tasks
            if t.weight != 0.0 or variable
        )
        if not parts:  # every task weighs 0: a zero per example, still shaped (B,)
            axes = tuple(range(1, output.rank))
            parts = [self.op("zeros_per_example", "y_pred", repr(axes))]
            doc = "0 (every task has weight 0)"
        body: list[str] = []
        if variable:
            doc = (f"WEIGHTS[{q(output.name)}] times the sum of its tasks, each times "
                   f"WEIGHTS[\"{output.name}.<task>\"]")
        one_line = f"    loss = {' + '.join(parts)}"
        if len(one_line) <= WIDTH:
            body.append(one_line)
        else:  # one task a line
            body += [f"    loss = {parts[0]}", *(f"    loss += {part}" for part in parts[1:])]
        if variable:
            body.append(f"    return {self.variable_weight(output.name)} * loss")
        elif len(parts) == 1 or len(f"    return {' + '.join(parts)}") <= WIDTH:
            body = [f"    return {' + '.join(parts)}"]
        else:
            body.append("    return loss")
        return "\n".join(wrap_lines([
            "@_lc_register",
            f"def {output.function_name}(y_true, y_pred):",
            _docstring(f"Output {output.name}: {doc}; one value per example."),
            *body,
        ]))

    # -- tables and packing --------------------------------------------------------------
    def tables(self, plan: Plan) -> str:
        def block(name: str, items: list[tuple[str, str]]) -> str:
            body = "".join(f"    {q(k)}: {v},\n" for k, v in items)
            return f"{name} = {{\n{body}}}"

        return "\n".join([
            block("LOSSES", [(o.name, o.function_name) for o in plan.outputs]),
            # variable weights: each output's weight multiplies inside its own loss
            block("LOSS_WEIGHTS", [(o.name, "1.0" if plan.variable_weights else num(o.weight)) for o in plan.outputs]),
            block("TASK_LOSSES", [(t.key, t.function_name) for t in plan.tasks]),
        ])

    def pack_targets(self, plan: Plan) -> str:
        """The packing table and the NumPy ``pack_targets`` that reads it."""
        return self.packing_table(plan) + "\n\n\n" + function_text(COMMON, "pack_targets")

    def packing_table(self, plan: Plan) -> str:
        rows = []
        for o in plan.outputs:
            cols = ", ".join(f"({q(t.name)}, {t.y_true.count})" for t in o.tasks)
            cols = f"({cols},)" if len(o.tasks) == 1 else f"({cols})"
            spatial = ", ".join("None" if d is None else str(d) for d in o.spatial)
            spatial = f"({spatial},)" if len(o.spatial) == 1 else f"({spatial})"
            row = f"    {q(o.name)}: ({o.channel_axis}, {spatial}, {cols}),"
            if len(row) > WIDTH:  # exploded, with the trailing commas that keep it so
                columns = [f"        {cols},"] if len(cols) + 9 <= WIDTH else [
                    "        (", *(f"            ({q(t.name)}, {t.y_true.count})," for t in o.tasks), "        ),"]
                row = "\n".join([f"    {q(o.name)}: (", f"        {o.channel_axis},", f"        {spatial},",
                                 *columns, "    ),"])
            rows.append(row + "\n")
        return "# output -> (channel axis, spatial shape, ((task, y_true channels), ...))\n" \
               "_lc_packing = {\n" + "".join(rows) + "}"


def _used_imports(imports: tuple[str, ...], code: str) -> list[str]:
    """The import lines whose bound name the module's code uses: a layout whose losses need no
    ``F.*`` gets no ``import torch.nn.functional as F`` (an unused import: flake8's F401)."""
    kept = []
    for line in imports:
        alias = re.search(r" as (\w+)$", line) or re.match(r"import (\w+)", line) or re.search(r"import (\w+)$", line)
        if alias is None or re.search(rf"\b{alias.group(1)}\.", code):
            kept.append(line)
    return kept
