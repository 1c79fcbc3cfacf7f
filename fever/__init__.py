"""fever: facial-expression vectors (DeepFEVER) from face images, photos and videos.

>>> import fever
>>> out = fever.extract(["photo.jpg"])          # doctest: +SKIP
>>> out.vectors.shape                            # doctest: +SKIP
(2, 256)

The names below load on first use (PEP 562), so that ``import fever.cli.embed`` (and every
command's ``--help``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Analysis": ".analyze",
    "analyze": ".analyze",
    "FeverError": ".errors",
    "InputError": ".errors",
    "ModelLoadError": ".errors",
    "OfflineError": ".errors",
    "UnknownModelError": ".errors",
    "DEFAULT_MODEL": ".extractor",
    "Extractor": ".extractor",
    "extract": ".extractor",
    "extract_video": ".extractor",
    "get_extractor": ".extractor",
    "FeverIndexError": ".index",
    "Index": ".index",
    "FeverModel": ".models",
    "ModelConfig": ".models",
    "ModelOrigin": ".models",
    "create_model": ".models",
    "list_models": ".models",
    "load": ".models",
    "save_pretrained": ".models",
    "PreprocessConfig": ".preprocess",
    "Extraction": ".result",
    "Row": ".result",
}

__all__ = [
    "Analysis",
    "DEFAULT_MODEL",
    "Extraction",
    "Extractor",
    "FeverError",
    "FeverIndexError",
    "FeverModel",
    "Index",
    "InputError",
    "ModelConfig",
    "ModelLoadError",
    "ModelOrigin",
    "OfflineError",
    "PreprocessConfig",
    "Row",
    "UnknownModelError",
    "__version__",
    "analyze",
    "create_model",
    "extract",
    "extract_video",
    "get_extractor",
    "list_models",
    "load",
    "save_pretrained",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    else:  # a submodule used as an attribute, e.g. fever.device
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'fever' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what type checkers and IDEs see
    from .analyze import Analysis, analyze
    from .errors import FeverError, InputError, ModelLoadError, OfflineError, UnknownModelError
    from .extractor import DEFAULT_MODEL, Extractor, extract, extract_video, get_extractor
    from .index import FeverIndexError, Index
    from .models import FeverModel, ModelConfig, ModelOrigin, create_model, list_models, load, save_pretrained
    from .preprocess import PreprocessConfig
    from .result import Extraction, Row
