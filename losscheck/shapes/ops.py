"""Table-driven semantics of the ops loss code calls, across TF, Keras 3, Keras 2 backend and NumPy.

The table maps ``(family, op name)`` (families as :func:`losscheck.lint.imports.api` gives them:
"tensorflow" for ``tf.*``/``tf.math.*``/``tf.nn.*``, "keras.ops", "keras.backend",
"tf.keras.backend", "numpy", "keras.losses", "tf.keras.losses") to an :class:`OpSpec`: the
op's kind (which handler computes its shape: ``op_handlers.py``), its positional parameter names
(to bind the call's arguments) and per-family options (e.g. the default axis of ``argmax``).

The handlers and the call they get (``op_call.py``) are in their own modules; this one is the
table alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OpSpec:
    """How an op maps its operands' shapes to its result's."""

    kind: str
    params: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)



TABLE: dict[tuple[str, str], OpSpec] = {}

TF = "tensorflow"
KOPS = "keras.ops"
KB = ("keras.backend", "tf.keras.backend")
NP = "numpy"


def _add(families: str | tuple[str, ...], names: str, kind: str, params: tuple[str, ...], **options: Any) -> None:
    fams = (families,) if isinstance(families, str) else families
    for family in fams:
        for name in names.split():
            TABLE[(family, name)] = OpSpec(kind, params, dict(options))


# element-wise, one tensor in, same shape out
_UNARY_TF = (
    "abs square sqrt rsqrt exp expm1 log log1p sigmoid tanh relu relu6 elu selu gelu silu swish softplus "
    "softsign softmax log_softmax negative sign round floor ceil reciprocal stop_gradient identity ones_like "
    "zeros_like is_nan is_inf is_finite logical_not l2_normalize erf sin cos cosh sinh lgamma digamma"
)
_add(TF, _UNARY_TF, "unary", ("x",))
_add(TF, "cast dtypes.cast saturate_cast stop_gradient identity", "unary", ("x",), keeps_origin=True)
_add(TF, "clip_by_value", "clip", ("x", "lo", "hi"))
_add(TF, "constant convert_to_tensor", "to_tensor", ("x",))
_UNARY_KOPS = (
    "abs absolute square sqrt exp expm1 log log1p sigmoid tanh relu relu6 elu selu gelu silu softplus softsign "
    "softmax log_softmax negative sign round floor ceil reciprocal stop_gradient ones_like zeros_like isnan "
    "isinf isfinite logical_not erf sin cos cosh sinh copy nan_to_num hard_sigmoid normalize"
)
_add(KOPS, _UNARY_KOPS, "unary", ("x",))
_add(KOPS, "cast stop_gradient", "unary", ("x",), keeps_origin=True)
_add(KOPS, "convert_to_tensor", "to_tensor", ("x",))
_add(KOPS, "clip", "clip", ("x", "lo", "hi"))
_add(
    KB,
    "abs square sqrt exp log sigmoid tanh relu elu softplus softsign softmax sign round ones_like "
    "zeros_like hard_sigmoid l2_normalize",
    "unary",
    ("x",),
)
_add(KB, "cast cast_to_floatx stop_gradient identity", "unary", ("x",), keeps_origin=True)
_add(KB, "clip", "clip", ("x", "lo", "hi"))
_add(KB, "constant", "to_tensor", ("x",))
_add(
    NP,
    "abs absolute square sqrt exp expm1 log log1p tanh negative sign round floor ceil reciprocal ones_like "
    "zeros_like isnan isinf isfinite logical_not sin cos copy nan_to_num",
    "unary",
    ("x",),
)
_add(NP, "asarray array", "to_tensor", ("x",))
_add(NP, "clip", "clip", ("x", "lo", "hi"))

# element-wise binary with broadcasting
for word, tf_names, kops_names, np_names in (
    ("add", "add add_v2", "add", "add"),
    ("subtract", "subtract squared_difference", "subtract", "subtract"),
    ("multiply", "multiply multiply_no_nan xlogy", "multiply", "multiply"),
    (
        "divide",
        "divide truediv realdiv divide_no_nan xdivy floordiv floormod mod",
        "divide true_divide divide_no_nan floor_divide mod",
        "divide true_divide floor_divide mod",
    ),
    ("power", "pow", "power", "power"),
    ("compare", "equal not_equal greater greater_equal less less_equal logical_and logical_or logical_xor maximum minimum",
     "equal not_equal greater greater_equal less less_equal logical_and logical_or logical_xor maximum minimum",
     "equal not_equal greater greater_equal less less_equal logical_and logical_or fmax fmin maximum minimum"),
):
    _add(TF, tf_names, "binary", ("x", "y"), word=word)
    _add(KOPS, kops_names, "binary", ("x", "y"), word=word)
    _add(NP, np_names, "binary", ("x", "y"), word=word)
_add(KB, "maximum minimum equal not_equal greater greater_equal less less_equal", "binary", ("x", "y"), word="compare")
_add(KB, "pow", "binary", ("x", "y"), word="power")

_add(TF, "where where_v2", "where", ("cond", "x", "y"))
_add(KOPS, "where", "where", ("cond", "x", "y"))
_add(NP, "where", "where", ("cond", "x", "y"))

# reductions
_add(
    TF,
    "reduce_mean reduce_sum reduce_max reduce_min reduce_prod reduce_any reduce_all reduce_logsumexp "
    "reduce_std reduce_variance reduce_euclidean_norm count_nonzero",
    "reduce",
    ("x", "axis", "keepdims"),
)
_add(TF, "argmax argmin", "reduce", ("x", "axis"), default_axis=0, none_axis=0, has_keepdims=False)
_add(KOPS, "mean sum max min prod any all logsumexp std var amax amin", "reduce", ("x", "axis", "keepdims"))
_add(KOPS, "count_nonzero", "reduce", ("x", "axis"), has_keepdims=False)
_add(KOPS, "argmax argmin", "reduce", ("x", "axis", "keepdims"))
_add(KB, "mean sum max min prod any all std var logsumexp", "reduce", ("x", "axis", "keepdims"))
_add(KB, "argmax argmin", "reduce", ("x", "axis"), default_axis=-1, has_keepdims=False)
# NumPy: keepdims is keyword-only in practice (its position differs between functions)
_add(NP, "mean sum max min prod any all std var amax amin nanmean nansum nanmax nanmin average", "reduce", ("x", "axis"))
_add(NP, "argmax argmin", "reduce", ("x", "axis"))
for _key, _spec in list(TABLE.items()):
    if _key[0] == NP and _spec.kind == "reduce":  # NumPy refuses a list of axes (TypeError)
        TABLE[_key] = OpSpec(_spec.kind, _spec.params, {**_spec.options, "tuple_axes": True})

# structure
_add(TF, "expand_dims", "expand_dims", ("x", "axis"))
_add(KOPS, "expand_dims", "expand_dims", ("x", "axis"))
_add(KB, "expand_dims", "expand_dims", ("x", "axis"), default_axis=-1)
_add(NP, "expand_dims", "expand_dims", ("x", "axis"))
_add(TF, "squeeze", "squeeze", ("x", "axis"))
_add(KOPS, "squeeze", "squeeze", ("x", "axis"))
_add(KB, "squeeze", "squeeze", ("x", "axis"))
_add(NP, "squeeze", "squeeze", ("x", "axis"))
_add(TF, "concat", "concat", ("values", "axis"))
_add(KOPS, "concatenate", "concat", ("values", "axis"), default_axis=0)
_add(KB, "concatenate", "concat", ("values", "axis"), default_axis=-1)
_add(NP, "concatenate", "concat", ("values", "axis"), default_axis=0)
_add(TF, "stack", "stack", ("values", "axis"), default_axis=0)
_add(KOPS, "stack", "stack", ("values", "axis"), default_axis=0)
_add(KB, "stack", "stack", ("values", "axis"), default_axis=0)
_add(NP, "stack", "stack", ("values", "axis"), default_axis=0)
_add(TF, "reshape", "reshape", ("x", "shape"))
_add(KOPS, "reshape", "reshape", ("x", "shape"))
_add(KB, "reshape", "reshape", ("x", "shape"))
_add(NP, "reshape", "reshape", ("x", "shape"))
_add(TF, "transpose", "transpose", ("x", "perm"))
_add(KOPS, "transpose", "transpose", ("x", "perm"))
_add(KB, "transpose", "transpose", ("x",))
_add(KB, "permute_dimensions", "transpose", ("x", "perm"))
_add(NP, "transpose", "transpose", ("x", "perm"))
_add(TF, "matmul", "matmul", ("x", "y", "transpose_a", "transpose_b"))
_add(KOPS, "matmul", "matmul", ("x", "y"))
_add(NP, "matmul", "matmul", ("x", "y"))
_add(TF, "gather", "gather", ("x", "indices", "validate_indices", "axis", "batch_dims"), default_axis=0, none_axis=0)
_add(KOPS, "take", "gather", ("x", "indices", "axis"))
_add(NP, "take", "gather", ("x", "indices", "axis"))
_add(KB, "gather", "gather", ("x", "indices"), default_axis=0)
_add(TF, "one_hot", "one_hot", ("x", "depth", "on_value", "off_value", "axis"), default_axis=-1, none_axis=-1)
_add(KOPS, "one_hot", "one_hot", ("x", "depth", "axis"), default_axis=-1)
_add(KB, "one_hot", "one_hot", ("x", "depth"), default_axis=-1)
for fam in ("keras", "tf.keras"):
    _add(fam, "utils.to_categorical", "one_hot", ("x", "depth"), default_axis=-1, squeeze_last=True)
_add(KB, "epsilon", "number", (), value=1e-7)
_add("keras", "config.epsilon backend.epsilon", "number", (), value=1e-7)
_add((TF, KOPS, NP) + KB, "ones zeros", "constructor", ("shape",))
_add(TF, "fill", "constructor", ("shape", "value"))
_add(TF, "shape", "shape", ("x",))
_add(KOPS, "shape", "shape", ("x",))
_add(KB, "int_shape shape", "shape", ("x",))
_add(NP, "shape", "shape", ("x",))

# losses: keras.losses functions, what kind of shape rule each follows
LOSS_FUNCTIONS: dict[str, str] = {
    "binary_crossentropy": "crossentropy",
    "categorical_crossentropy": "crossentropy",
    "binary_focal_crossentropy": "crossentropy",
    "categorical_focal_crossentropy": "crossentropy",
    "sparse_categorical_crossentropy": "sparse",
    "kl_divergence": "crossentropy",
    "poisson": "crossentropy",
    "mean_squared_error": "regression",
    "mean_absolute_error": "regression",
    "mean_absolute_percentage_error": "regression",
    "mean_squared_logarithmic_error": "regression",
    "huber": "regression",
    "log_cosh": "regression",
    "cosine_similarity": "regression",
    "hinge": "regression",
    "squared_hinge": "regression",
    "categorical_hinge": "regression",
    "dice": "reduce_all",
    "tversky": "reduce_all",
    "elementwise_ce": "elementwise_ce",
}
_LOSS_ALIASES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error", "logcosh": "log_cosh", "kld": "kl_divergence",
    "KLD": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
}
_LOSS_CLASSES = {
    "BinaryCrossentropy": "binary_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy", "KLDivergence": "kl_divergence",
    "Poisson": "poisson", "MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error", "Huber": "huber", "LogCosh": "log_cosh",
    "CosineSimilarity": "cosine_similarity", "Hinge": "hinge", "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge", "Dice": "dice", "Tversky": "tversky",
}
for fam in ("keras.losses", "tf.keras.losses"):
    for name in list(LOSS_FUNCTIONS) + list(_LOSS_ALIASES):
        if name == "elementwise_ce":
            continue
        fn = _LOSS_ALIASES.get(name, name)
        TABLE[(fam, name)] = OpSpec("loss_fn", ("y_true", "y_pred"), {"fn": fn, "family": fam})
    for cls, fn in _LOSS_CLASSES.items():
        TABLE[(fam, cls)] = OpSpec("loss_class", (), {"fn": fn, "family": fam, "all_keywords": True})
# keras.ops / backend crossentropies: same-shape operands; binary is element-wise (no reduction)
TABLE[(KOPS, "binary_crossentropy")] = OpSpec("nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": KOPS})
TABLE[(KOPS, "categorical_crossentropy")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "categorical_crossentropy", "family": KOPS}
)
TABLE[(KOPS, "sparse_categorical_crossentropy")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "sparse_categorical_crossentropy", "family": KOPS}
)
for fam in KB:
    TABLE[(fam, "binary_crossentropy")] = OpSpec("nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": fam})
    TABLE[(fam, "categorical_crossentropy")] = OpSpec(
        "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "categorical_crossentropy", "family": fam}
    )
    TABLE[(fam, "sparse_categorical_crossentropy")] = OpSpec(
        "nn_ce", ("y_true", "y_pred", "from_logits", "axis"), {"fn": "sparse_categorical_crossentropy", "family": fam}
    )
TABLE[(TF, "sigmoid_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred"), {"fn": "elementwise_ce", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
TABLE[(TF, "softmax_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred", "axis"), {"fn": "categorical_crossentropy", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
TABLE[(TF, "sparse_softmax_cross_entropy_with_logits")] = OpSpec(
    "nn_ce", ("y_true", "y_pred"), {"fn": "sparse_categorical_crossentropy", "family": TF, "aliases": {"labels": "y_true", "logits": "y_pred"}}
)
# Parameter names people pass by keyword, per family, mapped onto the table's names.
KEYWORD_ALIASES: dict[str, str] = {
    "input_tensor": "x", "input": "x", "a": "x", "tensor": "x", "params": "x", "reference": "x",
    "x1": "x", "x2": "y", "b": "y", "condition": "cond", "values": "values", "xs": "values",
    "tensors": "values", "arrays": "values", "newshape": "shape", "axes": "perm", "pattern": "perm",
    "num_classes": "depth", "clip_value_min": "lo", "clip_value_max": "hi", "x_min": "lo", "x_max": "hi",
    "min_value": "lo", "max_value": "hi", "a_min": "lo", "a_max": "hi", "target": "y_true", "output": "y_pred",
    "keep_dims": "keepdims", "indices": "indices", "y": "x", "dim": "axis", "dims": "shape",
    "labels": "y_true", "logits": "y_pred",
}


def lookup(family: str, name: str) -> OpSpec | None:
    if family in ("tf.keras", "keras") and name.startswith("ops."):
        family, name = KOPS, name[4:]
    elif family in ("tf.keras", "keras") and name.startswith("backend."):
        family, name = "tf.keras.backend", name[len("backend.") :]
    elif family == "tf.keras" and name.startswith("losses."):
        family, name = "tf.keras.losses", name[len("losses.") :]
    elif family == "keras" and name.startswith("losses."):
        family, name = "keras.losses", name[len("losses.") :]
    elif family == TF and name.startswith("losses."):  # tf.losses.* are the tf.keras.losses functions
        family, name = "tf.keras.losses", name[len("losses.") :]
    if family in ("keras.metrics", "tf.keras.metrics") and name[:1].islower():
        # metric *functions* compute the same per-example values as the loss functions
        family = family.replace("metrics", "losses")
    return TABLE.get((family, name))
