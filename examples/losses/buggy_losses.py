"""Loss code as it is often written for multi-task Keras models -- with the silent mistakes
losscheck exists to catch. Run `losscheck lint examples/` to see them."""

import keras
import keras.backend as K
import numpy as np
import tensorflow as tf

inputs = keras.Input(shape=(16,))
features = keras.layers.Dense(32, activation="relu")(inputs)


def seg_loss(y_true, y_pred):
    # Averages over the batch too: sample_weight and class_weight silently stop working.
    return tf.reduce_mean(tf.square(y_true - y_pred))


def first_output_loss(y_true, y_pred):
    # y_true[0] is the first SAMPLE of the batch, not the first output.
    return keras.ops.mean(keras.ops.square(y_true[0] - y_pred[0]), axis=-1)


def focal_loss(y_true, y_pred):
    probs = tf.nn.softmax(y_pred, axis=-1)
    onehot = tf.one_hot(tf.cast(y_true[..., 0], tf.int32), num_classes)  # num_classes is never defined
    return -tf.reduce_sum(onehot * tf.math.log(probs + 1e-7), axis=-1)


def gated_regression(y_true, y_pred):
    present = tf.cast(y_pred[:, :1] > 0.5, tf.float32)  # the gate comes from the prediction
    err = tf.square(y_true[:, 1:] - y_pred[:, 1:]) * present
    return tf.reduce_sum(err, axis=-1)


def masked_mse(y_true, y_pred):
    mask = tf.cast(tf.not_equal(y_true, -1.0), tf.float32)
    # Divides by every position, not by the positions that count.
    return tf.reduce_mean(tf.square(y_true - y_pred) * mask, axis=-1)


def keras2_bce(y_true, y_pred):
    # keras.backend lost these in Keras 3: AttributeError at the first fit.
    return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


def numpy_loss(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def leaky_loss(y_true, y_pred):
    # A layer output (KerasTensor) captured by the loss: fails at fit with an unclear message.
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) + keras.ops.mean(features)


def cls_loss(y_true, y_pred):
    # The head already ends in a softmax; from_logits=True applies it a second time.
    probs = keras.ops.softmax(y_pred, axis=-1)
    return keras.losses.categorical_crossentropy(y_true, probs, from_logits=True)


def build_and_train(x, y_seg, y_cls):
    seg = keras.layers.Dense(1, name="seg")(features)
    cls = keras.layers.Dense(3, name="cls")(features)
    model = keras.Model(inputs, outputs={"seg": seg, "cls": cls})
    # A LIST for dict outputs: Keras 3 pairs it with the outputs in sorted-name order (cls, seg).
    model.compile(optimizer="adam", loss=[seg_loss, focal_loss])
    model.fit(x, {"seg": y_seg, "cls": y_cls}, epochs=1)
    return model
