"""Face detection with facenet-pytorch's MTCNN (its weights ship inside the wheel: works offline).

Images of the same size are detected in one batched call; every face found is returned.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass
class Detection:
    box: np.ndarray         # (4,) x1, y1, x2, y2 in pixels
    score: float
    landmarks: np.ndarray   # (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner


class FaceDetector:
    """All faces of many images; ``min_score`` drops weak detections after MTCNN's own thresholds."""

    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7),
                 min_score: float = 0.9, device: str | torch.device = "cpu") -> None:
        from facenet_pytorch import MTCNN

        self.min_score = min_score
        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, thresholds=list(thresholds),
                           post_process=False, select_largest=False, device=device)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """RGB uint8 images (any sizes) -> list of detections per image, in input order."""
        results: list[list[Detection]] = [[] for _ in images]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(images):
            by_shape.setdefault(img.shape, []).append(i)
        for indices in by_shape.values():
            batch = np.stack([images[i] for i in indices])
            with torch.inference_mode():
                boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
            for slot, i in enumerate(indices):
                if boxes[slot] is None:
                    continue
                for box, prob, lm in zip(boxes[slot], probs[slot], points[slot]):
                    if prob is None or float(prob) < self.min_score:
                        continue
                    results[i].append(Detection(np.asarray(box, np.float32), float(prob), np.asarray(lm, np.float32)))
        return results
