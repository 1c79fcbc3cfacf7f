"""DeepFEVER networks: configs, presets, files and the factory that joins them."""

from . import presets  # noqa: F401  (registers the presets)
from .config import EXPRESSION_CLASSES, ModelConfig
from .factory import create_model, load
from .heads import FeverOutput
from .hub import ModelOrigin, save_pretrained
from .network import FeverModel
from .registry import bundled_weights_dir, get_config, list_models, register_model

__all__ = [
    "EXPRESSION_CLASSES",
    "FeverModel",
    "FeverOutput",
    "ModelConfig",
    "ModelOrigin",
    "bundled_weights_dir",
    "create_model",
    "get_config",
    "list_models",
    "load",
    "register_model",
    "save_pretrained",
]
