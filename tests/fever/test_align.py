import numpy as np
import torch

from fever.align import crop_face, eye_angle
from fever.preprocess import PreprocessConfig
from fever.track import IoUTracker, iou


def _two_eyes(angle_deg: float, size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A gray image with two white 'eyes' on a line tilted by angle_deg around the centre."""
    img = np.full((size, size, 3), 60, np.uint8)
    a = np.radians(angle_deg)
    eyes = []
    for d in (-30, 30):
        x, y = size / 2 + d * np.cos(a), size / 2 + d * np.sin(a)
        yy, xx = np.mgrid[:size, :size]
        img[(xx - x) ** 2 + (yy - y) ** 2 < 36] = 255
        eyes.append((x, y))
    return img, np.array(eyes + [(100, 120), (85, 140), (115, 140)], np.float32)


def test_eye_angle_is_capped():
    _, lm = _two_eyes(25)
    assert abs(eye_angle(lm, 90) - 25) < 1e-3
    assert eye_angle(lm, 10) == 10


def test_crop_levels_the_eyes():
    img, lm = _two_eyes(8)
    cfg = PreprocessConfig(input_size=64, margin=0.0, max_rotation=10)
    crop = crop_face(img, np.array([50, 50, 150, 150], np.float32), lm, cfg)
    assert crop.shape == (3, 64, 64)
    bright = (crop[0] > 0.8).nonzero().float()
    left, right = bright[bright[:, 1] < 32], bright[bright[:, 1] >= 32]
    assert abs(left[:, 0].mean() - right[:, 0].mean()) < 1.0  # same row after alignment
    unaligned = crop_face(
        img, np.array([50, 50, 150, 150], np.float32), lm, PreprocessConfig(input_size=64, margin=0.0, align=False)
    )
    b = (unaligned[0] > 0.8).nonzero().float()
    assert (b[b[:, 1] >= 32][:, 0].mean() - b[b[:, 1] < 32][:, 0].mean()) > 3  # still tilted


def test_crop_margin_and_border():
    img = np.zeros((100, 100, 3), np.uint8)
    img[40:60, 40:60] = 255
    cfg = PreprocessConfig(input_size=40, margin=0.5, align=False)
    crop = crop_face(img, np.array([40, 40, 60, 60], np.float32), None, cfg)
    # margin 0.5 on each side: the 20 px box fills the middle half of the crop
    assert crop[0, 15:25, 15:25].min() > 0.9 and crop[0, :8, :8].max() < 0.1
    edge = crop_face(img, np.array([-10, -10, 10, 10], np.float32), None, cfg)  # off the image: replicated border
    assert edge.shape == (3, 40, 40) and torch.isfinite(edge).all()


def test_iou_known_values():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_tracker_follows_and_separates_faces():
    t = IoUTracker(min_iou=0.3, max_gap=2)
    assert t.update(np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)) == [0, 1]
    assert t.update(np.array([[52, 51, 62, 61], [1, 0, 11, 10]], np.float32)) == [1, 0]
    assert t.update(np.zeros((0, 4), np.float32)) == []
    assert t.update(np.array([[1, 1, 11, 11]], np.float32)) == [0]  # back after a short gap
    for _ in range(4):
        t.update(np.zeros((0, 4), np.float32))
    assert t.update(np.array([[1, 1, 11, 11]], np.float32)) == [2]  # too long gone: a new track
