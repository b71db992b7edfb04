"""``losscheck gen``: compile a layout into a module of loss functions.

Pipeline: ``layout.load`` (JSON with positions) -> ``layout.validate`` (typed Layout)
-> ``gen.plan`` (the slice table: framework-neutral) -> an ``Emitter`` (source text)
-> ``gen.write`` (atomic write / ``--check``). Nothing here imports TensorFlow, Keras or NumPy.
"""
