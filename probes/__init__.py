"""Probes: small models trained on frozen expression vectors, each following one of the papers.

>>> import probes
>>> probe = probes.create("logistic", C=10000)      # doctest: +SKIP
>>> probe.fit(train_vectors, train_labels).score(test_vectors, test_labels)   # doctest: +SKIP

Names load on first use (PEP 562): ``probes.errors`` alone does not import scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Probe": ".base",
    "load": ".base",
    "FeverError": ".errors",
    "ProbeError": ".errors",
    "ENTRY_POINT_GROUP": ".registry",
    "available": ".registry",
    "create": ".registry",
    "register": ".registry",
}

__all__ = [
    "ENTRY_POINT_GROUP",
    "FeverError",
    "Probe",
    "ProbeError",
    "available",
    "create",
    "load",
    "register",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'probes' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .base import Probe, load
    from .errors import FeverError, ProbeError
    from .registry import ENTRY_POINT_GROUP, available, create, register
