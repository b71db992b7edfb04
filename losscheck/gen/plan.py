"""The plan: everything an emitter needs, resolved and framework-neutral.

An emitter (Keras 3, tf.keras, a plugin's PyTorch one...) turns a :class:`Plan` into
source text and must not re-derive anything: channel ranges, defaults (huber ``delta``,
focal ``gamma``/``alpha``), gate channels and unique Python function names are all
decided here, once, so every framework implements exactly the same losses.

Semantics every emitter implements (spec layout-v1, "What a task's loss is"), for a
task of output ``o`` with ``S = o.spatial``:

1. ``Y = y_true[channels task.y_true]``, ``P = y_pred[channels task.y_pred]`` on
   ``o.channel_axis``, then channels moved last: ``(B, *S, c)``.
2. Mask ``M`` of shape ``(B, *S)``: 1, times ``y_true[gate.channel] == gate.equals``
   (``task.gate``), times "no channel of Y equals ``task.ignore_value``". Targets at
   positions where ``M == 0`` must not influence the value or the gradient: replace ``Y``
   there by 0 *before* computing any term (for regression, the error ``P - Y`` by 0), so a
   NaN/inf target or an out-of-range class index there cannot leak. ``P`` is the model's
   output and is used as it is: finite ``P`` times ``M == 0`` gives 0 value and 0 gradient.
3. Map terms (every term but dice): a loss map ``L`` of shape ``(B, *S)``, summed
   with ``TermPlan.weight``; ``task = sum_S(L * M) / max(sum_S(M), 1)``.
4. Dice terms: ``dice(Y, P, axis=(1, ..., rank-1))`` per example, added with their weight.
   With ``from_logits``, dice sees probabilities: sigmoid for binary/multilabel, softmax
   over all the task's channels for categorical (before ``classes`` are gathered).
5. ``TermPlan.classes``: Y and P are gathered on the channel axis for that term only.
6. Output loss = sum over tasks of ``TaskPlan.weight * task``; per example ``(B,)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from losscheck.layout.model import (
    DEFAULT_CATEGORICAL_ALPHA,
    DEFAULT_DELTA,
    DEFAULT_GAMMA,
    DEFAULT_TOP_K,
    Layout,
    Metric,
    Task,
    Term,
)

# Module-level names emitters may use in generated code; generated function names avoid
# them, and every helper an emitter adds must start with "_lc".
RESERVED_NAMES = frozenset({
    "keras", "ops", "np", "numpy", "tf", "tensorflow", "torch", "F", "nn", "math",
    "LOSSES", "LOSS_WEIGHTS", "TASK_LOSSES", "pack_targets", "WEIGHTS", "WeightScheduler", "attach_weights",
    "make_metrics",
})
HELPER_PREFIX = "_lc"


@dataclass(frozen=True)
class Channels:
    """A channel range ``[start, stop)`` on the output's channel axis."""

    start: int
    stop: int

    @property
    def count(self) -> int:
        return self.stop - self.start

    def __str__(self) -> str:
        return f"[{self.start}:{self.stop}]"


@dataclass(frozen=True)
class TermPlan:
    """One loss term with every default resolved.

    ``loss``: ``mean_squared_error`` | ``mean_absolute_error`` | ``huber`` | ``log_cosh`` |
    ``binary_crossentropy`` | ``binary_focal_crossentropy`` | ``categorical_crossentropy`` |
    ``categorical_focal_crossentropy`` | ``dice``.
    """

    loss: str
    weight: float
    classes: tuple[int, ...] | None = None  # gather these channels (categorical, dense targets)
    delta: float | None = None  # huber: always set
    gamma: float | None = None  # focal: always set
    # categorical focal: always set; binary focal: None = no class balancing (Keras's
    # apply_class_balancing=False), a number = apply_class_balancing=True with that alpha.
    alpha: float | None = None
    pos_weight: float | None = None  # binary_crossentropy: weight of elements whose target is 1

    @property
    def is_dice(self) -> bool:
        return self.loss == "dice"

    def describe(self) -> str:
        """A short text for comments: only canonical names and numbers."""
        params = []
        if self.classes is not None:
            params.append("classes=[" + ", ".join(str(c) for c in self.classes) + "]")
        for key in ("delta", "alpha", "gamma", "pos_weight"):
            value = getattr(self, key)
            if value is not None:
                params.append(f"{key}={value!r}")
        text = self.loss + (f"({', '.join(params)})" if params else "")
        return text if self.weight == 1.0 else f"{self.weight!r} * {text}"


@dataclass(frozen=True)
class GatePlan:
    """``when``: the task counts where the gate task's ground truth is one of ``classes``.

    ``kind``: ``binary`` (``y_true[..., channel]`` is 0 or 1), ``sparse`` (it is the class
    index) or ``dense`` (the class is the argmax of the ``count`` channels from ``channel``).
    """

    task: str
    channel: int
    classes: tuple[int, ...]
    kind: str = "binary"
    count: int = 1

    @property
    def equals(self) -> int:
        """The one class of a gate that lists one (the core form ``"equals"``)."""
        return self.classes[0]

    def describe(self) -> str:
        if len(self.classes) == 1:
            return f"{self.task} == {self.classes[0]}"
        return f"{self.task} in [{', '.join(str(c) for c in self.classes)}]"


@dataclass(frozen=True)
class MetricPlan:
    """One task metric: ``name`` from the catalogue, ``label`` the Keras metric's name."""

    name: str
    label: str  # "<task>_<metric>"
    classes: tuple[int, ...] | None = None
    k: int | None = None  # top_k_categorical_accuracy: always set


@dataclass(frozen=True)
class TaskPlan:
    output: str
    name: str
    function_name: str  # unique Python identifier in the generated module
    type: str  # binary | multilabel | categorical | regression
    units: int  # channels in y_pred
    sparse: bool  # categorical with sparse targets: y_true holds one channel, the class index
    from_logits: bool
    weight: float
    y_true: Channels
    y_pred: Channels
    terms: tuple[TermPlan, ...]
    gate: GatePlan | None = None
    ignore_value: float | None = None
    class_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0
    pool: str | None = None  # "mean" | "max": Y and P pooled over the spatial axes first
    metrics: tuple[MetricPlan, ...] = ()
    metrics_function: str | None = None  # the function that feeds this task's metrics

    @property
    def key(self) -> str:
        """The ``TASK_LOSSES`` key: ``"output.task"``."""
        return f"{self.output}.{self.name}"

    @property
    def masked(self) -> bool:
        return self.gate is not None or self.ignore_value is not None

    @property
    def map_terms(self) -> tuple[TermPlan, ...]:
        return tuple(t for t in self.terms if not t.is_dice)

    @property
    def dice_terms(self) -> tuple[TermPlan, ...]:
        return tuple(t for t in self.terms if t.is_dice)

    def describe_loss(self) -> str:
        return " + ".join(t.describe() for t in self.terms)


@dataclass(frozen=True)
class OutputPlan:
    name: str
    function_name: str
    weight: float
    spatial: tuple[int | None, ...]
    channel_axis: int  # -1 or 1
    true_channels: int
    pred_channels: int
    tasks: tuple[TaskPlan, ...]

    @property
    def rank(self) -> int:
        """Rank of y_true and y_pred: batch + spatial + channels."""
        return 2 + len(self.spatial)

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        """Axes of a ``(B, *S)`` loss map that a per-example mean reduces."""
        return tuple(range(1, 1 + len(self.spatial)))

    @property
    def dice_axes(self) -> tuple[int, ...]:
        """Axes of a channels-last ``(B, *S, c)`` tensor that dice reduces: all but the batch."""
        return tuple(range(1, self.rank))

    @property
    def channels_first(self) -> bool:
        return self.channel_axis == 1 and len(self.spatial) > 0


@dataclass(frozen=True)
class Plan:
    framework: str
    layout_name: str  # the layout's file name, made safe for a comment
    registry_package: str  # package for register_keras_serializable: "losscheck.<stem>"
    outputs: tuple[OutputPlan, ...]
    variable_weights: bool = False  # the module offers WEIGHTS (variables) read by the losses

    @property
    def tasks(self) -> tuple[TaskPlan, ...]:
        return tuple(t for o in self.outputs for t in o.tasks)


def safe_text(text: str) -> str:
    """Keep only characters that cannot end a comment or a string: the file name is not validated."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "_"


class _Names:
    """Unique Python identifiers for generated functions, away from reserved and helper names."""

    def __init__(self) -> None:
        self.used: set[str] = set(RESERVED_NAMES)

    def take(self, wanted: str) -> str:
        base = wanted if not wanted.startswith(HELPER_PREFIX) else "x" + wanted
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


def _term(term: Term, task: Task) -> TermPlan:
    loss = term.name
    return TermPlan(
        loss=loss,
        weight=float(term.weight),
        classes=term.classes,
        delta=(term.delta if term.delta is not None else DEFAULT_DELTA) if loss == "huber" else None,
        gamma=(term.gamma if term.gamma is not None else DEFAULT_GAMMA) if "focal" in loss else None,
        alpha=(term.alpha if term.alpha is not None else DEFAULT_CATEGORICAL_ALPHA)
        if loss == "categorical_focal_crossentropy"
        else (term.alpha if loss == "binary_focal_crossentropy" else None),
        pos_weight=task.pos_weight
        if loss == "binary_crossentropy" and task.pos_weight is not None and task.pos_weight != 1.0
        else None,
    )


def _metric(metric: Metric, task: Task) -> MetricPlan:
    k = (metric.k if metric.k is not None else DEFAULT_TOP_K) if metric.name == "top_k_categorical_accuracy" else None
    return MetricPlan(name=metric.name, label=f"{task.name}_{metric.name}", classes=metric.classes, k=k)


def _gate(task: Task, output_tasks: dict[str, Task], starts: dict[str, int]) -> GatePlan | None:
    if task.when is None:
        return None
    gate = output_tasks[task.when.task]
    kind = "binary" if gate.type == "binary" else ("sparse" if gate.targets == "sparse" else "dense")
    return GatePlan(task.when.task, starts[gate.name], task.when.classes, kind, gate.true_units)


def build_plan(layout: Layout, framework: str | None = None) -> Plan:
    """The slice table and resolved terms for a validated layout."""
    names = _Names()
    # Output functions first, then tasks, in layout order: names are stable when tasks are added.
    out_names = [names.take(f"{o.name}_loss") for o in layout.outputs]
    outputs = []
    for output, out_fn in zip(layout.outputs, out_names):
        true_at, pred_at = 0, 0
        starts: dict[str, int] = {}
        ranges = []
        for task in output.tasks:
            starts[task.name] = true_at
            ranges.append((Channels(true_at, true_at + task.true_units), Channels(pred_at, pred_at + task.units)))
            true_at += task.true_units
            pred_at += task.units
        tasks = []
        by_name = {t.name: t for t in output.tasks}
        for task, (yt, yp) in zip(output.tasks, ranges):
            function_name = names.take(f"{output.name}__{task.name}_loss")
            tasks.append(TaskPlan(
                output=output.name,
                name=task.name,
                function_name=function_name,
                type=task.type,
                units=task.units,
                sparse=task.type == "categorical" and task.targets == "sparse",
                from_logits=task.from_logits,
                weight=float(task.weight),
                y_true=yt,
                y_pred=yp,
                terms=tuple(_term(t, task) for t in task.terms),
                gate=_gate(task, by_name, starts),
                ignore_value=float(task.ignore_value) if task.ignore_value is not None else None,
                class_weights=task.class_weights,
                label_smoothing=task.label_smoothing,
                pool=task.pool,
                metrics=tuple(_metric(m, task) for m in task.metrics),
                metrics_function=names.take(f"{output.name}__{task.name}_metric_inputs") if task.metrics else None,
            ))
        outputs.append(OutputPlan(
            name=output.name,
            function_name=out_fn,
            weight=float(output.weight),
            spatial=output.spatial,
            channel_axis=output.channel_axis,
            true_channels=true_at,
            pred_channels=pred_at,
            tasks=tuple(tasks),
        ))
    stem = PurePath(layout.source_name).stem
    return Plan(
        framework=framework or layout.framework,
        layout_name=safe_text(PurePath(layout.source_name).name),
        registry_package="losscheck." + re.sub(r"[^A-Za-z0-9_]", "_", stem),
        outputs=tuple(outputs),
        variable_weights=layout.weights == "variable",
    )
