"""The architecture description saved as ``config.json`` next to ``model.safetensors``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .. import limits
from ..preprocess import PreprocessConfig

# FER+ / AffectNet order; the same 8 classes as AffectNet (DeepFEVER III-A).
EXPRESSION_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
CONFIG_VERSION = 1


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    """Config values are checked before any network is built (fever.limits says how big they may be)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, not {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """What is needed to rebuild a network and feed it: architecture plus preprocessing.

    ``kind`` is ``teacher`` (two heads: similarity and expression) or ``student`` (three heads, with
    the 80-d distillation head). ``backbone`` names the trunk: the paper's ``inception_resnet_v1``
    (teachers only), a 48-64 px trunk of :mod:`fever.models.fer_nets`, or a torchvision network.
    """

    name: str
    kind: str
    backbone: str
    d_face: int = 256
    similarity_dim: int = 32
    num_classes: int = 8
    distill_dim: int = 0
    dropout: float = 0.1
    dense_layers: int = 5
    growth_rate: int = 64
    bottleneck: int = 512
    class_names: tuple[str, ...] = EXPRESSION_CLASSES
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("teacher", "student"):
            raise ValueError(f"kind must be 'teacher' or 'student', not {self.kind!r}")
        for name in ("d_face", "similarity_dim", "bottleneck", "growth_rate"):
            _check_int(name, getattr(self, name), 1, limits.MAX_WIDTH)
        _check_int("distill_dim", self.distill_dim, 0, limits.MAX_WIDTH)
        _check_int("num_classes", self.num_classes, 1, limits.MAX_CLASSES)
        _check_int("dense_layers", self.dense_layers, 1, limits.MAX_DENSE_LAYERS)
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.num_classes} classes but {len(self.class_names)} class names")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")

    def with_overrides(self, **overrides: Any) -> "ModelConfig":
        """A copy with fields replaced.

        Args:
            **overrides: config fields (``d_face=128``) or preprocessing ones (``input_size=112``).

        Returns:
            The new config (checked like any other).
        """
        pre_keys = {f.name for f in fields(PreprocessConfig)}
        pre = {k: overrides.pop(k) for k in list(overrides) if k in pre_keys}
        if isinstance(overrides.get("preprocess"), dict):
            overrides["preprocess"] = PreprocessConfig.from_dict(overrides["preprocess"])
        cfg = replace(self, **overrides) if overrides else self
        return replace(cfg, preprocess=replace(cfg.preprocess, **pre)) if pre else cfg

    def to_dict(self) -> dict[str, Any]:
        """What ``config.json`` holds.

        Returns:
            A JSON-ready dict, with the config version.
        """
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["preprocess"] = self.preprocess.to_dict()
        data["config_version"] = CONFIG_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        data = dict(data)
        version = data.pop("config_version", CONFIG_VERSION)
        if version > CONFIG_VERSION:
            raise ValueError(
                f"config_version {version} is newer than this fever understands ({CONFIG_VERSION}); upgrade fever"
            )
        data.pop("library", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {unknown}")
        if "preprocess" in data:
            data["preprocess"] = PreprocessConfig.from_dict(data["preprocess"])
        if "class_names" in data:
            data["class_names"] = tuple(data["class_names"])
        return cls(**data)

    def config_hash(self) -> str:
        """A short stable hash of everything that changes the vectors.

        Returns:
            16 hex digits (written into the weights' header and into parquet metadata).
        """
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
