"""Trunks shaped for 48-64 px faces (FER2013/FER+ crops), trained from random weights.

ImageNet networks open with a 7x7 stride-2 convolution and a max-pool: a 48 px face reaches the
first block at 12x12 and the last one at 2x2, which throws away the detail that expressions live in.
These trunks keep the resolution instead:

- ``vgg``: 3x3 conv + BN + ReLU stages with a 2x2 max-pool between stages and none at the start
  (the FER+ paper's VGG-13 is ``widths=(64, 128, 256, 256)``, ``depths=(2, 2, 3, 3)``);
- ``resnet``: a 3x3 stem (stride 1 or 2, no max-pool) followed by basic residual blocks
  (ResNet-18 is ``blocks=(2, 2, 2, 2)``).

Each spec in :data:`FER_TRUNKS` is a name that a :class:`~fever.models.config.ModelConfig` can use
as its ``backbone``. Speeds measured here are in ``distill/configs/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def vgg_trunk(widths: tuple[int, ...], depths: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    """VGG stages at full input resolution; a max-pool halves the map between stages (not after the last)."""
    layers: list[nn.Module] = []
    channels = 3
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        if stage > 0:
            layers.append(nn.MaxPool2d(2))
        for _ in range(depth):
            layers += conv_bn_relu(channels, width)
            channels = width
    return nn.Sequential(*layers), channels


class BasicBlock(nn.Module):
    """The ResNet basic block (two 3x3 convolutions and a shortcut)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        # BatchNorm starts at weight 1. Zero-init of this last BN (Goyal et al. 2017) starts every block
        # as the identity, but then no convolution of a block gets a gradient until its BN weight has
        # grown; from scratch on FER+ that run stayed at the class prior for 3 epochs (cross-entropy
        # 1.71 over 660 steps, distill/configs/curves/teacher-resnet18-48-zeroinit-steps.csv) where
        # weight 1 learnt at once (1.52 after 200 steps in a one-off check, not a repo command).
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet_trunk(widths: tuple[int, ...], blocks: tuple[int, ...], stem_stride: int) -> tuple[nn.Sequential, int]:
    """3x3 stem (no max-pool), then residual stages; every stage after the first halves the map."""
    layers: list[nn.Module] = conv_bn_relu(3, widths[0], stem_stride)
    channels = widths[0]
    for stage, (width, count) in enumerate(zip(widths, blocks)):
        for k in range(count):
            layers.append(BasicBlock(channels, width, 2 if (k == 0 and stage > 0) else 1))
            channels = width
    return nn.Sequential(*layers), channels


@dataclass(frozen=True)
class TrunkSpec:
    """A named trunk: how to build it and what it is."""

    build: Callable[[], tuple[nn.Sequential, int]]
    description: str


FER_TRUNKS: dict[str, TrunkSpec] = {
    "vgg_s": TrunkSpec(
        lambda: vgg_trunk((32, 64, 128, 256), (2, 2, 2, 2)),
        "VGG, 8 conv layers of 32-256 channels, 1.2 M parameters (fast default student)",
    ),
    "vgg_m": TrunkSpec(
        lambda: vgg_trunk((48, 96, 192, 384), (2, 2, 2, 2)), "VGG, 8 conv layers of 48-384 channels, 2.7 M parameters"
    ),
    "vgg13_fer": TrunkSpec(
        lambda: vgg_trunk((64, 128, 256, 256), (2, 2, 3, 3)),
        "VGG-13 of the FER+ paper (Barsoum et al. 2016), 10 conv layers",
    ),
    "resnet18_fer": TrunkSpec(
        lambda: resnet_trunk((64, 128, 256, 512), (2, 2, 2, 2), stem_stride=2),
        "ResNet-18 with a 3x3 stride-2 stem and no max-pool, 11 M parameters",
    ),
    "resnet10_fer": TrunkSpec(
        lambda: resnet_trunk((64, 128, 256, 512), (1, 1, 1, 1), stem_stride=2),
        "ResNet-10 (one block per stage), 3x3 stride-2 stem, no max-pool",
    ),
}


def fer_trunk(name: str) -> tuple[nn.Sequential, int]:
    """Build a trunk of :data:`FER_TRUNKS`; returns it and its number of output channels."""
    return FER_TRUNKS[name].build()
