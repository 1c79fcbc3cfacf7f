"""The root of every error fever raises on purpose, and the probes' own.

``FeverError`` lives here, in the bottom layer (probes import nothing else of fever's), so that the
core (``fever.errors``), training (``distill``) and tools can all derive from it; ``fever.FeverError``
is the same class.
"""

from __future__ import annotations


class FeverError(Exception):
    """Base class for every error fever raises on purpose; CLIs turn it into a message and exit 1."""


class ProbeError(FeverError, ValueError):
    """Input a probe cannot use; the message says what to fix."""
