"""Training losses of the one-pass detector (CenterNet's, plus soft expression cross-entropy).

The heatmap learns with CenterNet's penalty-reduced focal loss (alpha 2, beta 4); offset, size and
landmarks with L1 at the faces' centre cells; expressions with cross-entropy against each face's
distribution (FER+ votes on composite scenes, the two-stage teacher's probabilities on real frames).
Weights follow CenterFace: size 0.1, landmarks 0.1, offset 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fever.onepass.coding import Targets

WEIGHTS = {"heatmap": 1.0, "offset": 1.0, "size": 0.1, "landmarks": 0.1, "expression": 1.0}


def focal_heatmap_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's focal loss on (N, 1, H, W) logits against Gaussian targets, per face."""
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    faces = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / faces


def _at(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(C, H, W) map values at flat cell indices -> (K, C)."""
    return maps.reshape(maps.shape[0], -1)[:, index].T


def onepass_loss(outputs: dict[str, torch.Tensor], targets: list[Targets]) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the five losses over a batch, and each part (for the logs).

    Args:
        outputs: the network's maps, (N, C, H, W) each.
        targets: one :class:`~fever.onepass.coding.Targets` per image, on the same grid.
    """
    heat = torch.cat([t.heatmap[None] for t in targets])
    parts = {"heatmap": focal_heatmap_loss(outputs["heatmap"], heat)}
    sums = {k: outputs["heatmap"].new_zeros(()) for k in ("offset", "size", "landmarks", "expression")}
    counts = {k: 0 for k in sums}
    for b, t in enumerate(targets):
        if len(t.index) == 0:
            continue
        sums["offset"] = sums["offset"] + F.l1_loss(
            _at(outputs["offset"][b], t.index).float(), t.offset, reduction="sum"
        )
        sums["size"] = sums["size"] + F.l1_loss(_at(outputs["size"][b], t.index).float(), t.size, reduction="sum")
        counts["offset"] += len(t.index)
        counts["size"] += len(t.index)
        if t.has_landmarks.any():
            lm = _at(outputs["landmarks"][b], t.index).float()[t.has_landmarks]
            sums["landmarks"] = sums["landmarks"] + F.l1_loss(lm, t.landmarks[t.has_landmarks], reduction="sum") / 10
            counts["landmarks"] += int(t.has_landmarks.sum())
        if t.has_expression.any():
            logits = _at(outputs["expression"][b], t.index).float()[t.has_expression]
            target = t.expression[t.has_expression]
            sums["expression"] = sums["expression"] - (target * F.log_softmax(logits, 1)).sum()
            counts["expression"] += int(t.has_expression.sum())
    for k in sums:
        parts[k] = sums[k] / max(counts[k], 1)
    total = sum(WEIGHTS[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}
