"""Probes: small models trained on frozen expression vectors (logistic regression, LSTMs, multi-task heads)."""
