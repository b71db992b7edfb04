"""Keras 2's backend functions that Keras 3's ``keras.backend`` no longer has, and what replaces them.

Read as data by ``removed-keras-api`` (LCK302: messages and fixes) and by the pre-filter (which
names still exist), so both see one table. Nothing here imports TensorFlow or Keras.

How the table was built (re-run on a Keras upgrade):

1. ``KERAS3_BACKEND``: the public names of Keras 3.15.1's ``keras.backend``
   (``dir(keras.backend)``, names without a leading underscore). A test compares it with the
   installed Keras.
2. The candidates: the public names of Keras 2's backend (``dir(tf_keras.backend)``, tf-keras
   2.21.0: 138 names) that ``KERAS3_BACKEND`` lacks.
3. ``REMOVED``: the candidates that loss and metric code calls (math, reductions, comparisons,
   shapes, casts, crossentropies, random numbers, constants and variables). ``OUTSIDE_LOSS_CODE``:
   the rest (graph and session control, layer internals such as convolutions and padding, RNN
   loops, variable updates), with a pointer for the message but no checked replacement. A test
   checks that the two together are exactly the candidates.
4. Each entry's replacement was checked numerically (``tests/keras_target/test_backend_table_numeric.py``):
   the Keras 2 function run through tf-keras against the Keras 3 replacement, on random inputs and
   on zeros, ones and the clip bounds (``epsilon``, ``1 - epsilon``), to 1e-5 relative. An entry
   is *safe* when values, dtype and shape agree on every input; otherwise ``why`` says how they
   differ and a fix is offered only as an unsafe one.

A fix is either a *rename* (``fix`` is a callee such as ``keras.ops.mean``: the arguments stay as
written, keywords whose name changed are renamed, and Keras 2 defaults that keras.ops does not
share are written out) or a *template* (``fix`` holds ``{param}`` placeholders: the whole call is
rewritten). ``params`` lists the Keras 2 parameters the fix understands, in order, as
``name`` or ``keras2_name:keras3_name``; a call that passes anything else gets no fix.
"""

from __future__ import annotations

from typing import NamedTuple

# What Keras 3's `keras.backend` still has (public names of Keras 3.15.1's `keras.backend`).
KERAS3_BACKEND: frozenset[str] = frozenset(
    {"backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
     "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
     "standardize_dtype"}
)


# NamedTuple, not dataclasses: the pre-filter imports this module on every run, and building a
# dataclass compiles its methods (milliseconds each); a NamedTuple costs a tenth of that.


class Check(NamedTuple):
    """One numeric comparison: ``keras2`` evaluated with ``K`` = ``tf_keras.backend``, ``keras3``
    with ``keras`` = Keras 3 (``K`` = Keras 3's ``keras.backend``). ``keras3=None``: what the
    rule's fix makes of ``keras2``. ``kind="distribution"``: random functions, compared by shape,
    dtype, mean and standard deviation over many draws."""

    keras2: str
    keras3: str | None = None
    kind: str = "values"


class BackendFunction(NamedTuple):
    name: str  # the Keras 2 backend function
    replacement: str  # what the message names
    fix: str | None = None  # a callee (rename) or a template with {param} placeholders; None: no fix
    params: tuple[str, ...] = ("x",)  # Keras 2 parameters the fix handles: "name" or "k2name:k3name"
    defaults: tuple[tuple[str, str], ...] = ()  # Keras 2 defaults written out when not passed
    positional: int | None = None  # positional arguments a rename keeps (None: all of params)
    safe: bool = True  # same values, dtype and shape on every measured input
    why: str = ""  # for an unsafe entry: how the values differ
    note: str = ""  # a caveat outside the measured inputs
    checks: tuple[Check, ...] = ()

    @property
    def is_template(self) -> bool:
        return self.fix is not None and "{" in self.fix

    def keras2_params(self) -> tuple[str, ...]:
        return tuple(p.split(":")[0] for p in self.params)

    def keras3_name(self, param: str) -> str:
        for p in self.params:
            k2, _, k3 = p.partition(":")
            if k2 == param:
                return k3 or k2
        return param


def _op(
    name: str, params: tuple[str, ...] = ("x",), *checks: str, to: str | None = None, **kw: object
) -> BackendFunction:
    """A rename to ``keras.ops.<to or name>``, checked on ``checks`` (Keras 2 expressions)."""
    target = f"keras.ops.{to or name}"
    return BackendFunction(
        name, kw.pop("replacement", target), kw.pop("fix", target), params,  # type: ignore[arg-type]
        checks=tuple(Check(c) for c in checks) + tuple(kw.pop("extra", ())),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


_EPS_BOUNDS = (
    "Keras 2 adds epsilon inside the logs (log(p + 1e-7)) where Keras 3 only clips p to [1e-7, 1 - 1e-7]: "
    "about 1e-7 apart in general, up to 0.69 (4.3%) at the clip bounds"
)
_REDUCE = ("x", "axis", "keepdims")
_PAIR = ("x:x1", "y:x2")

_ENTRIES: tuple[BackendFunction, ...] = (
    # -- element-wise math ---------------------------------------------------------------------
    _op("abs", ("x",), "K.abs(x)"),
    _op("exp", ("x",), "K.exp(x)"),
    _op("log", ("x",), "K.log(p)", "K.log(x)"),
    _op("square", ("x",), "K.square(x)"),
    _op("sign", ("x",), "K.sign(x)"),
    _op("round", ("x",), "K.round(x * 4.0)"),
    _op("sigmoid", ("x",), "K.sigmoid(x)"),
    _op("tanh", ("x",), "K.tanh(x)"),
    _op("softplus", ("x",), "K.softplus(x)"),
    _op("softsign", ("x",), "K.softsign(x)"),
    _op("cos", ("x",), "K.cos(x)"),
    _op("sin", ("x",), "K.sin(x)"),
    _op("sqrt", ("x",), "K.sqrt(x)", "K.sqrt(p)",
        replacement="keras.ops.sqrt(keras.ops.maximum(x, 0.0))", fix="keras.ops.sqrt(keras.ops.maximum({x}, 0.0))",
        note="Keras 2 clips negative inputs to 0 first; `keras.ops.sqrt` alone gives NaN for them."),
    _op("hard_sigmoid", ("x",), "K.hard_sigmoid(x)",
        replacement="keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)", fix="keras.ops.clip(0.2 * {x} + 0.5, 0.0, 1.0)",
        note="`keras.ops.hard_sigmoid` is another function: clip(x / 6 + 0.5, 0, 1), not clip(0.2 x + 0.5, 0, 1)."),
    _op("relu", ("x",), "K.relu(x)",
        note="With alpha, max_value or threshold there is no fix: use keras.ops.leaky_relu, keras.ops.relu6 "
        "or keras.ops.clip."),
    _op("elu", ("x", "alpha"), "K.elu(x)", "K.elu(x, 0.5)"),
    _op("softmax", ("x", "axis"), "K.softmax(x)", "K.softmax(x, axis=0)"),
    _op("pow", ("x:x1", "a:x2"), "K.pow(p, 2.0)", "K.pow(x, 3)", to="power"),
    _op("clip", ("x", "min_value:x_min", "max_value:x_max"), "K.clip(p, K.epsilon(), 1 - K.epsilon())",
        "K.clip(x, 0.1, 0.9)", "K.clip(x, min_value=-0.5, max_value=0.5)",
        note="Bounds given as None or with max < min: Keras 2 treated None as unbounded and max < min as max = min; "
        "keras.ops.clip does neither."),
    _op("maximum", _PAIR, "K.maximum(x, y)", "K.maximum(x, 0.0)"),
    _op("minimum", _PAIR, "K.minimum(x, y)", "K.minimum(x, 1.0)"),
    # -- reductions ---------------------------------------------------------------------------
    _op("mean", _REDUCE, "K.mean(x)", "K.mean(x, axis=-1)", "K.mean(x, 0, True)", "K.mean(cond, axis=-1)",
        note="On integer tensors keras.ops.mean returns floats (Keras 2: a truncated integer mean)."),
    _op("sum", _REDUCE, "K.sum(x)", "K.sum(x, axis=-1)", "K.sum(x, axis=(0, 1), keepdims=True)"),
    _op("max", _REDUCE, "K.max(x)", "K.max(x, axis=-1)", "K.max(x, 0, True)"),
    _op("min", _REDUCE, "K.min(x)", "K.min(x, axis=-1)", "K.min(x, 0, True)"),
    _op("prod", _REDUCE, "K.prod(p)", "K.prod(x, axis=-1)"),
    _op("std", _REDUCE, "K.std(x)", "K.std(x, axis=-1)", "K.std(x, axis=0, keepdims=True)"),
    _op("var", _REDUCE, "K.var(x)", "K.var(x, axis=-1)", "K.var(x, axis=0, keepdims=True)"),
    _op("any", _REDUCE, "K.any(x > 0.5)", "K.any(cond, axis=-1)", "K.any(x, axis=0)"),
    _op("all", _REDUCE, "K.all(x > 0.5)", "K.all(cond, axis=-1)", "K.all(x, axis=0)"),
    _op("cumsum", ("x", "axis"), "K.cumsum(x)", "K.cumsum(x, axis=1)", defaults=(("axis", "0"),)),
    _op("cumprod", ("x", "axis"), "K.cumprod(p)", "K.cumprod(x, axis=1)", defaults=(("axis", "0"),)),
    _op("argmax", ("x", "axis"), "K.argmax(x)", "K.argmax(x, axis=0)", defaults=(("axis", "-1"),),
        safe=False, why="keras.ops.argmax returns int32 where Keras 2 returned int64 (same indices)"),
    _op("argmin", ("x", "axis"), "K.argmin(x)", "K.argmin(x, axis=0)", defaults=(("axis", "-1"),),
        safe=False, why="keras.ops.argmin returns int32 where Keras 2 returned int64 (same indices)"),
    # -- comparisons --------------------------------------------------------------------------
    _op("equal", _PAIR, "K.equal(K.round(x), K.round(y))", "K.equal(cond, True)"),
    _op("not_equal", _PAIR, "K.not_equal(K.round(x), K.round(y))"),
    _op("greater", _PAIR, "K.greater(x, y)", "K.greater(p, 0.5)"),
    _op("greater_equal", _PAIR, "K.greater_equal(x, y)", "K.greater_equal(p, 0.5)"),
    _op("less", _PAIR, "K.less(x, y)", "K.less(p, 0.5)"),
    _op("less_equal", _PAIR, "K.less_equal(x, y)", "K.less_equal(p, 0.5)"),
    _op("switch", ("condition", "then_expression:x1", "else_expression:x2"), "K.switch(cond, x, y)",
        "K.switch(x > 0, x, 0.0 * x)",
        "K.switch(cond, K.stack([x, y], axis=-1), K.stack([y, x], axis=-1))", to="where", safe=False,
        why="Keras 2 lines a lower-rank condition up with the leading axes (keras.ops.where broadcasts from "
        "the trailing ones) and calls callable branches; same values for a condition of the branches' shape"),
    # -- shapes and layout --------------------------------------------------------------------
    _op("concatenate", ("tensors:xs", "axis"), "K.concatenate([x, y])", "K.concatenate([x, y], axis=0)",
        defaults=(("axis", "-1"),)),
    _op("stack", ("x", "axis"), "K.stack([x, y])", "K.stack([x, y], axis=-1)"),
    _op("expand_dims", ("x", "axis"), "K.expand_dims(x)", "K.expand_dims(x, 0)", defaults=(("axis", "-1"),)),
    _op("squeeze", ("x", "axis"), "K.squeeze(K.expand_dims(x), -1)", "K.squeeze(a3[:, :1], axis=1)"),
    _op("reshape", ("x", "shape:newshape"), "K.reshape(x, (-1,))", "K.reshape(x, (3, 4))",
        "K.reshape(x, shape=(2, 6))"),
    _op("transpose", ("x",), "K.transpose(x)", "K.transpose(a3)"),
    _op("permute_dimensions", ("x", "pattern:axes"), "K.permute_dimensions(a3, (0, 2, 1))", to="transpose"),
    _op("tile", ("x", "n:repeats"), "K.tile(x, (2, 1))", "K.tile(x, [1, 3])",
        note="An int `n` on a tensor of rank 2 or more: Keras 2 failed, keras.ops.tile tiles the last axis."),
    _op("repeat_elements", ("x", "rep:repeats", "axis"), "K.repeat_elements(x, 2, axis=1)",
        "K.repeat_elements(x, 3, 0)", to="repeat"),
    _op("reverse", ("x", "axes:axis"), "K.reverse(x, 1)", "K.reverse(x, axes=(0, 1))", to="flip"),
    _op("flatten", ("x",), "K.flatten(x)", "K.flatten(a3)",
        replacement="keras.ops.reshape(x, (-1,))", fix="keras.ops.reshape({x}, (-1,))"),
    _op("batch_flatten", ("x",), "K.batch_flatten(a3)", "K.batch_flatten(x)",
        replacement="keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))",
        fix="keras.ops.reshape({x}, (keras.ops.shape({x})[0], -1))"),
    _op("repeat", ("x", "n"), "K.repeat(x, 3)",
        replacement="keras.ops.repeat(keras.ops.expand_dims(x, 1), n, axis=1)",
        fix="keras.ops.repeat(keras.ops.expand_dims({x}, 1), {n}, axis=1)"),
    _op("gather", ("reference", "indices"), "K.gather(x, labels)", "K.gather(a3, labels[:2] % 2)",
        replacement="keras.ops.take(x, indices, axis=0)", fix="keras.ops.take({reference}, {indices}, axis=0)"),
    _op("one_hot", ("indices:x", "num_classes"), "K.one_hot(labels, 3)", "K.one_hot(labels, num_classes=5)"),
    _op("stop_gradient", ("variables:variable",), "K.stop_gradient(x)"),
    _op("l2_normalize", ("x", "axis"), "K.l2_normalize(x)", "K.l2_normalize(x, axis=-1)",
        "K.l2_normalize(x * 1e-8, axis=-1)", defaults=(("axis", "None"),),
        replacement="keras.ops.normalize(x, axis=..., epsilon=1e-6)",
        fix="keras.ops.normalize({x}, axis={axis}, epsilon=1e-6)",
        note="Keras 2 bounds the squared norm below by 1e-12, keras.ops.normalize the norm by its epsilon "
        "(default 1e-7): epsilon=1e-6 gives Keras 2's values. Keras 2's default axis is None (all axes)."),
    _op("dot", _PAIR, "K.dot(x, K.transpose(y))", "K.dot(a3, b3[0])"),
    BackendFunction(
        "batch_dot",
        "keras.ops.matmul(x, y) for rank-3 inputs without axes, keras.ops.sum(x * y, axis=-1, keepdims=True) "
        "for rank-2 inputs, else keras.ops.einsum",
        safe=False,
        why="its meaning depends on the ranks and `axes`: no one keras.ops function gives Keras 2's values",
        checks=(
            Check("K.batch_dot(a3, b3)", "keras.ops.matmul(a3, b3)"),
            Check("K.batch_dot(x, y)", "keras.ops.sum(x * y, axis=-1, keepdims=True)"),
            Check("K.batch_dot(x, y)", "keras.ops.matmul(x, keras.ops.transpose(y))"),
        ),
    ),
    # -- crossentropies -----------------------------------------------------------------------
    _op("binary_crossentropy", ("target", "output", "from_logits"), "K.binary_crossentropy(t, p)",
        "K.binary_crossentropy(t, logits, from_logits=True)", "K.binary_crossentropy(t, K.sigmoid(logits))",
        safe=False, why=_EPS_BOUNDS,
        note="Element-wise, as Keras 2's was. `keras.losses.binary_crossentropy` is another function: it "
        "averages the last axis."),
    _op("categorical_crossentropy", ("target", "output", "from_logits", "axis"),
        "K.categorical_crossentropy(t1h, p)", "K.categorical_crossentropy(t1h, logits, from_logits=True)",
        "K.categorical_crossentropy(t1h, K.softmax(logits))", "K.categorical_crossentropy(t, p, axis=0)",
        note="Reduces `axis` (default -1) as Keras 2's did; `keras.losses.categorical_crossentropy` also does, "
        "but takes `y_true, y_pred` and adds label smoothing."),
    _op("sparse_categorical_crossentropy", ("target", "output", "from_logits", "axis"),
        "K.sparse_categorical_crossentropy(labels, p)",
        "K.sparse_categorical_crossentropy(labels, logits, from_logits=True)",
        "K.sparse_categorical_crossentropy(labels[:, None], p)",
        note="Keras 2 also took `ignore_class`: a call that passes it gets no fix."),
    BackendFunction(
        "binary_focal_crossentropy",
        "the focal factor times keras.ops.binary_crossentropy (keras.ops has no focal crossentropy; "
        "keras.losses.binary_focal_crossentropy averages the last axis)",
        safe=False,
        why=_EPS_BOUNDS,
        checks=(Check("K.binary_focal_crossentropy(t, p)",
                      "keras.ops.power(1.0 - (t * p + (1 - t) * (1 - p)), 2.0)"
                      " * keras.ops.binary_crossentropy(t, p)"),),
    ),
    _op("categorical_focal_crossentropy",
        ("target:y_true", "output:y_pred", "alpha", "gamma", "from_logits", "axis"),
        "K.categorical_focal_crossentropy(t1h, p)", "K.categorical_focal_crossentropy(t1h, logits, from_logits=True)",
        "K.categorical_focal_crossentropy(t1h, p, gamma=3.0)",
        replacement="keras.losses.categorical_focal_crossentropy",
        fix="keras.losses.categorical_focal_crossentropy", positional=5),
    BackendFunction(
        "ctc_batch_cost",
        "keras.ops.ctc_loss(y_true, keras.ops.log(y_pred + keras.config.epsilon()), label_length[:, 0], "
        "input_length[:, 0], mask_index=<number of classes - 1>)[:, None]",
        checks=(Check("K.ctc_batch_cost(ctc_labels, ctc_probs, ctc_input_length, ctc_label_length)",
                      "keras.ops.expand_dims(keras.ops.ctc_loss(ctc_labels, keras.ops.log(ctc_probs + K.epsilon()), "
                      "ctc_label_length[:, 0], ctc_input_length[:, 0], mask_index=4), 1)"),),
        note="Keras 2's blank label is the last class, keras.ops.ctc_loss's is `mask_index` (default 0).",
    ),
    # -- casts, dtypes, shapes ----------------------------------------------------------------
    _op("cast", ("x", "dtype"), "K.cast(x > 0, 'float32')", "K.cast(x * 3.0, 'int32')",
        "K.cast(labels, dtype='float32')"),
    _op("cast_to_floatx", ("x",), "K.cast_to_floatx(labels)", "K.cast_to_floatx(cond)",
        replacement="keras.ops.cast(x, keras.config.floatx())", fix="keras.ops.cast({x}, keras.config.floatx())"),
    _op("int_shape", ("x",), "K.int_shape(x)", "K.int_shape(a3)", replacement="x.shape", fix="{x}.shape",
        note="On the TensorFlow backend `x.shape` is a TensorShape (indexing, len and == with a tuple "
        "behave as Keras 2's tuple); `tuple(x.shape)` for a tuple."),
    _op("shape", ("x",), "K.shape(x)", "K.shape(x)[0]", safe=False,
        why="keras.ops.shape returns a tuple (dynamic sizes as scalar tensors), not an int32 tensor: "
        "arithmetic on the whole shape (`K.shape(x) * 2`) changes meaning"),
    _op("ndim", ("x",), "K.ndim(x)", "K.ndim(a3)"),
    _op("dtype", ("x",), "K.dtype(x)", "K.dtype(labels)", replacement="keras.backend.standardize_dtype(x.dtype)",
        fix="keras.backend.standardize_dtype({x}.dtype)"),
    # -- constants and variables --------------------------------------------------------------
    _op("zeros", ("shape", "dtype"), "K.zeros((2, 3))", "K.zeros((2, 3), dtype='int32')"),
    _op("ones", ("shape", "dtype"), "K.ones((2, 3))", "K.ones((4,), 'int32')"),
    _op("zeros_like", ("x", "dtype"), "K.zeros_like(x)", "K.zeros_like(x, dtype='int32')"),
    _op("ones_like", ("x", "dtype"), "K.ones_like(x)", "K.ones_like(labels)"),
    _op("eye", ("size:N", "dtype"), "K.eye(3)", "K.eye(4, dtype='int32')", positional=1),
    _op("arange", ("start", "stop", "step", "dtype"), "K.arange(5)", "K.arange(1, 7, 2)", "K.arange(0.0, 1.0, 0.25)"),
    _op("constant", ("value", "dtype"), "K.constant([1, 2, 3])", "K.constant(0.5)",
        "K.constant([[1, 2]], dtype='int32')",
        replacement="keras.ops.convert_to_tensor(value, dtype=keras.config.floatx())",
        fix="keras.ops.convert_to_tensor({value}, dtype={dtype})", defaults=(("dtype", "keras.config.floatx()"),)),
    _op("variable", ("value", "dtype"), "K.variable([[1.0, 2.0], [3.0, 4.0]])", "K.variable([1, 2, 3])",
        replacement="keras.Variable(value, dtype=keras.config.floatx())",
        fix="keras.Variable({value}, dtype={dtype})", defaults=(("dtype", "keras.config.floatx()"),)),
    _op("get_value", ("x",), "K.get_value(x)", to="convert_to_numpy"),
    _op("eval", ("x",), "K.eval(x)", to="convert_to_numpy"),
    # -- metrics and functional helpers -------------------------------------------------------
    _op("in_top_k", ("predictions", "targets", "k"), "K.in_top_k(p, labels, 1)", "K.in_top_k(p, labels, 2)",
        replacement="keras.ops.in_top_k(targets, predictions, k)",
        fix="keras.ops.in_top_k({targets}, {predictions}, {k})"),
    _op("map_fn", ("fn:f", "elems:xs"), "K.map_fn(lambda row: row * 2.0, x)", to="map",
        note="Keras 2's `dtype` and `name` arguments: no fix."),
    # -- random numbers (same distribution, other draws) --------------------------------------
    *(
        BackendFunction(
            name, f"keras.random.{to}", f"keras.random.{to}", params, safe=False,
            why="random: the same distribution (checked), other draws",
            checks=tuple(Check(c, kind="distribution") for c in checks),
        )
        for name, to, params, checks in (
            ("random_normal", "normal", ("shape", "mean", "stddev", "dtype", "seed"),
             ("K.random_normal((20000,))", "K.random_normal((20000,), mean=1.0, stddev=0.5)")),
            ("random_uniform", "uniform", ("shape", "minval", "maxval", "dtype", "seed"),
             ("K.random_uniform((20000,))", "K.random_uniform((20000,), -2.0, 2.0)")),
            ("truncated_normal", "truncated_normal", ("shape", "mean", "stddev", "dtype", "seed"),
             ("K.truncated_normal((20000,))", "K.truncated_normal((20000,), 1.0, 0.5)")),
            ("dropout", "dropout", ("x:inputs", "level:rate", "noise_shape", "seed"),
             ("K.dropout(K.ones((20000,)), 0.3)",)),
        )
    ),
    *(
        BackendFunction(
            name, "keras.random.binomial(shape, 1, p)", "keras.random.binomial({shape}, 1, {p})", ("shape", "p"),
            defaults=(("p", "0.0"),), safe=False, why="random: the same distribution (checked), other draws",
            checks=(Check(f"K.{name}((20000,), 0.3)", kind="distribution"),
                    Check(f"K.{name}((20000,), p=0.8)", kind="distribution")),
        )
        for name in ("random_bernoulli", "random_binomial")
    ),
)

REMOVED: dict[str, BackendFunction] = {entry.name: entry for entry in _ENTRIES}

# What Keras 3's tf.keras.backend (its TensorFlow-only copy of Keras 2's backend, TensorFlow 2.21 with
# Keras 3.15.1) lacks of Keras 2's: `losscheck migrate` reports these in tf.keras code too.
KERAS3_TF_KERAS_LACKS: frozenset[str] = frozenset(
    {"experimental", "function", "in_test_phase", "in_train_phase", "learning_phase", "learning_phase_scope",
     "local_conv1d", "local_conv2d", "manual_variable_initialization", "normalize_batch_in_training",
     "placeholder", "print_tensor", "random_binomial", "reset_uids", "set_learning_phase"}
)

# Keras 2 backend functions that loss and metric code does not call: still reported for a
# Keras 3 target (they do not exist there), with this pointer ("": none); no fix, no numeric check.
OUTSIDE_LOSS_CODE: dict[str, str] = {
    **dict.fromkeys(("learning_phase", "set_learning_phase", "learning_phase_scope", "in_train_phase",
                     "in_test_phase"), "the `training` argument of `call`"),
    **dict.fromkeys(("conv1d", "conv2d", "conv3d", "conv2d_transpose", "depthwise_conv2d", "separable_conv2d",
                     "local_conv1d", "local_conv2d"), "keras.ops.conv / keras.ops.depthwise_conv / keras.layers"),
    **dict.fromkeys(("pool2d", "pool3d"), "keras.ops.max_pool / keras.ops.average_pool"),
    **dict.fromkeys(("spatial_2d_padding", "spatial_3d_padding", "temporal_padding"), "keras.ops.pad"),
    **dict.fromkeys(("resize_images", "resize_volumes"), "keras.layers.UpSampling2D / keras.layers.UpSampling3D"),
    **dict.fromkeys(("batch_normalization", "normalize_batch_in_training"), "keras.ops.batch_normalization"),
    **dict.fromkeys(("update", "update_add", "update_sub", "set_value", "batch_set_value", "moving_average_update"),
                    "variable.assign(...) / assign_add / assign_sub"),
    **dict.fromkeys(("batch_get_value",), "keras.ops.convert_to_numpy"),
    **dict.fromkeys(("random_normal_variable", "random_uniform_variable"),
                    "keras.Variable(keras.random.normal(...)) / keras.random.uniform"),
    **dict.fromkeys(("foldl", "foldr"), "keras.ops.fori_loop / keras.ops.scan"),
    **dict.fromkeys(("bias_add",), "x + bias"),
    **dict.fromkeys(("rnn",), "keras.layers.RNN"),
    **dict.fromkeys(("ctc_decode", "ctc_label_dense_to_sparse"), "keras.ops.ctc_decode"),
    **dict.fromkeys(("function", "placeholder", "gradients", "name_scope", "print_tensor", "count_params",
                     "manual_variable_initialization", "reset_uids", "is_sparse", "to_dense", "experimental"),
                    ""),  # graph and session code: no Keras 3 counterpart
}
