"""Keras 3 emitter: ``keras.ops`` only, so the generated losses run on the TensorFlow,
JAX and PyTorch backends.

Its helpers are the functions of :mod:`losscheck.gen.helpers.keras_ops` (and ``common``), and
the classes of :mod:`losscheck.gen.helpers.keras_runtime`. It alone generates the layout's
Additions (metrics, variable weights, label smoothing...): the others' layouts refuse them.
"""

from __future__ import annotations

from losscheck.gen.emitter import num
from losscheck.gen.emitters._copy import function_text
from losscheck.gen.emitters._format import q, wrap_lines
from losscheck.gen.emitters._source import SourceEmitter, _docstring, spell_ops
from losscheck.gen.helpers import COMMON, KERAS_OPS, KERAS_RUNTIME
from losscheck.gen.plan import MetricPlan, OutputPlan, Plan, TaskPlan, TermPlan

# Metric name -> the keras.metrics class (dense targets, sparse targets).
_METRIC_CLASSES: dict[str, tuple[str, str]] = {
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


class KerasEmitter(SourceEmitter):
    framework = "keras"
    imports = ("import keras", "from keras import ops")  # pack_targets imports NumPy itself
    HELPER_FILES = (COMMON, KERAS_OPS, KERAS_RUNTIME)
    OPS = spell_ops("ops", spelled={
        "fill_like": "{1}",  # keras.ops.where broadcasts a Python number in the tensor's dtype
        "one_hot": 'ops.one_hot(ops.cast({0}[..., 0], "int32"), {1}, dtype=y_pred.dtype)',
    })

    def register_decorator(self, package: str) -> str:
        return f"keras.saving.register_keras_serializable(package={q(package)})"

    def smoothed_term(self, y: str, p: str, fl: str, term: TermPlan, smoothing: str) -> str:
        ls = f"label_smoothing={smoothing}"
        if term.loss == "binary_crossentropy" and term.pos_weight is not None:
            helper = self.use("_lc_smoothed_binary_crossentropy")
            return f"{helper}({y}, {p}, {fl}, pos_weight={num(term.pos_weight)}, {ls})"
        if term.loss == "binary_crossentropy":
            return f"keras.losses.binary_crossentropy({y}, {p}, {fl}, {ls})"
        if term.loss == "binary_focal_crossentropy":
            balance = (f"apply_class_balancing=True, alpha={num(term.alpha)}" if term.alpha is not None
                       else "apply_class_balancing=False")
            return f"keras.losses.binary_focal_crossentropy({y}, {p}, {balance}, gamma={num(term.gamma)}, {fl}, {ls})"
        if term.loss == "categorical_crossentropy":
            return f"keras.losses.categorical_crossentropy({y}, {p}, {fl}, {ls})"
        return (f"keras.losses.categorical_focal_crossentropy({y}, {p}, alpha={num(term.alpha)}, "
                f"gamma={num(term.gamma)}, {fl}, {ls})")

    # -- Additions: metrics and variable weights -------------------------------------------
    def extras(self, plan: Plan) -> list[str]:
        parts = [self.metric_inputs(output, task) for output in plan.outputs for task in output.tasks if task.metrics]
        if any(task.metrics for task in plan.tasks):
            parts.append(self.make_metrics(plan))
        if plan.variable_weights:
            parts.append(self.weights_table(plan))
            self.use("_lc_LossWeightState")  # attach_weights makes them
            parts.append(function_text(KERAS_RUNTIME, "attach_weights"))
            parts.append(function_text(KERAS_RUNTIME, "WeightScheduler"))
        return parts

    def variable_weight(self, key: str) -> str:
        # read through a helper that warns when JAX would keep it as a trace-time constant
        return f"{self.use('_lc_loss_weight')}(WEIGHTS[{q(key)}], y_pred)"

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
        if task.pool is not None:
            weight = "ops.ones_like(p[..., 0])"
        elif task.masked:
            weight = "mask"
        else:
            weight = "ops.ones_like(p[..., 0])"
        lines.append(f"    return y, p, {weight}")
        return "\n".join(wrap_lines(lines))

    def metric_object(self, task: TaskPlan, metric: MetricPlan) -> str:
        dense, sparse = _METRIC_CLASSES[metric.name]
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
        inner = f"keras.metrics.{cls}({', '.join(args)})"
        wrap = [task.metrics_function or "", inner]
        if classes is not None:
            wrap.append("classes=(" + ", ".join(str(c) for c in classes) + ("," if len(classes) == 1 else "") + ")")
        if task.sparse and metric.name == "f1":  # F1Score needs one-hot truth
            wrap.append(f"one_hot={task.units}")
        if metric.name in ("precision", "recall", "auc", "iou"):  # they count every channel
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

    def weights_table(self, plan: Plan) -> str:
        rows = []
        for output in plan.outputs:
            rows.append((output.name, output.weight))
            rows += [(task.key, task.weight) for task in output.tasks]
        lines = [
            "# The layout's weights, the initial values of WEIGHTS.",
            "_lc_initial_weights = {",
            *(f"    {q(key)}: {num(float(weight))}," for key, weight in rows),
            "}",
            "# Loss weights the losses read on every call: once a model holds them",
            "# (attach_weights(model, WEIGHTS); WeightScheduler does it), WEIGHTS[key].assign(x)",
            "# takes effect at its next training step, without recompiling, on every backend.",
            "# Variable names have no dot: PyTorch parameter names may not.",
            "WEIGHTS = {",
            "    key: keras.Variable(",
            "        value,",
            "        dtype=\"float32\",",
            "        trainable=False,",
            "        name=\"loss_weight-\" + key.replace(\".\", \"-\"),",
            "    )",
            "    for key, value in _lc_initial_weights.items()",
            "}",
        ]
        return "\n".join(lines)
