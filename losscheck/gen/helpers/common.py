"""Framework-neutral functions of generated modules: they read ``tensor.shape`` or use
NumPy only.

Copied verbatim into every generated module that needs them (see the package docstring).
"""

# The generated module defines its own ``_lc_packing`` table (output -> (channel axis,
# spatial shape, ((task, y_true channels), ...))); this empty one lets ``pack_targets``
# be imported and tested here.
_lc_packing = {}


def _lc_check(truth, pred, output, rank, true_channels, pred_channels, channel_axis):
    """Fail when the model's tensors do not fit the layout (at trace time, naming the
    output)."""
    for role, tensor, channels in (
        ("y_true", truth, true_channels),
        ("y_pred", pred, pred_channels),
    ):
        shape = tuple(tensor.shape)
        if len(shape) != rank or shape[channel_axis] not in (None, channels):
            raise ValueError(
                f"output {output!r}: {role} has shape {shape}, but the layout expects "
                f"rank {rank} with {channels} channels on axis {channel_axis}"
            )


def pack_targets(output, targets, dtype="float32"):
    """Pack one output's per-task targets into its ``y_true`` (a NumPy array).

    ``targets`` maps each task name of ``output`` to an array of shape (B, *spatial, c),
    channels last, or (B, *spatial) when the task has one y_true channel (binary tasks,
    sparse class indices). The result is laid out like the output (channels first when
    its channel axis is 1).
    """
    # Packing is data preparation, apart from the losses: NumPy is imported here only,
    # so the loss code of the module needs nothing but Keras.
    import numpy as np

    if output not in _lc_packing:
        raise ValueError(
            f"unknown output {output!r}; this module has {sorted(_lc_packing)}"
        )
    channel_axis, spatial, columns = _lc_packing[output]
    names = [name for name, _ in columns]
    missing = [name for name in names if name not in targets]
    unknown = sorted(str(name) for name in targets if name not in names)
    if missing or unknown:
        raise ValueError(
            f"output {output!r} needs targets for {names}; "
            f"missing {missing}, unknown {unknown}"
        )
    parts = []
    for name, channels in columns:
        part = np.asarray(targets[name], dtype=dtype)
        if channels == 1 and part.ndim == len(spatial) + 1:
            part = part[..., None]
        wanted = ("B", *[s if s is not None else "?" for s in spatial], channels)
        if (
            part.ndim != len(wanted)
            or part.shape[-1] != channels
            or any(
                s is not None and d != s
                for d, s in zip(part.shape[1:-1], spatial, strict=True)
            )
        ):
            raise ValueError(
                f"target {output}.{name} has shape {part.shape}; "
                f"expected {wanted} (channels last)"
            )
        parts.append(part)
    batch = {part.shape[0] for part in parts}
    if len(batch) != 1:
        raise ValueError(
            f"targets of output {output!r} disagree on the batch size: {sorted(batch)}"
        )
    packed = np.concatenate(parts, axis=-1)
    if channel_axis == 1:
        packed = np.moveaxis(packed, -1, 1)
    return packed
