"""Tables of library APIs that rules and the pre-filter read as data (no TensorFlow or Keras import)."""
