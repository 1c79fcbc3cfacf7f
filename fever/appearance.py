"""What a tracked face looks like, so that a track never joins two people whose boxes overlap.

IoU alone cannot tell that the face in a box is someone else (a missed cut, two people crossing).
Each face crop becomes per-channel colour histograms; two looks are compared with the
Bhattacharyya coefficient (1 = the same colours, 0 = none in common). Expression, pose and small
lighting changes move colours little; another person (skin, hair, light on a stage or in the
audience) moves them a lot. Measured on the shared videos with ``fever-bench tracks``: overlapping
faces of consecutive frames within a shot are 0.978-0.997 alike, the performer and the audience
member on either side of the Hamilton clip's cut at frame 211 are 0.720 alike; :data:`MIN_SIMILARITY`
0.85 lies between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

BINS = 16
MIN_SIMILARITY = 0.85


def appearance(crop: torch.Tensor) -> np.ndarray:
    """A face crop -> its look.

    Args:
        crop: float RGB crop (3, S, S) in [0, 1] (:func:`fever.align.crop_face`).

    Returns:
        (3, BINS) histograms, one per channel, each summing to 1.
    """
    pixels = crop.detach().float().clamp(0, 1).reshape(crop.shape[0], -1).cpu().numpy()
    bins = np.minimum((pixels * BINS).astype(np.int64), BINS - 1)
    hist = np.stack([np.bincount(b, minlength=BINS) for b in bins]).astype(np.float32)
    return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya coefficient of two looks, averaged over channels: 1 = alike, 0 = unalike."""
    return float(np.sqrt(a * b).sum(axis=1).mean())
