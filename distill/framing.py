"""How tightly FER+ faces are framed, measured with the same MTCNN that ``extract()`` uses.

FER2013 faces are tight 48x48 crops. Running MTCNN on them (upscaled) shows where its box falls
relative to the crop; the crop margin that reproduces FER framing for detected faces follows:
``crop side = max(box w, box h) * (1 + 2 * margin)`` equals the image side when
``margin = (1 / side_fraction - 1) / 2``. ``fever-distill framing`` prints the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .ferplus import load_split


def measure_fer_framing(data_root: str | Path, count: int = 400, seed: int = 0, upscale: int = 192) -> dict[str, Any]:
    from fever.detect import FaceDetector

    split = load_split(Path(data_root) / "ferplus", "valid")
    idx = np.random.default_rng(seed).choice(len(split.images), count, replace=False)
    images = [
        np.repeat(
            np.asarray(Image.fromarray(split.images[i]).resize((upscale, upscale), Image.BICUBIC))[:, :, None], 3, 2
        )
        for i in idx
    ]
    found = FaceDetector(min_face_size=40, min_score=0.9).detect(images)
    boxes = np.array([max(d, key=lambda x: x.score).box / upscale for d in found if d])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    margin = (1 / side - 1) / 2
    return {
        "faces_found": len(boxes),
        "images": count,
        "box_width_fraction": float(np.median(w)),
        "box_height_fraction": float(np.median(h)),
        "box_centre_x": float(np.median((boxes[:, 0] + boxes[:, 2]) / 2)),
        "box_centre_y": float(np.median((boxes[:, 1] + boxes[:, 3]) / 2)),
        "implied_margin_median": float(np.median(margin)),
        "implied_margin_iqr": [float(x) for x in np.percentile(margin, [25, 75])],
    }
