"""DeepFEVER networks and the registry of named presets."""
from .config import EXPRESSION_CLASSES, ModelConfig
from .heads import FeverOutput
from .network import FeverModel
from .registry import bundled_weights_dir, create_model, get_config, list_models, register_model

__all__ = ["EXPRESSION_CLASSES", "FeverModel", "FeverOutput", "ModelConfig", "bundled_weights_dir",
           "create_model", "get_config", "list_models", "register_model"]
