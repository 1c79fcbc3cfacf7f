"""Preprocessing settings that travel with the weights (the timm ``pretrained_cfg`` habit).

A model's ``config.json`` stores a :class:`PreprocessConfig`; :func:`to_model_input` applies it, so a
user never hard-codes input size, normalisation, colour handling or crop margin.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

TTA_MODES = ("none", "flip")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a face crop becomes the tensor a model was trained on.

    ``grayscale``: convert to luminance and repeat it over 3 channels. FER+ (the labelled set) is
    48x48 grayscale, so a model trained on it sees colour photos the same way.
    ``margin``: fraction of the detected box size added on every side before cropping.
    ``align`` / ``max_rotation``: rotate so the eye line is horizontal, never by more than
    ``max_rotation`` degrees (paper 001 caps at 10 so one bad landmark cannot wreck a crop).
    """

    input_size: int = 112
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    grayscale: bool = True
    margin: float = 0.1
    align: bool = True
    max_rotation: float = 10.0
    interpolation: str = "bilinear"
    # test-time augmentation of the vector: "flip" averages the vectors of a face and its mirror
    tta: str = "none"

    def __post_init__(self) -> None:
        """Settings that would fail late or silently (std 0 gives non-finite vectors, a margin of
        -0.5 an empty crop) are refused when the config is made."""
        from . import limits

        if (
            isinstance(self.input_size, bool)
            or not isinstance(self.input_size, int)
            or not (limits.MIN_INPUT_SIZE <= self.input_size <= limits.MAX_INPUT_SIZE)
        ):
            raise ValueError(
                f"input_size must be a whole number from {limits.MIN_INPUT_SIZE} to {limits.MAX_INPUT_SIZE}, "
                f"not {self.input_size!r}"
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std need 3 values each, not {list(self.mean)} and {list(self.std)}")
        if not all(math.isfinite(m) for m in self.mean):
            raise ValueError(f"mean must be finite, not {list(self.mean)}")
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise ValueError(f"std must be finite and above 0, not {list(self.std)}")
        if not (math.isfinite(self.margin) and -0.4 <= self.margin <= 1.0):
            raise ValueError(f"margin must be from -0.4 to 1.0 (a fraction of the face box), not {self.margin!r}")
        if not (math.isfinite(self.max_rotation) and 0 <= self.max_rotation <= 90):
            raise ValueError(f"max_rotation must be from 0 to 90 degrees, not {self.max_rotation!r}")
        if self.interpolation not in ("bilinear", "bicubic", "nearest", "area"):
            raise ValueError(f"interpolation must be bilinear, bicubic, nearest or area, not {self.interpolation!r}")
        if self.tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {TTA_MODES}, not {self.tta!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored in ``config.json``.

        Returns:
            A JSON-ready dict.
        """
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if data["tta"] == "none":
            del data["tta"]  # configs saved before tta existed keep their hash
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PreprocessConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown preprocessing settings: {sorted(unknown)}")
        kwargs = dict(data)
        for key in ("mean", "std"):
            if key in kwargs:
                kwargs[key] = tuple(float(x) for x in kwargs[key])
        return cls(**kwargs)


def to_float_rgb(crop: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWx3 -> float tensor 3xHxW in [0, 1]."""
    if crop.ndim == 2:
        crop = np.repeat(crop[:, :, None], 3, axis=2)
    if not crop.flags.writeable:
        crop = crop.copy()
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)


# ITU-R BT.601 luma, the weights of PIL's convert("L"), with which FER2013's faces were made gray
LUMA = (0.299, 0.587, 0.114)


def to_gray(x: torch.Tensor, channel_dim: int = -3) -> torch.Tensor:
    """Luma of RGB values along ``channel_dim`` (kept, size 1): the one grayscale conversion of fever."""
    shape = [1] * x.ndim
    shape[channel_dim] = 3
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(shape)
    return (x * weights).sum(dim=channel_dim, keepdim=True)


def to_model_input(crops: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Batch of float RGB crops (N,3,H,W in [0,1], any H,W) -> normalised (N,3,S,S) model input."""
    if crops.ndim != 4 or crops.shape[1] != 3:
        raise ValueError(f"expected crops of shape (N, 3, H, W), got {tuple(crops.shape)}")
    x = crops
    if cfg.grayscale:
        x = to_gray(x).expand(-1, 3, -1, -1)
    size = cfg.input_size
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x,
            size=(size, size),
            mode=cfg.interpolation,
            align_corners=False,
            antialias=cfg.interpolation in ("bilinear", "bicubic"),
        )
    mean = torch.tensor(cfg.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


__all__ = ["LUMA", "TTA_MODES", "PreprocessConfig", "to_float_rgb", "to_gray", "to_model_input"]
