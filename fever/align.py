"""Square face crops around a detection, with the eye line rotated to horizontal.

The rotation is capped (paper 001 caps it at 10 degrees) so that one wrong landmark cannot wreck a
crop. Each crop is first cut and antialiased down, then rotated with one ``grid_sample``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .preprocess import PreprocessConfig


def eye_angle(landmarks: np.ndarray, max_rotation: float) -> float:
    """Angle (degrees) of the line from the left to the right eye, clipped to +-max_rotation."""
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return float(np.clip(angle, -max_rotation, max_rotation))


def crop_face(
    image: np.ndarray, box: np.ndarray, landmarks: np.ndarray | None, cfg: PreprocessConfig, out_size: int | None = None
) -> torch.Tensor:
    """RGB uint8 image + box (+ landmarks) -> float crop (3, S, S) in [0, 1].

    The crop is the box made square (its longer side), grown by ``cfg.margin`` on each side, and
    centred on the box; pixels outside the image are filled by replicating the border.
    """
    size = out_size or cfg.input_size
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(x2 - x1, y2 - y1) * (1 + 2 * cfg.margin)
    angle = eye_angle(landmarks, cfg.max_rotation) if (cfg.align and landmarks is not None) else 0.0
    # cut a region large enough to hold the rotated square, with replicate padding at image borders
    reach = side * (abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle)))) / 2
    left, top = int(math.floor(cx - reach)), int(math.floor(cy - reach))
    right, bottom = int(math.ceil(cx + reach)), int(math.ceil(cy + reach))
    h, w = image.shape[:2]
    ys = np.clip(np.arange(top, bottom), 0, h - 1)
    xs = np.clip(np.arange(left, right), 0, w - 1)
    region = image[ys[:, None], xs[None, :]]  # fancy indexing: a writable copy
    t = torch.from_numpy(np.ascontiguousarray(region)).permute(2, 0, 1).float().div_(255.0).unsqueeze(0)
    # antialiased resize so that the square maps to about 2x the output size, then rotate + sample
    scale = min(1.0, 2.0 * size / side)
    if scale < 1.0:
        new_h, new_w = max(2, round(t.shape[2] * scale)), max(2, round(t.shape[3] * scale))
        t = F.interpolate(t, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    # output (u, v) in [-1, 1] -> region coordinates: the output's horizontal axis runs along the
    # eye line (cos, sin), scaled so that the output spans `side` pixels, centred on the box centre.
    region_w, region_h = right - left, bottom - top
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    theta = torch.tensor(
        [
            [cos * side / region_w, -sin * side / region_w, (cx - left) / region_w * 2 - 1],
            [sin * side / region_h, cos * side / region_h, (cy - top) / region_h * 2 - 1],
        ],
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta.unsqueeze(0), [1, 3, size, size], align_corners=False)
    out = F.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0].clamp_(0, 1)
