"""The output layout (spec: layout-v1): load JSON with positions, validate, and build the typed model.

Nothing here imports TensorFlow, Keras or NumPy: ``losscheck gen`` must stay fast.
"""
