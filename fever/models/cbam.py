"""CBAM (Woo et al. 2018) and the ResNet-101 + CBAM extractor of paper 002 (Emotion Recognition for
In-the-wild Videos), which puts a CBAM module after each residual block."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet101


class ChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(torch.mean(x, dim=(2, 3), keepdim=True))
        mx = self.mlp(torch.amax(x, dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """Channel attention, then spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


def resnet101_cbam_features() -> tuple[nn.Module, int]:
    """ResNet-101 feature map (2048 channels) with a CBAM module after every bottleneck block."""
    net = resnet101(weights=None)
    for layer_name in ("layer1", "layer2", "layer3", "layer4"):
        layer: nn.Sequential = getattr(net, layer_name)
        blocks = []
        for block in layer:
            blocks += [block, CBAM(block.conv3.out_channels)]
        setattr(net, layer_name, nn.Sequential(*blocks))
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    return trunk, 2048
