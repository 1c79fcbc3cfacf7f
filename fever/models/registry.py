"""Names of models, in the style of timm's ``_registry``: ``register_model``, ``list_models``,
``get_config``. This module only names things; :mod:`fever.models.presets` declares the presets,
:mod:`fever.models.hub` moves files and :mod:`fever.models.factory` builds models.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Callable

from ..errors import UnknownModelError
from .config import ModelConfig

_PRESETS: dict[str, Callable[[], ModelConfig]] = {}
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def register_model(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Decorator: the function's name is the preset name (underscores become dashes)."""
    name = fn.__name__.replace("_", "-")
    if name in _PRESETS:
        raise ValueError(f"model {name!r} is registered twice")
    _PRESETS[name] = fn
    return fn


def is_registered(name: str) -> bool:
    return name in _PRESETS


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Preset names matching a shell pattern.

    Args:
        pattern: an ``fnmatch`` pattern, e.g. ``"fever-student-*"``.
        pretrained: keep only the presets whose weights ship with fever.

    Returns:
        The sorted names.
    """
    names = sorted(n for n in _PRESETS if fnmatch.fnmatch(n, pattern))
    return [n for n in names if bundled_weights_dir(n) is not None] if pretrained else names


def get_config(model_name: str, **overrides: Any) -> ModelConfig:
    """A preset's config, with fields (``d_face=128``) or preprocessing (``input_size=112``) replaced."""
    if model_name not in _PRESETS:
        raise UnknownModelError(f"unknown model {model_name!r}; known models: {', '.join(list_models())}")
    return _PRESETS[model_name]().with_overrides(**overrides)


def bundled_weights_dir(name: str) -> Path | None:
    """The folder of a preset's bundled weights, or None when it ships none."""
    folder = WEIGHTS_DIR / name
    return folder if (folder / "model.safetensors").is_file() else None
