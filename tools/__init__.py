"""Tools built on the library and the training package: benchmarks (``fever-bench``,
``fever-bench-index``), the probe command and experiments (``fever-probe``), ONNX export with its
accuracy check (``fever-export``) and the live demo (``fever-live``).

Layers: ``probes`` (estimators) <- ``fever`` (the library core) <- ``distill`` (training) <- ``tools``.
Nothing below imports this package.
"""
