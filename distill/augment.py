"""Training augmentation on batches of uint8 faces: random resized crop, flip, brightness,
contrast and saturation (paper III-B lists crop, flip, brightness, saturation; saturation is a no-op
for grayscale models, so contrast jitter takes its place there)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fever.preprocess import PreprocessConfig, to_model_input


def _crop_boxes(n: int, rng: np.random.Generator, scale: tuple[float, float], ratio: tuple[float, float]) -> np.ndarray:
    area = rng.uniform(*scale, size=n)
    log_r = rng.uniform(np.log(ratio[0]), np.log(ratio[1]), size=n)
    r = np.exp(log_r)
    w = np.clip(np.sqrt(area * r), 0.05, 1.0)
    h = np.clip(np.sqrt(area / r), 0.05, 1.0)
    x0 = rng.uniform(0, 1 - w)
    y0 = rng.uniform(0, 1 - h)
    return np.stack([x0, y0, w, h], axis=1)


def augment_batch(faces: np.ndarray, cfg: PreprocessConfig, rng: np.random.Generator,
                  scale: tuple[float, float] = (0.75, 1.0), ratio: tuple[float, float] = (0.9, 1.1),
                  brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3) -> torch.Tensor:
    """uint8 faces (N,H,W) or (N,H,W,3) -> augmented, normalised model input (N,3,S,S).

    The crop is done with one batched ``grid_sample`` (no Python loop per face).
    """
    x = torch.from_numpy(np.ascontiguousarray(faces)).float().div_(255.0)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    n = x.shape[0]
    size = cfg.input_size
    boxes = torch.from_numpy(_crop_boxes(n, rng, scale, ratio)).float()
    flip = torch.from_numpy(rng.random(n) < 0.5)
    # affine theta maps output [-1,1] grid into the crop box of the input.
    sx = boxes[:, 2]
    sy = boxes[:, 3]
    cx = (boxes[:, 0] + boxes[:, 2] / 2) * 2 - 1
    cy = (boxes[:, 1] + boxes[:, 3] / 2) * 2 - 1
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -sx, sx)
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    b = torch.from_numpy(rng.uniform(1 - brightness, 1 + brightness, size=(n, 1, 1, 1))).float()
    c = torch.from_numpy(rng.uniform(1 - contrast, 1 + contrast, size=(n, 1, 1, 1))).float()
    s = torch.from_numpy(rng.uniform(1 - saturation, 1 + saturation, size=(n, 1, 1, 1))).float()
    gray = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    x = (gray + (x - gray) * s) * b
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * c + mean).clamp_(0, 1)
    return to_model_input(x, cfg)


def eval_batch(faces: np.ndarray, cfg: PreprocessConfig) -> torch.Tensor:
    """uint8 faces -> model input without augmentation (what extract() does to a crop)."""
    x = torch.from_numpy(np.ascontiguousarray(faces)).float().div_(255.0)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return to_model_input(x.contiguous(), cfg)
