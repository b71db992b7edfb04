"""losscheck: lint and generate multi-task Keras loss functions.

The package root imports nothing heavy: the lint path must never import
TensorFlow, Keras or NumPy (``import tensorflow`` alone takes ~4.5 s).
"""

__version__ = "0.1.0"
