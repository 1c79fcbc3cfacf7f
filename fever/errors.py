"""Exceptions that tell the user which file is at fault and what to do about it.

Every one derives from :class:`FeverError` (defined in :mod:`probes.errors`, the bottom layer, so
that probes, training and tools derive from the same root).
"""

from __future__ import annotations

from probes.errors import FeverError, ProbeError


class InputError(FeverError, ValueError):
    """An input (image, video, array) cannot be used; the message names it and says why."""

    def __init__(self, source: object, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class ModelLoadError(FeverError, OSError):
    """Weights or config cannot be found or do not fit together."""


class OfflineError(ModelLoadError):
    """A file had to come from the network, and the network is not there."""


class UnknownModelError(ModelLoadError, KeyError):
    """A model name that is neither a preset, a folder nor a Hub repo id (a ``ModelLoadError`` and a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class UsageError(FeverError, ValueError):
    """An option or argument that cannot work (a ``ValueError`` too): said before any work starts."""


__all__ = [
    "FeverError",
    "InputError",
    "ModelLoadError",
    "OfflineError",
    "ProbeError",
    "UnknownModelError",
    "UsageError",
]
