"""The one-pass face + expression network (paper 004's idea, CenterFace's layout, sized for a CPU).

Paper 004 ran YOLOv3-tiny (416 px, 9 convolutions, two grids) for faces and their expression
classes. Faces are small, centred objects with landmarks: CenterFace's anchor-free layout (one
heatmap peak per face at stride 4, with size, offset and landmark maps) finds them without anchor
boxes and codes landmarks for free. The trunk is a stride-2 stem and depthwise-separable blocks
(``depths`` of them per stage) down to stride 32, fused back to stride 4 (a light FPN), then five
1x1 heads: face heatmap, centre offset, log size, 5 landmarks and 8 expression logits (FER+ classes).

With ``expression_width`` > 0 the expression logits get a branch of their own: the shared 32-channel
stride-4 map is enough to say *where* a face is but too narrow to say *what* it shows (the first
detector, without the branch, named 38.2% of the FER+ valid faces it found in composite scenes
correctly, `fever-distill evaluate-detector --split valid`). The branch fuses strides 8, 16 and
32 at its own width, adds two separable blocks of depth at stride 8 (where the cost is a quarter
of stride 4's) and is upsampled to the shared grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.config import EXPRESSION_CLASSES

OUTPUT_STRIDE = 4
HEADS = {"heatmap": 1, "offset": 2, "size": 2, "landmarks": 10, "expression": 8}


@dataclass(frozen=True)
class OnePassConfig:
    """Architecture and input of a one-pass detector (stored as its ``config.json``).

    ``widths``: channels at strides 4, 8, 16 and 32. ``input_scale``: frames are resized by it
    before the network (0.5: a 640x360 frame is seen at 320x180, so faces of 20 px and up are
    found at 10 px and up, and the network costs a quarter). ``expression_width``: 0 reads the
    expression logits off the shared map; > 0 gives them a branch of that width.
    """

    name: str = "fever-onepass"
    widths: tuple[int, int, int, int] = (24, 48, 96, 160)
    head_width: int = 32
    expression_width: int = 0  # > 0: the expression logits' own branch at stride 8 (see the module)
    depths: tuple[int, int, int] = (2, 2, 2)  # separable blocks at strides 8, 16 and 32
    input_scale: float = 0.5
    min_score: float = 0.5
    nms_iou: float = 0.4
    class_names: tuple[str, ...] = EXPRESSION_CLASSES
    description: str = ""
    kind: str = field(default="onepass", init=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["widths"], data["class_names"] = list(self.widths), list(self.class_names)
        data["depths"] = list(self.depths)
        if not self.expression_width:
            del data["expression_width"]  # folders (and config hashes) from before the branch stay as they were
        if self.depths == (2, 2, 2):
            del data["depths"]  # likewise for folders from before the depths could change
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OnePassConfig":
        data = {k: v for k, v in data.items() if k != "kind"}
        for key in ("widths", "depths"):
            if key in data:
                data[key] = tuple(int(v) for v in data[key])
        if "class_names" in data:
            data["class_names"] = tuple(data["class_names"])
        return cls(**data)


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1 (MobileNet's block): a ninth of a full 3x3's cost."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))


def stage(cin: int, cout: int, depth: int) -> nn.Sequential:
    """A stride-2 separable block then ``depth - 1`` more at the new width (the deeper strides cost
    little: stride 16 has a sixteenth of stride 4's positions)."""
    return nn.Sequential(separable(cin, cout, 2), *(separable(cout, cout) for _ in range(depth - 1)))


def top_down(laterals: nn.ModuleList, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """FPN's top-down pass: each level's lateral plus the coarser sum upsampled (nearest), from the
    coarsest of ``feats`` (listed fine to coarse, one lateral each) down to the finest."""
    top = laterals[-1](feats[-1])
    for lateral, feat in zip(reversed(laterals[:-1]), reversed(feats[:-1])):
        top = lateral(feat) + F.interpolate(top, size=feat.shape[-2:], mode="nearest")
    return top


class OnePassNet(nn.Module):
    """Frame (N, 3, H, W) in [0, 1] -> dict of head maps at stride 4 of the network's input."""

    def __init__(self, config: OnePassConfig | None = None) -> None:
        super().__init__()
        self.config = config or OnePassConfig()
        c4, c8, c16, c32 = self.config.widths
        hw = self.config.head_width
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), conv_bn(16, c4, 3, 2))  # stride 4
        d8, d16, d32 = self.config.depths
        self.stage8 = stage(c4, c8, d8)
        self.stage16 = stage(c8, c16, d16)
        self.stage32 = stage(c16, c32, d32)
        self.lateral = nn.ModuleList([conv_bn(c, hw, 1) for c in (c4, c8, c16, c32)])
        self.smooth = separable(hw, hw)
        self.heads = nn.ModuleDict({name: nn.Conv2d(hw, n, 1) for name, n in HEADS.items()})
        nn.init.constant_(self.heads["heatmap"].bias, -2.19)  # CenterNet: start at p = 0.1
        ew = self.config.expression_width
        if ew > 0:
            self.expression_lateral = nn.ModuleList([conv_bn(c, ew, 1) for c in (c8, c16, c32)])
            self.expression_tower = nn.Sequential(separable(ew, ew), separable(ew, ew))
            self.heads["expression"] = nn.Conv2d(ew, HEADS["expression"], 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f4 = self.stem(x)
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        f32 = self.stage32(f16)
        feat = self.smooth(top_down(self.lateral, (f4, f8, f16, f32)))
        shared = [name for name in self.heads if name != "expression" or self.config.expression_width == 0]
        out = {name: self.heads[name](feat) for name in shared}
        if self.config.expression_width > 0:
            out["expression"] = self._expression(f8, f16, f32, feat.shape[-2:])
        return out

    def _expression(self, f8: torch.Tensor, f16: torch.Tensor, f32: torch.Tensor, size: torch.Size) -> torch.Tensor:
        """The expression branch: its own top-down fusion to stride 8, two blocks, logits at stride 4."""
        top = top_down(self.expression_lateral, (f8, f16, f32))
        logits = self.heads["expression"](self.expression_tower(top))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def pad_to_stride(x: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """Frames padded on the right and bottom to a multiple of the trunk's stride (boxes unchanged)."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple))
