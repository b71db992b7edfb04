"""The parameter names that make a function look like ``fn(y_true, y_pred)``.

One table, read by the finder (``lint/finder.py``, on the tree) and by the pre-filter
(``lint/prefilter_checks.py``, on the raw bytes before anything is parsed). Nothing here imports
libcst, so the pre-filter stays cheap.
"""

from __future__ import annotations

# Names that say "the target" / "the prediction" unambiguously.
STRONG_TRUE = frozenset({"y_true", "ytrue", "y_t", "y_gt", "true_y", "y_target", "y_label", "y_labels"})
STRONG_PRED = frozenset(
    {"y_pred", "ypred", "y_p", "y_hat", "yhat", "y_predicted", "pred_y", "y_preds", "y_prediction", "y_logits"}
)
# A strong name with a suffix of the author's (`y_true_u` for a cast copy, `y_pred_f` for a
# flattened one) is as strong.
STRONG_TRUE_PREFIX = "y_true_"
STRONG_PRED_PREFIX = "y_pred_"


def is_strong_true(name: str) -> bool:
    return name in STRONG_TRUE or (name.startswith(STRONG_TRUE_PREFIX) and len(name) > len(STRONG_TRUE_PREFIX))


def is_strong_pred(name: str) -> bool:
    return name in STRONG_PRED or (name.startswith(STRONG_PRED_PREFIX) and len(name) > len(STRONG_PRED_PREFIX))


# Usual partners of a strong name.
PARTNER_TRUE = STRONG_TRUE | {
    "true", "gt", "label", "labels", "target", "targets", "y", "actual", "truth", "ground_truth", "y_actual",
}
PARTNER_PRED = STRONG_PRED | {
    "pred", "preds", "prediction", "predictions", "logits", "output", "outputs", "probs", "scores",
}
# Weak pairs accepted only as written.
WEAK_PAIRS = frozenset(
    {
        ("labels", "logits"), ("label", "logits"), ("labels", "predictions"), ("labels", "preds"),
        ("labels", "pred"), ("label", "pred"), ("labels", "probs"),
        ("target", "output"), ("targets", "outputs"), ("target", "pred"), ("targets", "preds"),
        ("target", "prediction"), ("targets", "predictions"), ("target", "logits"), ("targets", "logits"),
        ("gt", "pred"), ("gt", "preds"), ("gt", "prediction"), ("true", "pred"), ("true", "preds"),
        ("y", "pred"), ("y", "logits"),
    }
)
# Pairs accepted only in a function whose name says it is a loss (``loss_function(real, pred)``,
# ``DiceLoss(targets, inputs)``): alone, ``(targets, inputs)`` is as likely a training step's data.
NAMED_PAIRS = frozenset({("real", "pred"), ("real", "preds"), ("targets", "inputs"), ("target", "input")})
# Of those, the pairs of the custom-training-loop tutorials: a batch scalar may be what is wanted.
LOOP_PAIRS = frozenset({("real", "pred"), ("real", "preds")})
# Prediction first, target second: the order of PyTorch losses and of the functions that custom
# training loops call (`partial_losses(output, labels)`). Keras passes (y_true, y_pred), so such a
# function is a custom loop's loss; accepted only in a function whose name says it is a loss.
REVERSED_PAIRS = frozenset(
    {
        ("pred", "target"), ("preds", "targets"), ("predict", "target"), ("prediction", "target"),
        ("predictions", "targets"), ("output", "target"), ("outputs", "targets"), ("logits", "labels"),
        ("logits", "label"), ("logits", "targets"), ("pred", "gt"), ("pred", "label"), ("preds", "labels"),
    }
)
