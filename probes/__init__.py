"""Probes: small models trained on frozen expression vectors, each following one of the papers.

>>> import probes
>>> probe = probes.create("logistic", C=10000)      # doctest: +SKIP
>>> probe.fit(train_vectors, train_labels).score(test_vectors, test_labels)   # doctest: +SKIP
"""

from .base import Probe, load
from .errors import FeverError, ProbeError
from .registry import ENTRY_POINT_GROUP, available, create, register

__all__ = ["ENTRY_POINT_GROUP", "FeverError", "Probe", "ProbeError", "available", "create", "load", "register"]
