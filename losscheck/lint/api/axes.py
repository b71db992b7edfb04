"""How the axis-taking ops that loss code calls take their axis, and what each does without one.

Data read by ``wrong-axis`` (LCK102). Defaults are read from the TensorFlow 2.21, Keras 3.15 and
NumPy signatures: ``tf.split``/``tf.unstack``/``keras.ops.concatenate`` default to axis 0 (the
batch), ``keras.ops.argmax`` flattens, ``tf.concat`` needs an axis.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxisOp:
    """Where an op takes its axis and what it does without one."""

    kind: str  # "softmax" | "argmax" | "one_hot" | "concat" | "gather" | "split" | "unstack"
    position: int | None  # positional index of the axis argument (None: keyword only)
    default: str  # "0": defaults to the batch axis; "flat": flattens (batch included); "ok": a feature axis


# (family, op) -> how it takes its axis. Defaults read from TF 2.21 / Keras 3.15 / NumPy signatures.
AXIS_OPS: dict[tuple[str, str], AxisOp] = {
    ("tensorflow", "softmax"): AxisOp("softmax", 1, "ok"),
    ("tensorflow", "log_softmax"): AxisOp("softmax", 1, "ok"),
    ("keras.ops", "softmax"): AxisOp("softmax", 1, "ok"),
    ("keras.ops", "log_softmax"): AxisOp("softmax", 1, "ok"),
    ("keras.backend", "softmax"): AxisOp("softmax", 1, "ok"),
    ("tf.keras.backend", "softmax"): AxisOp("softmax", 1, "ok"),
    ("tensorflow", "argmax"): AxisOp("argmax", 1, "0"),
    ("tensorflow", "argmin"): AxisOp("argmax", 1, "0"),
    ("keras.ops", "argmax"): AxisOp("argmax", 1, "flat"),
    ("keras.ops", "argmin"): AxisOp("argmax", 1, "flat"),
    ("keras.backend", "argmax"): AxisOp("argmax", 1, "ok"),
    ("tf.keras.backend", "argmax"): AxisOp("argmax", 1, "ok"),
    ("numpy", "argmax"): AxisOp("argmax", 1, "flat"),
    ("numpy", "argmin"): AxisOp("argmax", 1, "flat"),
    ("tensorflow", "one_hot"): AxisOp("one_hot", 5, "ok"),
    ("keras.ops", "one_hot"): AxisOp("one_hot", 2, "ok"),
    ("tensorflow", "concat"): AxisOp("concat", 1, "ok"),
    ("keras.ops", "concatenate"): AxisOp("concat", 1, "0"),
    ("keras.backend", "concatenate"): AxisOp("concat", 1, "ok"),
    ("tf.keras.backend", "concatenate"): AxisOp("concat", 1, "ok"),
    ("tensorflow", "gather"): AxisOp("gather", 3, "0"),
    ("keras.ops", "take"): AxisOp("gather", 2, "flat"),
    ("tensorflow", "split"): AxisOp("split", 2, "0"),
    ("keras.ops", "split"): AxisOp("split", 2, "0"),
    ("tensorflow", "unstack"): AxisOp("unstack", 2, "0"),
    ("keras.ops", "unstack"): AxisOp("unstack", 2, "0"),
}


def axis_message(kind: str, callee: str, default: str | None, operand: str) -> str:
    """``default``: None when ``axis=0`` is written, else what the op does without an axis
    ("0": axis 0; "flat": it flattens the tensor first)."""
    if default == "flat":
        what = {
            "argmax": "it picks one position in the whole batch, not a class per sample. "
            "Pass `axis=-1` (the class axis).",
            "gather": "the indices pick single values of the whole batch, not channels. "
            "Pass `axis=-1` to pick channels.",
        }.get(kind, "it mixes the samples of the batch. Pass `axis=-1`.")
        return f"`{callee}` without an axis flattens `{operand}` first, batch axis included: {what}"
    given = "with axis=0" if default is None else "without an axis"
    if kind == "softmax":
        return (
            f"`{callee}` {given}: a softmax over axis 0 normalises across the samples of the batch, "
            f"not across the classes of `{operand}`. Use `axis=-1` (the class axis)."
        )
    if kind == "argmax":
        return (
            f"`{callee}` {given} works along axis 0 of `{operand}`, the batch axis: it picks a sample, "
            "not a class. Pass `axis=-1` (the class axis)."
        )
    if kind == "one_hot":
        return (
            f"`{callee}` {given} puts the classes before the batch axis of `{operand}`; the result no "
            "longer lines up with `y_pred`. Leave the default (`axis=-1`)."
        )
    if kind in ("split", "unstack"):
        return (
            f"`{callee}` {given} cuts `{operand}` along axis 0, the batch axis: the pieces are groups of "
            "samples, not channels or heads. Pass `axis=-1` (or the axis of the parts)."
        )
    if kind == "concat":
        return (
            f"`{callee}` {given} stacks the channel slices of `{operand}` along the batch axis "
            "(more rows, not more channels). Concatenate along `axis=-1`."
        )
    return (
        f"`{callee}` {given} gathers along axis 0 of `{operand}`, the batch axis: it picks samples of the "
        "batch, not channels. Pass `axis=-1` to pick channels."
    )
