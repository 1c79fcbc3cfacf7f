"""Settings from JSON for the training configs: unknown names refused by name, lists made tuples."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def settings(cls: type, data: Any, what: str, tuples: bool = True) -> dict[str, Any]:
    """``data`` checked against the fields of dataclass ``cls``, ready for ``cls(**...)``.

    Args:
        cls: the dataclass the settings are for.
        data: the parsed JSON object.
        what: how the error names these settings ("augmentation", "detector training", ...).
        tuples: turn JSON lists into tuples (the ranges of frozen dataclasses).

    Raises:
        ValueError: when ``data`` is not an object, or names a setting ``cls`` does not have.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be an object of settings, not {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} settings: {unknown}; known: {sorted(known)}")
    return {k: tuple(v) if tuples and isinstance(v, list) else v for k, v in data.items()}
