"""Frames in, faces out: the one-pass network with its preprocessing and decoding.

:func:`prepare` is the one preprocessing of the network (training uses it too): RGB uint8 frames
to [0, 1] tensors, scaled by ``input_scale`` and padded to the trunk's stride. Boxes and
landmarks come back in the frame's own pixels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .coding import OnePassFace, decode
from .network import OUTPUT_STRIDE, OnePassConfig, OnePassNet, pad_to_stride


def prepare(frames: Sequence[np.ndarray], config: OnePassConfig) -> torch.Tensor:
    """Frames of one size (H, W, 3) uint8 -> the network's input (N, 3, H', W'), in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).permute(0, 3, 1, 2).float().div_(255.0)
    if config.input_scale != 1.0:
        x = F.interpolate(x, scale_factor=config.input_scale, mode="bilinear", antialias=True, align_corners=False)
    return pad_to_stride(x)


class OnePassDetector:
    """Every face of a frame and its expression, from one forward pass.

    Args:
        net: a trained :class:`OnePassNet` (its config gives the input scale and thresholds).
        min_score: face probability below which a peak is dropped (default: the config's).
    """

    def __init__(self, net: OnePassNet, min_score: float | None = None) -> None:
        self.net = net.eval()
        self.config = net.config
        self.min_score = self.config.min_score if min_score is None else min_score

    @torch.inference_mode()
    def detect(self, frames: Sequence[np.ndarray]) -> list[list[OnePassFace]]:
        """Faces of each frame, best first; frames of different sizes are run one size at a time."""
        out: list[list[OnePassFace]] = [[] for _ in frames]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(i)
        scale = self.config.input_scale
        for indices in by_shape.values():
            x = prepare([frames[i] for i in indices], self.config).contiguous(memory_format=torch.channels_last)
            maps = self.net(x)
            found = decode(
                torch.sigmoid(maps["heatmap"]),
                maps["offset"],
                maps["size"],
                maps["landmarks"],
                maps["expression"],
                OUTPUT_STRIDE,
                min_score=self.min_score,
                iou=self.config.nms_iou,
            )
            for i, faces in zip(indices, found):
                h, w = frames[i].shape[:2]
                for face in faces:
                    face.box = np.clip(face.box / scale, 0, [w, h, w, h]).astype(np.float32)
                    face.landmarks = (face.landmarks / scale).astype(np.float32)
                out[i] = faces
        return out
