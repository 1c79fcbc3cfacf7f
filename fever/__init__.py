"""fever: facial-expression vectors (DeepFEVER) from face images, photos and videos.

>>> import fever
>>> out = fever.extract(["photo.jpg"])          # doctest: +SKIP
>>> out.vectors.shape                            # doctest: +SKIP
(2, 256)
"""

__version__ = "0.1.0"

from .analyze import Analysis, analyze
from .errors import FeverError, InputError, ModelLoadError, OfflineError, UnknownModelError
from .extractor import DEFAULT_MODEL, Extractor, extract, extract_video, get_extractor
from .index import FeverIndexError, Index
from .models import FeverModel, ModelConfig, ModelOrigin, create_model, list_models, load, save_pretrained
from .preprocess import PreprocessConfig
from .result import Extraction, Row

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
