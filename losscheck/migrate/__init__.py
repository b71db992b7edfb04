"""``losscheck migrate``: rewrite Keras 2 loss code for Keras 3 (``run.py``; the rewrites besides
backend calls in ``rewrite.py``, their data in ``tables.py``)."""
