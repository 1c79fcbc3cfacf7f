"""IoU tracking: give the same id to the face that stays in (about) the same place across frames,
so that temporal probes get one sequence per person."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .appearance import MIN_SIMILARITY, similarity


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between boxes a (n,4) and b (m,4), x1 y1 x2 y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


class IoUTracker:
    """Greedy matching of each frame's boxes to live tracks by IoU, best pairs first.

    A box joins a track only if it overlaps the track's last box by ``min_iou`` and, when looks
    are given (:func:`fever.appearance.appearance`), the face looks like the track's last face
    (similarity >= ``min_similarity``). A track that is not matched for more than ``max_gap``
    processed frames ends; an unmatched box starts a new track.
    """

    def __init__(self, min_iou: float = 0.3, max_gap: int = 10, min_similarity: float = MIN_SIMILARITY) -> None:
        self.min_iou = min_iou
        self.max_gap = max_gap
        self.min_similarity = min_similarity
        self._looks: dict[int, np.ndarray] = {}
        self._boxes: dict[int, np.ndarray] = {}
        self._last_seen: dict[int, int] = {}
        self._next_id = 0
        self._step = 0

    def cut(self) -> None:
        """The shot changed: every live track ends, the faces of the next frame start new ones."""
        self._last_seen.clear()

    def update(self, boxes: np.ndarray, looks: Sequence[np.ndarray] | None = None) -> list[int]:
        """Boxes of the next processed frame (and the looks of their faces) -> their track ids."""
        if looks is not None and len(looks) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(looks)} looks")
        self._step += 1
        live = [t for t, seen in self._last_seen.items() if self._step - seen <= self.max_gap + 1]
        ids = [-1] * len(boxes)
        if len(boxes) and live:
            overlap = iou(np.asarray(boxes, np.float32), np.stack([self._boxes[t] for t in live]))
            for flat in np.argsort(-overlap, axis=None):
                i, j = np.unravel_index(flat, overlap.shape)
                if overlap[i, j] < self.min_iou:
                    break
                if ids[i] == -1 and live[j] not in ids and self._alike(live[j], looks, i):
                    ids[i] = live[j]
        for i, box in enumerate(boxes):
            if ids[i] == -1:
                ids[i] = self._next_id
                self._next_id += 1
            self._boxes[ids[i]] = np.asarray(box, np.float32)
            self._last_seen[ids[i]] = self._step
            if looks is not None:
                self._looks[ids[i]] = looks[i]
        return ids

    def _alike(self, track: int, looks: Sequence[np.ndarray] | None, i: int) -> bool:
        """Whether face ``i`` looks like the track's last face (True when either look is unknown)."""
        if looks is None or track not in self._looks:
            return True
        return similarity(self._looks[track], looks[i]) >= self.min_similarity
