"""Losses of DeepFEVER: FEC triplet loss [8], cross-entropy, Relational Knowledge Distillation [9]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fec_triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 0.2
) -> torch.Tensor:
    """Vemulapalli & Agarwala (2019) triplet loss on L2-normalised embeddings.

    (anchor, positive) is the most similar pair; the odd one must be farther from *both*:
    l = max(0, |a-p|^2 - |a-n|^2 + m) + max(0, |a-p|^2 - |p-n|^2 + m).
    """
    a, p, n = (F.normalize(t.float(), dim=1) for t in (anchor, positive, negative))
    d_ap = (a - p).pow(2).sum(1)
    return (F.relu(d_ap - (a - n).pow(2).sum(1) + margin) + F.relu(d_ap - (p - n).pow(2).sum(1) + margin)).mean()


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a distribution (FER+ votes) or hard labels (int tensor)."""
    if target.dtype in (torch.int64, torch.int32):
        return F.cross_entropy(logits.float(), target)
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


def kd_loss(student_logits: torch.Tensor, teacher_logits: list[torch.Tensor], temperature: float = 4.0) -> torch.Tensor:
    """Hinton et al. (2015): KL from the teachers' mean softened prediction, scaled by T^2."""
    with torch.no_grad():
        target = torch.stack([F.softmax(t.float() / temperature, dim=1) for t in teacher_logits]).mean(0)
    log_p = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_p, target, reduction="batchmean") * temperature**2


def _pairwise_distance(e: torch.Tensor) -> torch.Tensor:
    sq = e.pow(2).sum(1)
    prod = e @ e.t()
    d = (sq.unsqueeze(0) + sq.unsqueeze(1) - 2 * prod).clamp(min=1e-12).sqrt()
    d = d.clone()
    d[range(len(e)), range(len(e))] = 0
    return d


def rkd_distance_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD distance-wise loss: Huber between pair distances, each normalised by its mean (Park et al. 2019)."""
    with torch.no_grad():
        t_d = _pairwise_distance(teacher.float())
        t_d = t_d / t_d[t_d > 0].mean()
    s_d = _pairwise_distance(student.float())
    s_d = s_d / s_d[s_d > 0].mean()
    return F.smooth_l1_loss(s_d, t_d)


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e.unsqueeze(0) - e.unsqueeze(1), p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).view(-1)


def rkd_angle_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD angle-wise loss: Huber between the cosines of the angles of all triples."""
    with torch.no_grad():
        t_a = _angles(teacher.float())
    return F.smooth_l1_loss(_angles(student.float()), t_a)


def distillation_target(teacher_outputs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The 80-d target of II-B: each teacher's 32-d and 8-d outputs L2-normalised, concatenated."""
    parts = [F.normalize(t.float(), dim=1) for pair in teacher_outputs for t in pair]
    return torch.cat(parts, dim=1)
