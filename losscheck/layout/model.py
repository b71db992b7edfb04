"""The validated layout as typed, immutable dataclasses (defaults filled in, aliases resolved).

Built only by :func:`losscheck.layout.validate.validate`, after every check has passed,
so code downstream (the planner, the emitters) can trust every field: names are ASCII
identifiers that are not keywords, numbers are finite ``int``/``float``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskType = Literal["binary", "multilabel", "categorical", "regression"]
Targets = Literal["dense", "sparse"]

# Canonical loss names (spec: "Losses in the core catalogue"), and the aliases the spec allows.
LOSS_ALIASES: dict[str, str] = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
REGRESSION_LOSSES = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh")
BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "dice")
CATEGORICAL_LOSSES = ("categorical_crossentropy", "categorical_focal_crossentropy", "dice")
LOSSES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "regression": REGRESSION_LOSSES,
    "binary": BINARY_LOSSES,
    "multilabel": BINARY_LOSSES,
    "categorical": CATEGORICAL_LOSSES,
}
DEFAULT_LOSS: dict[str, str] = {
    "binary": "binary_crossentropy",
    "multilabel": "binary_crossentropy",
    "categorical": "categorical_crossentropy",
    "regression": "mean_squared_error",
}
FOCAL_LOSSES = ("binary_focal_crossentropy", "categorical_focal_crossentropy")
# Defaults of keras.losses (Keras 3.15): huber delta, focal gamma, categorical focal alpha.
DEFAULT_DELTA = 1.0
DEFAULT_GAMMA = 2.0
DEFAULT_CATEGORICAL_ALPHA = 0.25


@dataclass(frozen=True)
class Term:
    """One loss term of a task. ``name`` is canonical (``mse`` -> ``mean_squared_error``)."""

    name: str
    weight: float = 1.0
    classes: tuple[int, ...] | None = None  # categorical, dense targets only
    delta: float | None = None  # huber (None -> DEFAULT_DELTA)
    alpha: float | None = None  # focal
    gamma: float | None = None  # focal (None -> DEFAULT_GAMMA)


# Metrics of the catalogue, by task type (spec: "Additions", ``metrics``).
METRICS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "binary": ("binary_accuracy", "precision", "recall", "auc", "iou"),
    "multilabel": ("binary_accuracy", "precision", "recall", "auc", "iou"),
    "categorical": ("categorical_accuracy", "top_k_categorical_accuracy", "mean_iou", "f1"),
    "regression": ("mae", "mse", "rmse"),
}
SMOOTHABLE_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
                     "categorical_focal_crossentropy")
DEFAULT_TOP_K = 5  # keras.metrics.TopKCategoricalAccuracy's default k


@dataclass(frozen=True)
class When:
    """The task counts where the ground truth of ``task`` is one of ``classes``."""

    task: str
    classes: tuple[int, ...]  # ``equals: k`` is ``classes == (k,)``


@dataclass(frozen=True)
class Metric:
    """One metric of a task (``name`` from :data:`METRICS_BY_TYPE`)."""

    name: str
    classes: tuple[int, ...] | None = None  # categorical, dense targets: a subset of the classes
    k: int | None = None  # top_k_categorical_accuracy


@dataclass(frozen=True)
class Task:
    name: str
    type: TaskType
    units: int
    terms: tuple[Term, ...]
    targets: Targets = "dense"  # meaningful for categorical only; "dense" elsewhere
    from_logits: bool = False
    weight: float = 1.0
    pos_weight: float | None = None  # None: not given (means 1)
    when: When | None = None
    ignore_value: float | int | None = None
    class_weights: tuple[float, ...] | None = None  # categorical: one weight per class
    label_smoothing: float = 0.0
    pool: Literal["mean", "max"] | None = None
    metrics: tuple[Metric, ...] = ()

    @property
    def true_units(self) -> int:
        """Channels this task occupies in ``y_true`` (1 for sparse categorical targets)."""
        return 1 if self.type == "categorical" and self.targets == "sparse" else self.units


@dataclass(frozen=True)
class Output:
    name: str
    tasks: tuple[Task, ...]
    spatial: tuple[int | None, ...] = ()
    channel_axis: int = -1  # -1 or 1
    weight: float = 1.0


@dataclass(frozen=True)
class Layout:
    version: int
    framework: str
    outputs: tuple[Output, ...]
    weights: Literal["static", "variable"] = "static"
    source_name: str = "<layout>"  # the file it came from, for the generated header
