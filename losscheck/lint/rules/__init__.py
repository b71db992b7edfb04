"""Built-in rules: one module per rule; every ``Rule`` subclass defined here is registered.

Codes (families by hundreds, as ruff/flake8 users expect):
1xx reduction, axis and the return contract; 2xx graph safety; 3xx names and Keras API;
4xx shape inference; 5xx model wiring (compile/fit structure); 9xx meta.
"""
