"""The layout's Additions in generated code, shared by the Keras 3 and tf.keras emitters.

Both generate them the same way; a subclass gives its dialect: where its metric classes and
its losses live (``METRICS``, ``LOSSES``), the file its runtime classes are copied from
(``RUNTIME``), how a loss reads a variable weight and how ``WEIGHTS`` makes its variables.
The core machinery (:class:`~losscheck.gen.emitters._source.SourceEmitter`) leaves the
Additions out, so a plugin's emitter, whose layouts refuse them, never emits them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from losscheck.gen.emitter import num
from losscheck.gen.emitters._copy import function_text
from losscheck.gen.emitters._format import q, wrap_lines
from losscheck.gen.emitters._source import SourceEmitter, _docstring
from losscheck.gen.plan import MetricPlan, OutputPlan, Plan, TaskPlan, TermPlan

# Metric name -> the metric class (dense targets, sparse targets); both Kerases name them alike.
METRIC_CLASSES: dict[str, tuple[str, str]] = {
    "binary_accuracy": ("BinaryAccuracy", "BinaryAccuracy"),
    "precision": ("Precision", "Precision"),
    "recall": ("Recall", "Recall"),
    "auc": ("AUC", "AUC"),
    "iou": ("BinaryIoU", "BinaryIoU"),
    "categorical_accuracy": ("CategoricalAccuracy", "SparseCategoricalAccuracy"),
    "top_k_categorical_accuracy": ("TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy"),
    "mean_iou": ("MeanIoU", "MeanIoU"),
    "f1": ("F1Score", "F1Score"),
    "mae": ("MeanAbsoluteError", "MeanAbsoluteError"),
    "mse": ("MeanSquaredError", "MeanSquaredError"),
    "rmse": ("RootMeanSquaredError", "RootMeanSquaredError"),
}
# Metrics that count every channel of a row (the task metric gives each its row's weight).
PER_CHANNEL_METRICS = ("precision", "recall", "auc", "iou")


class AdditionsEmitter(SourceEmitter):
    # the module paths of the framework's metric classes and loss functions, as generated
    # code spells them
    METRICS: ClassVar[str]
    LOSSES: ClassVar[str]
    # the helper file with _lc_TaskMetric, attach_weights and WeightScheduler
    RUNTIME: ClassVar[Path]
    # the comment above WEIGHTS: how a change of a weight reaches training
    WEIGHTS_COMMENT: ClassVar[tuple[str, ...]]

    def weight_variable(self) -> list[str]:
        """The expression (lines) that makes the variable of ``WEIGHTS`` for ``key``, ``value``."""
        raise NotImplementedError

    def extras(self, plan: Plan) -> list[str]:
        parts = [self.metric_inputs(output, task) for output in plan.outputs for task in output.tasks if task.metrics]
        if any(task.metrics for task in plan.tasks):
            parts.append(self.make_metrics(plan))
        if plan.variable_weights:
            parts.append(self.weights_table(plan))
            parts += [function_text(self.RUNTIME, name) for name in ("attach_weights", "WeightScheduler")]
        return parts

    # -- label smoothing -------------------------------------------------------------------
    def smoothed_term(self, y: str, p: str, fl: str, term: TermPlan, smoothing: str) -> str:
        """The framework's own loss with its ``label_smoothing``; a helper where it has no
        per-element weight (``pos_weight``)."""
        ls = f"label_smoothing={smoothing}"
        if term.loss == "binary_crossentropy" and term.pos_weight is not None:
            helper = self.use("_lc_smoothed_binary_crossentropy")
            return f"{helper}({y}, {p}, {fl}, pos_weight={num(term.pos_weight)}, {ls})"
        if term.loss == "binary_crossentropy":
            return f"{self.LOSSES}.binary_crossentropy({y}, {p}, {fl}, {ls})"
        if term.loss == "binary_focal_crossentropy":
            balance = (f"apply_class_balancing=True, alpha={num(term.alpha)}" if term.alpha is not None
                       else "apply_class_balancing=False")
            return (f"{self.LOSSES}.binary_focal_crossentropy({y}, {p}, {balance}, gamma={num(term.gamma)}, "
                    f"{fl}, {ls})")
        if term.loss == "categorical_crossentropy":
            return f"{self.LOSSES}.categorical_crossentropy({y}, {p}, {fl}, {ls})"
        return (f"{self.LOSSES}.categorical_focal_crossentropy({y}, {p}, alpha={num(term.alpha)}, "
                f"gamma={num(term.gamma)}, {fl}, {ls})")

    # -- metrics ---------------------------------------------------------------------------
    def metric_inputs(self, output: OutputPlan, task: TaskPlan) -> str:
        lines = [
            "@_lc_register",
            f"def {task.metrics_function}(y_true, y_pred):",
            _docstring(f"{task.key}: (truth, pred, weight) for its metrics; pred as probabilities, weight its mask."),
            *self.task_inputs(output, task),
        ]
        if task.from_logits:
            probabilities = self.op("softmax_last", "p") if task.type == "categorical" else self.op("sigmoid", "p")
            lines.append(f"    p = {probabilities}")
        # a pooled task has no mask (validation keeps masks off pooled tasks)
        weight = "mask" if task.masked and task.pool is None else self.op("ones_like", "p[..., 0]")
        lines.append(f"    return y, p, {weight}")
        return "\n".join(wrap_lines(lines))

    def metric_object(self, task: TaskPlan, metric: MetricPlan) -> str:
        dense, sparse = METRIC_CLASSES[metric.name]
        cls = sparse if task.sparse else dense
        classes = metric.classes
        n = len(classes) if classes is not None else task.units
        args = []
        if metric.name == "top_k_categorical_accuracy":
            args.append(f"k={metric.k}")
        elif metric.name == "iou":
            # the IoU of the positive class; float counts, so Keras's per-example
            # sample_weight is not cast to an integer
            args += ["target_class_ids=[1]", 'dtype="float32"']
        elif metric.name == "mean_iou":
            args += [f"num_classes={n}", f"sparse_y_true={task.sparse}", "sparse_y_pred=False", 'dtype="float32"']
        elif metric.name == "f1":
            args.append('average="macro"')
        args.append(f"name={q(metric.label)}")
        inner = f"{self.METRICS}.{cls}({', '.join(args)})"
        wrap = [task.metrics_function or "", inner]
        if classes is not None:
            wrap.append("classes=(" + ", ".join(str(c) for c in classes) + ("," if len(classes) == 1 else "") + ")")
        if task.sparse and metric.name == "f1":  # F1Score needs one-hot truth
            wrap.append(f"one_hot={task.units}")
        if metric.name in PER_CHANNEL_METRICS:
            wrap.append("per_channel=True")
        wrap.append(f"name={q(metric.label)}")
        return f"{self.use('_lc_TaskMetric')}({', '.join(wrap)})"

    def make_metrics(self, plan: Plan) -> str:
        lines = [
            "def make_metrics():",
            _docstring("New metric objects, output name -> list, for ``model.compile(metrics=make_metrics())``."),
            "    return {",
        ]
        for output in plan.outputs:
            objects = [self.metric_object(task, m) for task in output.tasks for m in task.metrics]
            if not objects:
                continue
            lines.append(f"        {q(output.name)}: [")
            lines += [f"            {obj}," for obj in objects]
            lines.append("        ],")
        lines.append("    }")
        return "\n".join(wrap_lines(lines))

    # -- variable weights ------------------------------------------------------------------
    def weights_table(self, plan: Plan) -> str:
        rows = []
        for output in plan.outputs:
            rows.append((output.name, output.weight))
            rows += [(task.key, task.weight) for task in output.tasks]
        return "\n".join([
            "# The layout's weights, the initial values of WEIGHTS.",
            "_lc_initial_weights = {",
            *(f"    {q(key)}: {num(float(weight))}," for key, weight in rows),
            "}",
            *self.WEIGHTS_COMMENT,
            "WEIGHTS = {",
            *self.weight_variable(),
            "    for key, value in _lc_initial_weights.items()",
            "}",
        ])
