"""Training augmentation on batches of uint8 faces, done batch-wise in torch (no Python loop per face).

Paper III-B lists crop, flip, brightness and saturation; training from random weights needs more
(affine jitter and random erasing, as in the from-scratch FER2013/FER+ records), so every knob is a
field of :class:`AugmentConfig` that a run config sets. Saturation is a no-op for grayscale models,
so contrast jitter is there too. Mixup and cutmix mix labels as well as images and live in
:func:`mix_batch`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fever.preprocess import PreprocessConfig, to_gray, to_model_input

from .settings import settings
from .video_augment import VideoDegradation, video_degrade


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes applied to each training face. Defaults are the paper's (crop, flip, colour)."""

    scale: tuple[float, float] = (0.75, 1.0)  # area of the random crop, as a fraction of the face
    ratio: tuple[float, float] = (0.9, 1.1)  # aspect ratio of the random crop
    rotation: float = 0.0  # degrees, uniform in [-rotation, rotation]
    translate: float = 0.0  # shift of the crop centre, fraction of the face size
    flip: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    erasing: float = 0.0  # probability of erasing one random rectangle
    erasing_area: tuple[float, float] = (0.02, 0.25)
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup; 0 = off
    cutmix: float = 0.0  # Beta(alpha, alpha) of cutmix; 0 = off
    mix_prob: float = 0.0  # probability that a batch is mixed at all
    video: VideoDegradation = field(default_factory=VideoDegradation)  # what video does to a face

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AugmentConfig":
        values = settings(cls, data, "augmentation")
        if "video" in values:
            values["video"] = VideoDegradation.from_dict(values["video"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return _lists(asdict(self))


def _lists(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _lists(v) if isinstance(v, dict) else list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _crop_boxes(n: int, rng: np.random.Generator, scale: tuple[float, float], ratio: tuple[float, float]) -> np.ndarray:
    area = rng.uniform(*scale, size=n)
    log_r = rng.uniform(np.log(ratio[0]), np.log(ratio[1]), size=n)
    r = np.exp(log_r)
    w = np.clip(np.sqrt(area * r), 0.05, 1.0)
    h = np.clip(np.sqrt(area / r), 0.05, 1.0)
    x0 = rng.uniform(0, 1 - w)
    y0 = rng.uniform(0, 1 - h)
    return np.stack([x0, y0, w, h], axis=1)


def _affine(n: int, rng: np.random.Generator, aug: AugmentConfig) -> torch.Tensor:
    """(n, 2, 3) affine maps from the output grid into the input: crop box, rotation, shift, flip."""
    boxes = _crop_boxes(n, rng, aug.scale, aug.ratio)
    flip = rng.random(n) < aug.flip
    angle = np.deg2rad(rng.uniform(-aug.rotation, aug.rotation, size=n))
    shift = rng.uniform(-aug.translate, aug.translate, size=(n, 2)) * 2
    sx = np.where(flip, -boxes[:, 2], boxes[:, 2])
    sy = boxes[:, 3]
    cos, sin = np.cos(angle), np.sin(angle)
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = cos * sx, -sin * sy
    theta[:, 1, 0], theta[:, 1, 1] = sin * sx, cos * sy
    theta[:, 0, 2] = (boxes[:, 0] + boxes[:, 2] / 2) * 2 - 1 + shift[:, 0]
    theta[:, 1, 2] = (boxes[:, 1] + boxes[:, 3] / 2) * 2 - 1 + shift[:, 1]
    return torch.from_numpy(theta).float()


def _erase(x: torch.Tensor, rng: np.random.Generator, prob: float, area: tuple[float, float]) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020): one rectangle per chosen face filled with noise."""
    n, _, h, w = x.shape
    chosen = rng.random(n) < prob
    frac = rng.uniform(*area, size=n)
    aspect = np.exp(rng.uniform(math.log(0.3), math.log(1 / 0.3), size=n))
    eh = np.clip(np.sqrt(frac * aspect) * h, 1, h).astype(int)
    ew = np.clip(np.sqrt(frac / aspect) * w, 1, w).astype(int)
    y0 = (rng.random(n) * (h - eh + 1)).astype(int)
    x0 = (rng.random(n) * (w - ew + 1)).astype(int)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    t = lambda a: torch.from_numpy(a).view(n, 1, 1)  # noqa: E731
    mask = (rows >= t(y0)) & (rows < t(y0 + eh)) & (cols >= t(x0)) & (cols < t(x0 + ew)) & t(chosen)
    noise = torch.from_numpy(rng.standard_normal(size=(n, 1, h, w)).astype(np.float32)).expand_as(x)
    return torch.where(mask.unsqueeze(1), noise, x)


def augment_batch(
    faces: np.ndarray, cfg: PreprocessConfig, rng: np.random.Generator, aug: AugmentConfig | None = None
) -> torch.Tensor:
    """uint8 faces (N,H,W) or (N,H,W,3) -> augmented, normalised model input (N,3,S,S)."""
    aug = aug or AugmentConfig()
    x = torch.from_numpy(np.ascontiguousarray(faces)).float().div_(255.0)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    n = x.shape[0]
    size = cfg.input_size
    grid = F.affine_grid(_affine(n, rng, aug), [n, 3, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    b = torch.from_numpy(rng.uniform(1 - aug.brightness, 1 + aug.brightness, size=(n, 1, 1, 1))).float()
    c = torch.from_numpy(rng.uniform(1 - aug.contrast, 1 + aug.contrast, size=(n, 1, 1, 1))).float()
    s = torch.from_numpy(rng.uniform(1 - aug.saturation, 1 + aug.saturation, size=(n, 1, 1, 1))).float()
    gray = to_gray(x)
    x = (gray + (x - gray) * s) * b
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * c + mean).clamp_(0, 1)
    x = video_degrade(x, rng, aug.video)
    x = to_model_input(x, cfg)
    if aug.erasing > 0:
        x = _erase(x, rng, aug.erasing, aug.erasing_area)
    return x


def mix_batch(
    x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, aug: AugmentConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) or cutmix (Yun et al. 2019) of a batch with a shuffled copy of itself.

    Labels (distributions) are mixed with the same weight as the pixels, so the vote-triplet rule
    and the soft cross-entropy both see what the mixed face shows.
    """
    if aug.mix_prob <= 0 or rng.random() >= aug.mix_prob or (aug.mixup <= 0 and aug.cutmix <= 0):
        return x, y
    perm = torch.from_numpy(rng.permutation(len(x)))
    use_cutmix = aug.cutmix > 0 and (aug.mixup <= 0 or rng.random() < 0.5)
    lam = float(rng.beta(aug.cutmix, aug.cutmix) if use_cutmix else rng.beta(aug.mixup, aug.mixup))
    if use_cutmix:
        h, w = x.shape[-2:]
        ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = lam * x + (1 - lam) * x[perm]
    return x, lam * y + (1 - lam) * y[perm]


def eval_batch(faces: np.ndarray, cfg: PreprocessConfig) -> torch.Tensor:
    """uint8 faces -> model input without augmentation (what extract() does to a crop)."""
    x = torch.from_numpy(np.ascontiguousarray(faces)).float().div_(255.0)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return to_model_input(x.contiguous(), cfg)
