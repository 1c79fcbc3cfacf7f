"""Box, landmark and expression coding of the one-pass detector (CenterNet / CenterFace style).

A face is coded at the cell of its box centre on a grid of stride ``s``: a Gaussian peak on the
face heatmap, the sub-cell offset of the centre, the log of the box size in cells, the 5 landmarks
as offsets from the centre in units of the box size, and the expression distribution. Decoding
takes the heatmap's local maxima (a 3x3 max-pool: one peak per face, as in CenterNet) and then a
class-agnostic torchvision NMS, so that two peaks on one face still give one box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import nms


@dataclass
class FaceTarget:
    """One face to find: box (x1, y1, x2, y2) and landmarks (5, 2) in input pixels, expression
    distribution over the 8 classes (votes or a teacher's probabilities; all zero = unknown)."""

    box: np.ndarray
    landmarks: np.ndarray | None
    expression: np.ndarray


@dataclass
class Targets:
    """Dense training targets of one image on its output grid (H, W)."""

    heatmap: torch.Tensor  # (1, H, W) in [0, 1], 1 at face centres
    index: torch.Tensor  # (K,) flat cell index of each face's centre
    offset: torch.Tensor  # (K, 2) sub-cell centre offset
    size: torch.Tensor  # (K, 2) log(width, height in cells)
    landmarks: torch.Tensor  # (K, 10) landmark offsets from the centre / box size
    has_landmarks: torch.Tensor  # (K,) bool
    expression: torch.Tensor  # (K, 8) distribution
    has_expression: torch.Tensor  # (K,) bool


def gaussian_radius(width: float, height: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the largest centre shift whose box still overlaps the true one by
    ``min_overlap`` (the smallest of its three cases), in cells."""
    a1, b1, c1 = 1, width + height, width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4, 2 * (width + height), (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (width + height), (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return max(0.0, min(r1, r2, r3))


def encode(faces: list[FaceTarget], grid: tuple[int, int], stride: int) -> Targets:
    """The targets of one image's faces on a grid of ``grid`` = (H, W) cells of ``stride`` pixels."""
    h, w = grid
    heat = torch.zeros(1, h, w)
    rows: dict[str, list] = {k: [] for k in ("index", "offset", "size", "lm", "has_lm", "expr", "has_expr")}
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for face in faces:
        x1, y1, x2, y2 = (float(v) / stride for v in face.box)
        bw, bh = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = min(max(int(cx), 0), w - 1), min(max(int(cy), 0), h - 1)
        sigma = max(gaussian_radius(bw, bh), 0.5) * 2 / 6 + 1e-3
        peak = torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        heat[0] = torch.maximum(heat[0], peak)
        rows["index"].append(iy * w + ix)
        rows["offset"].append([cx - ix, cy - iy])
        rows["size"].append([math.log(bw), math.log(bh)])
        if face.landmarks is not None:
            lm = (np.asarray(face.landmarks, np.float32) / stride - [cx, cy]) / [bw, bh]
            rows["lm"].append(lm.reshape(-1).tolist())
            rows["has_lm"].append(True)
        else:
            rows["lm"].append([0.0] * 10)
            rows["has_lm"].append(False)
        expr = np.asarray(face.expression, np.float32)
        total = float(expr.sum())
        rows["expr"].append((expr / total if total > 0 else expr).tolist())
        rows["has_expr"].append(total > 0)
    n = len(faces)
    return Targets(
        heatmap=heat,
        index=torch.tensor(rows["index"], dtype=torch.long).view(n),
        offset=torch.tensor(rows["offset"], dtype=torch.float32).view(n, 2),
        size=torch.tensor(rows["size"], dtype=torch.float32).view(n, 2),
        landmarks=torch.tensor(rows["lm"], dtype=torch.float32).view(n, 10),
        has_landmarks=torch.tensor(rows["has_lm"], dtype=torch.bool).view(n),
        expression=torch.tensor(rows["expr"], dtype=torch.float32).view(n, 8),
        has_expression=torch.tensor(rows["has_expr"], dtype=torch.bool).view(n),
    )


@dataclass
class OnePassFace:
    """One face found by the one-pass detector, in input pixels."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    score: float  # face probability (the heatmap peak)
    landmarks: np.ndarray  # (5, 2)
    expression_logits: np.ndarray  # (8,)


def decode(
    heatmap: torch.Tensor,
    offset: torch.Tensor,
    size: torch.Tensor,
    landmarks: torch.Tensor,
    expression: torch.Tensor,
    stride: int,
    min_score: float = 0.5,
    max_faces: int = 100,
    iou: float = 0.4,
) -> list[list[OnePassFace]]:
    """Faces of a batch from the network's maps.

    Args:
        heatmap: (N, 1, H, W) face probabilities (after the sigmoid).
        offset, size, landmarks, expression: (N, 2 | 2 | 10 | 8, H, W) raw head outputs.
        stride: pixels per cell.
        min_score: peaks below it are no face.
        max_faces: most faces kept per image.
        iou: class-agnostic NMS threshold over the peaks' boxes.

    Returns:
        Per image, its faces, best first.
    """
    n, _, h, w = heatmap.shape
    peaks = heatmap * (F.max_pool2d(heatmap, 3, stride=1, padding=1) == heatmap)
    out: list[list[OnePassFace]] = []
    for b in range(n):
        scores, idx = peaks[b, 0].reshape(-1).topk(min(max_faces, h * w))
        keep = scores >= min_score
        scores, idx = scores[keep], idx[keep]
        if len(idx) == 0:
            out.append([])
            continue
        iy, ix = (idx // w).float(), (idx % w).float()
        off = offset[b].reshape(2, -1)[:, idx]
        cx, cy = ix + off[0], iy + off[1]
        wh = size[b].reshape(2, -1)[:, idx].float().clamp(max=12).exp()
        boxes = torch.stack([cx - wh[0] / 2, cy - wh[1] / 2, cx + wh[0] / 2, cy + wh[1] / 2], 1) * stride
        lm = landmarks[b].reshape(10, -1)[:, idx].float().T.reshape(-1, 5, 2)
        lm = (lm * wh.T[:, None, :] + torch.stack([cx, cy], 1)[:, None, :]) * stride
        expr = expression[b].reshape(8, -1)[:, idx].float().T
        kept = nms(boxes.float(), scores.float(), iou)
        out.append(
            [
                OnePassFace(
                    boxes[k].numpy().astype(np.float32),
                    float(scores[k]),
                    lm[k].numpy().astype(np.float32),
                    expr[k].numpy().astype(np.float32),
                )
                for k in kept.tolist()
            ]
        )
    return out
