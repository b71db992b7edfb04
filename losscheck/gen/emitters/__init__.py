"""Built-in emitters: ``keras`` (Keras 3, keras.ops) and ``tf.keras`` (TensorFlow 2 + tf-keras)."""
