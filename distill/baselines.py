"""Hand-made features that any learned vector must beat: raw pixels and HOG (Dalal & Triggs 2005).

Both read the 48x48 grayscale faces as they are stored (FER+), so they see exactly the faces the
networks see.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("raw 48x48 pixels", "HOG")


def raw_pixels(faces: np.ndarray) -> np.ndarray:
    """uint8 faces (N, H, W) -> (N, H*W) float32 in [0, 1]."""
    return faces.reshape(len(faces), -1).astype(np.float32) / 255.0


def hog_features(faces: np.ndarray, orientations: int = 9, cell: int = 8, block: int = 2) -> np.ndarray:
    """Histograms of oriented gradients (scikit-image), 900-d for a 48 px face with the defaults."""
    from skimage.feature import hog

    return np.stack(
        [
            hog(
                f,
                orientations=orientations,
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
                block_norm="L2-Hys",
                feature_vector=True,
            )
            for f in faces
        ]
    ).astype(np.float32)


def baseline_features(name: str, faces: np.ndarray) -> np.ndarray:
    if name == BASELINES[0]:
        return raw_pixels(faces)
    if name == BASELINES[1]:
        return hog_features(faces)
    raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")
