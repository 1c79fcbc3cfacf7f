"""What video does to a face (distill.video_augment): known kernels, seeded, off means untouched."""

import numpy as np
import pytest
import torch

from distill.augment import AugmentConfig
from distill.video_augment import (
    VideoDegradation,
    gaussian_kernels,
    jpeg_roundtrip,
    motion_kernels,
    video_degrade,
)


def _faces(n: int = 6) -> torch.Tensor:
    """Gray faces with structure (a gradient plus an edge), as three equal channels."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    face = 0.2 + 0.5 * x + 0.3 * (y > 0.5).float()
    return face.clamp(0, 1).expand(n, 3, 48, 48).clone()


def test_kernels_are_normalised_and_shaped():
    g = gaussian_kernels(np.array([0.5, 1.5]))
    assert g.shape == (2, 7, 7) and torch.allclose(g.sum(dim=(1, 2)), torch.ones(2))
    assert g[0, 3, 3] > g[1, 3, 3]  # the narrower blur keeps more weight at the centre
    m = motion_kernels(np.array([5]), np.array([0.0]))
    assert m.shape == (1, 9, 9) and torch.isclose(m.sum(), torch.tensor(1.0))
    assert (m[0, 4] > 0).sum() == 5 and m[0].sum(dim=1)[4] == pytest.approx(1.0)  # a horizontal streak


def test_off_is_untouched_and_draws_nothing():
    x = _faces()
    rng = np.random.default_rng(3)
    assert video_degrade(x, rng, VideoDegradation()) is x
    assert rng.random() == np.random.default_rng(3).random()


def test_every_degradation_is_seeded_and_changes_the_face():
    x = _faces()
    everything = VideoDegradation(blur=1, motion_blur=1, downscale=1, low_light=1, noise=1, jpeg=1)
    a = video_degrade(x, np.random.default_rng(5), everything)
    b = video_degrade(x, np.random.default_rng(5), everything)
    assert torch.equal(a, b) and a.shape == x.shape
    assert 0 <= a.min() and a.max() <= 1
    assert (a - x).abs().mean() > 0.05  # low light alone takes 30-70% off
    assert torch.equal(a[:, 0], a[:, 1]) and torch.equal(a[:, 1], a[:, 2])  # gray stays gray
    blurred = video_degrade(x, np.random.default_rng(0), VideoDegradation(blur=1))
    edge = lambda t: (t[:, 0, 25, :] - t[:, 0, 22, :]).abs().mean()  # noqa: E731
    assert edge(blurred) < edge(x)  # the step at mid-height is softened


def test_jpeg_roundtrip_is_close_but_lossy():
    face = _faces(1)[0]
    low, high = jpeg_roundtrip(face, 10), jpeg_roundtrip(face, 90)
    assert low.shape == face.shape and torch.equal(low[0], low[2])
    assert (high - face).abs().mean() < (low - face).abs().mean() < 0.1


def test_config_reads_video_settings_and_refuses_unknown_ones():
    aug = AugmentConfig.from_dict({"video": {"jpeg": 0.3, "jpeg_quality": [20, 40]}})
    assert aug.video == VideoDegradation(jpeg=0.3, jpeg_quality=(20, 40))
    assert aug.to_dict()["video"]["jpeg_quality"] == [20, 40]
    assert AugmentConfig.from_dict(aug.to_dict()) == aug
    with pytest.raises(ValueError, match=r"unknown video augmentation settings: \['h265'\]"):
        AugmentConfig.from_dict({"video": {"h265": 1}})
    with pytest.raises(ValueError, match="must be an object"):
        AugmentConfig.from_dict({"video": 0.5})
