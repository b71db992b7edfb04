"""A realistic 300-line multi-task loss module: the single-file latency benchmark input.

It is never imported or executed (losscheck reads it statically); it mirrors the code people
write for a segmentation + detection + classification model: per-example losses, masks,
Loss subclasses, a factory returning a closure, and the compile call that binds them.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

NUM_CLASSES = 5
SEG_CHANNELS = 3
EPS = 1e-7
CLASS_WEIGHTS = np.array([1.0, 2.0, 2.0, 4.0, 1.0], dtype="float32")
CLASS_WEIGHTS_T = tf.constant(CLASS_WEIGHTS)


def _safe_divide(num, den):
    """Divide, returning 0 where the denominator is 0."""
    return ops.where(den > 0, num / ops.maximum(den, EPS), ops.zeros_like(num))


def _masked_mean(values, mask):
    """Mean of values over the positions where mask is 1, per example."""
    mask = ops.cast(mask, values.dtype)
    axes = list(range(1, len(values.shape)))
    total = ops.sum(values * mask, axis=axes)
    count = ops.sum(mask, axis=axes)
    return total / ops.maximum(count, 1.0)


def seg_bce_loss(y_true, y_pred):
    """Per-pixel binary crossentropy on the first channel, averaged per example."""
    y_true_mask = y_true[..., 0:1]
    y_pred_mask = y_pred[..., 0:1]
    per_pixel = keras.losses.binary_crossentropy(y_true_mask, y_pred_mask)
    return ops.mean(per_pixel, axis=[1, 2])


def seg_dice_loss(y_true, y_pred, smooth=1.0):
    """Soft dice over the spatial axes, one value per example."""
    y_true_f = ops.cast(y_true[..., 0], "float32")
    y_pred_f = y_pred[..., 0]
    intersection = ops.sum(y_true_f * y_pred_f, axis=[1, 2])
    union = ops.sum(y_true_f, axis=[1, 2]) + ops.sum(y_pred_f, axis=[1, 2])
    return 1.0 - (2.0 * intersection + smooth) / (union + smooth)


def seg_loss(y_true, y_pred):
    """Crossentropy plus dice for the segmentation output."""
    return seg_bce_loss(y_true, y_pred) + 0.5 * seg_dice_loss(y_true, y_pred)


def lesion_loss(y_true, y_pred):
    """Sparse categorical crossentropy on channels 1..4, ignoring label -1."""
    labels = y_true[..., 1]
    logits = y_pred[..., 1:4]
    valid = ops.not_equal(labels, -1)
    safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
    per_pixel = keras.losses.sparse_categorical_crossentropy(
        safe_labels, logits, from_logits=True
    )
    return _masked_mean(per_pixel, valid)


def size_loss(y_true, y_pred):
    """Huber on the size channels, only where the ground-truth mask is on."""
    gate = ops.equal(y_true[..., 0], 1.0)
    target = y_true[..., 2:4]
    pred = y_pred[..., 4:6]
    per_pixel = keras.losses.huber(target, pred, delta=0.5)
    return _masked_mean(per_pixel, gate)


def weighted_categorical_crossentropy(y_true, y_pred):
    """Categorical crossentropy with a fixed per-class weight."""
    y_pred = ops.clip(y_pred, EPS, 1.0 - EPS)
    per_class = -y_true * ops.log(y_pred) * CLASS_WEIGHTS_T
    return ops.sum(per_class, axis=-1)


def focal_loss(gamma=2.0, alpha=0.25):
    """Factory: binary focal loss with fixed gamma and alpha."""

    def loss(y_true, y_pred):
        y_pred = ops.clip(y_pred, EPS, 1.0 - EPS)
        p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
        alpha_t = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
        modulating = ops.power(1.0 - p_t, gamma)
        ce = -ops.log(p_t)
        return ops.mean(alpha_t * modulating * ce, axis=-1)

    return loss


def box_l1_loss(y_true, y_pred):
    """L1 on box coordinates where an object is present (channel 4 of y_true)."""
    present = y_true[:, 4]
    diff = ops.abs(y_true[:, :4] - y_pred[:, :4])
    per_box = ops.sum(diff, axis=-1)
    return per_box * present


def giou_loss(y_true, y_pred):
    """Generalised IoU loss for (x1, y1, x2, y2) boxes, one value per example."""
    t_x1, t_y1, t_x2, t_y2 = (y_true[:, i] for i in range(4))
    p_x1, p_y1, p_x2, p_y2 = (y_pred[:, i] for i in range(4))
    inter_w = ops.maximum(ops.minimum(t_x2, p_x2) - ops.maximum(t_x1, p_x1), 0.0)
    inter_h = ops.maximum(ops.minimum(t_y2, p_y2) - ops.maximum(t_y1, p_y1), 0.0)
    inter = inter_w * inter_h
    area_t = (t_x2 - t_x1) * (t_y2 - t_y1)
    area_p = (p_x2 - p_x1) * (p_y2 - p_y1)
    union = area_t + area_p - inter
    iou = _safe_divide(inter, union)
    hull_w = ops.maximum(t_x2, p_x2) - ops.minimum(t_x1, p_x1)
    hull_h = ops.maximum(t_y2, p_y2) - ops.minimum(t_y1, p_y1)
    hull = hull_w * hull_h
    giou = iou - _safe_divide(hull - union, hull)
    return 1.0 - giou


def detection_loss(y_true, y_pred):
    """Objectness crossentropy plus box losses for one detection head."""
    obj_true = y_true[:, 4:5]
    obj_pred = y_pred[:, 4:5]
    obj = keras.losses.binary_crossentropy(obj_true, obj_pred)
    boxes = box_l1_loss(y_true, y_pred) + giou_loss(y_true, y_pred) * y_true[:, 4]
    return obj + boxes


class TverskyLoss(keras.losses.Loss):
    """Tversky loss: dice with separate weights for false positives and negatives."""

    def __init__(self, alpha=0.3, beta=0.7, name="tversky", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = alpha
        self.beta = beta

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        axes = [1, 2, 3]
        tp = ops.sum(y_true * y_pred, axis=axes)
        fp = ops.sum((1.0 - y_true) * y_pred, axis=axes)
        fn = ops.sum(y_true * (1.0 - y_pred), axis=axes)
        score = (tp + EPS) / (tp + self.alpha * fp + self.beta * fn + EPS)
        return 1.0 - score

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "beta": self.beta})
        return config


class MaskedMSE(keras.losses.Loss):
    """Mean squared error over the positions whose target is not NaN."""

    def call(self, y_true, y_pred):
        valid = ops.logical_not(ops.isnan(y_true))
        y_true_safe = ops.where(valid, y_true, ops.zeros_like(y_true))
        sq = ops.square(y_true_safe - y_pred)
        return _masked_mean(sq, valid)


class MultiTaskLoss(keras.losses.Loss):
    """Weighted sum of the segmentation, lesion and size losses for one packed output."""

    def __init__(self, weights=(1.0, 0.5, 0.25), name="multi_task", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weights = tuple(weights)

    def call(self, y_true, y_pred):
        w_seg, w_lesion, w_size = self.weights
        total = w_seg * seg_loss(y_true, y_pred)
        total = total + w_lesion * lesion_loss(y_true, y_pred)
        total = total + w_size * size_loss(y_true, y_pred)
        return total

    def get_config(self):
        config = super().get_config()
        config.update({"weights": list(self.weights)})
        return config


def label_smoothing_ce(smoothing=0.1):
    """Factory: categorical crossentropy with label smoothing."""

    def loss(y_true, y_pred):
        n = ops.cast(ops.shape(y_true)[-1], y_pred.dtype)
        smoothed = y_true * (1.0 - smoothing) + smoothing / n
        return keras.losses.categorical_crossentropy(smoothed, y_pred)

    return loss


def ordinal_loss(y_true, y_pred):
    """Cumulative-link ordinal regression loss over NUM_CLASSES - 1 thresholds."""
    levels = ops.arange(1, NUM_CLASSES, dtype="float32")
    target = ops.cast(ops.expand_dims(y_true[:, 0], -1) >= levels, "float32")
    per_threshold = keras.losses.binary_crossentropy(
        ops.expand_dims(target, -1), ops.expand_dims(y_pred, -1), from_logits=True
    )
    return ops.sum(per_threshold, axis=-1)


def contrastive_loss(margin=1.0):
    """Factory: contrastive loss on a distance prediction."""

    def loss(y_true, y_pred):
        y_true = ops.cast(y_true[:, 0], y_pred.dtype)
        d = y_pred[:, 0]
        positive = y_true * ops.square(d)
        negative = (1.0 - y_true) * ops.square(ops.maximum(margin - d, 0.0))
        return positive + negative

    return loss


def kl_to_prior(y_true, y_pred):
    """KL divergence of the predicted distribution to a uniform prior, per example."""
    del y_true
    prior = ops.ones_like(y_pred) / ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
    y_pred = ops.clip(y_pred, EPS, 1.0)
    return ops.sum(y_pred * (ops.log(y_pred) - ops.log(prior)), axis=-1)


def quantile_loss(quantiles=(0.1, 0.5, 0.9)):
    """Factory: pinball loss for several quantiles predicted side by side."""
    q = ops.convert_to_tensor(quantiles)

    def loss(y_true, y_pred):
        err = y_true - y_pred
        per_q = ops.maximum(q * err, (q - 1.0) * err)
        return ops.mean(per_q, axis=-1)

    return loss


def heatmap_loss(y_true, y_pred):
    """Penalty-reduced focal loss for keypoint heatmaps (CenterNet-style), per example."""
    y_pred = ops.clip(y_pred, EPS, 1.0 - EPS)
    pos = ops.cast(ops.equal(y_true, 1.0), y_pred.dtype)
    neg = 1.0 - pos
    pos_loss = ops.log(y_pred) * ops.square(1.0 - y_pred) * pos
    neg_loss = ops.log(1.0 - y_pred) * ops.square(y_pred) * ops.power(1.0 - y_true, 4.0) * neg
    axes = [1, 2, 3]
    num_pos = ops.sum(pos, axis=axes)
    total = ops.sum(pos_loss, axis=axes) + ops.sum(neg_loss, axis=axes)
    return -total / ops.maximum(num_pos, 1.0)


def accuracy_metric(y_true, y_pred):
    """Per-example accuracy for the class head (a metric, not a loss)."""
    return ops.cast(
        ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float32"
    )


def iou_metric(y_true, y_pred, threshold=0.5):
    """Per-example IoU of the thresholded mask channel (a metric)."""
    pred = ops.cast(y_pred[..., 0] > threshold, "float32")
    true = ops.cast(y_true[..., 0], "float32")
    inter = ops.sum(pred * true, axis=[1, 2])
    union = ops.sum(ops.maximum(pred, true), axis=[1, 2])
    return _safe_divide(inter, union)


def build_model(height=64, width=64):
    """A small functional model with a packed segmentation output and two heads."""
    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    seg = keras.layers.Conv2D(6, 1, name="seg")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    cls = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="cls")(pooled)
    det = keras.layers.Dense(5, name="det")(pooled)
    return keras.Model(inputs, {"seg": seg, "cls": cls, "det": det})


def compile_model(model):
    """Bind one per-example loss to each named output."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={
            "seg": MultiTaskLoss(),
            "cls": label_smoothing_ce(0.1),
            "det": detection_loss,
        },
        loss_weights={"seg": 1.0, "cls": 0.5, "det": 2.0},
        metrics={"cls": [accuracy_metric], "seg": [iou_metric]},
    )
    return model


def compile_alternatives(model):
    """Other losses the project tried, bound the same way."""
    model.compile(
        optimizer="adam",
        loss={
            "seg": TverskyLoss(),
            "cls": weighted_categorical_crossentropy,
            "det": lambda y_true, y_pred: ops.sum(ops.abs(y_true - y_pred), axis=-1),
        },
    )
    return model


def make_dataset(n=64, height=64, width=64):
    """Random NumPy data for a smoke run (outside any loss)."""
    rng = np.random.default_rng(0)
    images = rng.random((n, height, width, 3), dtype=np.float32)
    seg = rng.integers(0, 2, size=(n, height, width, 6)).astype("float32")
    cls = np.eye(NUM_CLASSES, dtype="float32")[rng.integers(0, NUM_CLASSES, size=n)]
    det = rng.random((n, 5), dtype=np.float32)
    return images, {"seg": seg, "cls": cls, "det": det}


if __name__ == "__main__":
    model = compile_model(build_model())
    x, y = make_dataset()
    model.fit(x, y, epochs=1, batch_size=8)
