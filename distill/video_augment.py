"""What video does to a face, as training augmentation: blur, small faces, low light, noise, compression.

Users run fever on MTCNN crops of video frames, not on FER2013's studio-like 48 px crops. A frame
of a talking head is often out of focus or smeared by motion, the face covers few pixels and is
scaled up, indoor light is dim and the sensor noisy, and H.264 leaves 8x8 block and ringing
artefacts. Each of these is one function here, applied batch-wise to float faces in [0, 1]
(N, 3, S, S) with a per-face probability; :func:`video_degrade` applies them in the order a camera
and an encoder do. Every random number comes from the caller's generator, so a resumed run
draws the same degradations.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .settings import settings


@dataclass(frozen=True)
class VideoDegradation:
    """Probabilities (per face) and ranges of the degradations; a probability of 0 turns one off."""

    blur: float = 0.0  # defocus: Gaussian blur
    blur_sigma: tuple[float, float] = (0.4, 1.4)  # in pixels of the model input
    motion_blur: float = 0.0  # a straight streak at a random angle
    motion_length: tuple[int, int] = (3, 7)  # pixels of the model input
    downscale: float = 0.0  # a small face scaled up: down to a fraction of the size and back
    downscale_range: tuple[float, float] = (0.35, 0.8)
    low_light: float = 0.0  # darker and then noisier, as a sensor at high gain
    low_light_gain: tuple[float, float] = (0.3, 0.7)
    noise: float = 0.0  # Gaussian sensor noise (std in [0, 1] units)
    noise_std: tuple[float, float] = (0.01, 0.05)
    jpeg: float = 0.0  # block-DCT compression (JPEG; H.264 intra blocks look alike)
    jpeg_quality: tuple[int, int] = (15, 60)

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "video augmentation") -> "VideoDegradation":
        """Settings from JSON (lists become the ranges' tuples); unknown names are refused by name."""
        return cls(**settings(cls, data, what))

    @property
    def active(self) -> bool:
        return any(p > 0 for p in (self.blur, self.motion_blur, self.downscale, self.low_light, self.noise, self.jpeg))


def _chosen(n: int, rng: np.random.Generator, prob: float) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < prob)


def _filter(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each face (N, C, H, W) convolved with its own (N, k, k) kernel, edges replicated."""
    n, c, h, w = x.shape
    k = kernels.shape[-1]
    weight = kernels.repeat_interleave(c, dim=0).unsqueeze(1)  # (N*C, 1, k, k)
    padded = F.pad(x.reshape(1, n * c, h, w), (k // 2,) * 4, mode="replicate")
    return F.conv2d(padded, weight, groups=n * c).reshape(n, c, h, w)


def gaussian_kernels(sigmas: np.ndarray, size: int = 7) -> torch.Tensor:
    """(N, size, size) normalised Gaussian kernels, one per sigma."""
    r = torch.arange(size, dtype=torch.float32) - size // 2
    s = torch.from_numpy(sigmas.astype(np.float32)).view(-1, 1)
    g = torch.exp(-(r.view(1, -1) ** 2) / (2 * s**2))
    k2 = g.unsqueeze(2) * g.unsqueeze(1)
    return k2 / k2.sum(dim=(1, 2), keepdim=True)


def motion_kernels(lengths: np.ndarray, angles: np.ndarray, size: int = 9) -> torch.Tensor:
    """(N, size, size) line kernels of the given lengths (pixels) and angles (radians), normalised."""
    r = torch.arange(size, dtype=torch.float32) - size // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    cos = torch.from_numpy(np.cos(angles).astype(np.float32)).view(-1, 1, 1)
    sin = torch.from_numpy(np.sin(angles).astype(np.float32)).view(-1, 1, 1)
    half = torch.from_numpy(lengths.astype(np.float32) / 2).view(-1, 1, 1)
    along = xx * cos + yy * sin
    across = -xx * sin + yy * cos
    k = ((along.abs() <= half) & (across.abs() <= 0.5)).float()
    return k / k.sum(dim=(1, 2), keepdim=True)


def _rescale(x: torch.Tensor, factors: np.ndarray) -> torch.Tensor:
    """Each picture down to a fraction of its size and back (faces are square, whole frames not)."""
    h, w = x.shape[-2:]
    out = torch.empty_like(x)
    for i, f in enumerate(factors):
        small = (max(4, int(round(h * f))), max(4, int(round(w * f))))
        down = F.interpolate(x[i : i + 1], size=small, mode="bilinear", antialias=True, align_corners=False)
        out[i] = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)[0]
    return out


def jpeg_roundtrip(face: torch.Tensor, quality: int) -> torch.Tensor:
    """One face (3, H, W) in [0, 1] through a JPEG encoder and decoder (gray faces as one channel)."""
    gray = bool(torch.equal(face[0], face[1]) and torch.equal(face[1], face[2]))
    arr = (face.clamp(0, 1) * 255).round().to(torch.uint8)
    img = Image.fromarray(arr[0].numpy(), "L") if gray else Image.fromarray(arr.permute(1, 2, 0).numpy(), "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L" if gray else "RGB"))
    t = torch.from_numpy(decoded.copy()).float().div_(255.0)
    return t.unsqueeze(0).expand(3, -1, -1).clone() if gray else t.permute(2, 0, 1).contiguous()


def video_degrade(x: torch.Tensor, rng: np.random.Generator, deg: VideoDegradation) -> torch.Tensor:
    """Faces (N, 3, S, S) in [0, 1] -> the same faces as a video frame might show them (whole
    frames (N, 3, H, W) work too: the one-pass detector's scenes go through it).

    Args:
        x: float faces in [0, 1]; not modified.
        rng: the step's generator (a turned-off degradation draws nothing from it).
        deg: which degradations, how often and how strong.

    Returns:
        Degraded faces, same shape, clamped to [0, 1].
    """
    if not deg.active:
        return x
    x = x.clone()
    n = x.shape[0]
    if deg.blur > 0 and len(idx := _chosen(n, rng, deg.blur)):
        x[idx] = _filter(x[idx], gaussian_kernels(rng.uniform(*deg.blur_sigma, size=len(idx))))
    if deg.motion_blur > 0 and len(idx := _chosen(n, rng, deg.motion_blur)):
        lengths = rng.integers(deg.motion_length[0], deg.motion_length[1] + 1, size=len(idx))
        x[idx] = _filter(x[idx], motion_kernels(lengths, rng.uniform(0, np.pi, size=len(idx))))
    if deg.downscale > 0 and len(idx := _chosen(n, rng, deg.downscale)):
        x[idx] = _rescale(x[idx], rng.uniform(*deg.downscale_range, size=len(idx)))
    if deg.low_light > 0 and len(idx := _chosen(n, rng, deg.low_light)):
        gain = torch.from_numpy(rng.uniform(*deg.low_light_gain, size=(len(idx), 1, 1, 1))).float()
        dark = x[idx] * gain
        std = torch.from_numpy(rng.uniform(0.02, 0.06, size=(len(idx), 1, 1, 1))).float()
        x[idx] = dark + std * torch.from_numpy(rng.standard_normal(size=dark.shape[:1] + (1,) + dark.shape[2:])).float()
    if deg.noise > 0 and len(idx := _chosen(n, rng, deg.noise)):
        std = torch.from_numpy(rng.uniform(*deg.noise_std, size=(len(idx), 1, 1, 1))).float()
        x[idx] = x[idx] + std * torch.from_numpy(rng.standard_normal(size=(len(idx), 1) + x.shape[2:])).float()
    x.clamp_(0, 1)
    if deg.jpeg > 0 and len(idx := _chosen(n, rng, deg.jpeg)):
        qualities = rng.integers(deg.jpeg_quality[0], deg.jpeg_quality[1] + 1, size=len(idx))
        for i, q in zip(idx, qualities):
            x[i] = jpeg_roundtrip(x[i], int(q))
    return x
