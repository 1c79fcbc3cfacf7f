"""The output heads that sit on the ``D_face`` expression vector (DeepFEVER II-A, II-B)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class FeverOutput:
    """Everything one forward pass gives.

    ``embedding`` is the ``D_face`` expression vector (what :func:`fever.extract` returns);
    ``similarity`` the 32-d FEC/triplet head, ``logits`` the 8 expression classes, ``distill``
    the 80-d relational-distillation head (students only, else ``None``).
    """

    embedding: torch.Tensor
    similarity: torch.Tensor
    logits: torch.Tensor
    distill: torch.Tensor | None = None


class ExpressionHeads(nn.Module):
    """Dropout on the vector, then independent linear heads (paper: 0.1 teachers, 0.2 student)."""

    def __init__(
        self, d_face: int, similarity_dim: int = 32, num_classes: int = 8, distill_dim: int = 0, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.similarity = nn.Linear(d_face, similarity_dim)
        self.logits = nn.Linear(d_face, num_classes)
        self.distill = nn.Linear(d_face, distill_dim) if distill_dim > 0 else None

    def forward(self, embedding: torch.Tensor) -> FeverOutput:
        h = self.dropout(embedding)
        return FeverOutput(
            embedding=embedding,
            similarity=self.similarity(h),
            logits=self.logits(h),
            distill=self.distill(h) if self.distill is not None else None,
        )


class ConvBNReLU(nn.Sequential):
    """1x1 conv + BatchNorm + ReLU, the projection the paper uses before and after the dense block."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
