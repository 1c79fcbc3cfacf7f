"""Exceptions that tell the user which file is at fault and what to do about it."""
from __future__ import annotations


class FeverError(Exception):
    """Base class for every error fever raises on purpose."""


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
