"""Kinds of calls, by the last part of their name (``tf.cast``, ``K.cast``, ``ops.cast`` alike),
that several facts read: which calls keep a mask a mask, which compare, which ask for a shape,
which run a training step. One list per kind, so that the facts cannot drift apart.

Names only: the libraries differ in spelling (``to_float`` is TensorFlow 1's ``cast``), not in
what these calls do to the values that matter here.
"""

from __future__ import annotations

# element-wise comparisons: a 0/1 or boolean result, whatever they compare
COMPARISONS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"})
# boolean combinations of masks
LOGICAL = frozenset({"logical_and", "logical_or", "logical_xor"})
# element-wise tests that give a boolean mask
BOOLEAN_TESTS = frozenset({"logical_not", "is_finite", "is_nan", "isnan", "isfinite"})

# conversions of dtype: the same values (a mask stays a mask, a probability a probability)
CASTS = frozenset({"cast", "to_float", "to_int32", "cast_to_floatx"})
# the same values in another layout, or without their gradient
SAME_VALUES = frozenset({"stop_gradient", "expand_dims", "squeeze", "identity", "convert_to_tensor"})
# what keeps a mask a mask, a count a count
KEEPS_VALUES = CASTS | SAME_VALUES

# what asks for a tensor's shape (or its size) rather than its values
SHAPE_QUERIES = frozenset({"shape", "int_shape", "get_shape", "rank", "ndim", "size", "shape_n"})

# calls that run (or differentiate) one training step: a GradientTape loop's, an optimizer's
TRAINING_STEP_CALLS = frozenset({"gradient", "minimize", "apply_gradients"})
