"""Looks of faces: a track joins only faces that look alike (issue 17: one track = one person)."""

import numpy as np
import pytest
import torch

from fever.appearance import BINS, MIN_SIMILARITY, appearance, similarity
from fever.track import IoUTracker


def _flat(r: float, g: float, b: float) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(3, 1, 1).expand(3, 8, 8).clone()


def test_look_is_one_histogram_per_channel_with_known_bins():
    look = appearance(_flat(0.0, 0.5, 1.0))
    assert look.shape == (3, BINS) and np.allclose(look.sum(axis=1), 1.0)
    assert look[0, 0] == 1.0 and look[1, BINS // 2] == 1.0 and look[2, BINS - 1] == 1.0  # 1.0 falls in the top bin


def test_similarity_is_one_for_the_same_colours_and_zero_for_disjoint_ones():
    a, b = appearance(_flat(0.2, 0.2, 0.2)), appearance(_flat(0.9, 0.9, 0.9))
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity(a, b) == 0.0
    half = appearance(torch.cat([_flat(0.2, 0.2, 0.2), _flat(0.9, 0.9, 0.9)], dim=2))
    assert similarity(a, half) == pytest.approx(np.sqrt(0.5))  # Bhattacharyya of (1, 0) and (1/2, 1/2)


def test_tracker_does_not_join_a_face_that_looks_unalike():
    dark, light = appearance(_flat(0.2, 0.2, 0.2)), appearance(_flat(0.9, 0.9, 0.9))
    box = np.array([[0, 0, 10, 10]], np.float32)
    t = IoUTracker(min_iou=0.3, min_similarity=MIN_SIMILARITY)
    assert t.update(box, [dark]) == [0]
    assert t.update(box, [dark]) == [0]
    assert t.update(box, [light]) == [1]  # same place, someone else: a new track
    assert IoUTracker(min_similarity=0.0).update(box, [dark]) == [0]
    lenient = IoUTracker(min_similarity=0.0)
    lenient.update(box, [dark])
    assert lenient.update(box, [light]) == [0]  # IoU alone joins them
    with pytest.raises(ValueError, match="1 boxes but 2 looks"):
        t.update(box, [dark, light])


def test_performer_and_audience_member_at_the_hamilton_cut_look_unalike(videos):
    """Frames 209-210 show the performer, 211 an audience member whose box overlaps his (IoU 0.33):
    the looks keep them apart even without the shot detector, and join the same face frame to frame."""
    from fever.align import crop_face
    from fever.detect import FaceDetector
    from fever.io.video import iter_video_frames
    from fever.models import get_config
    from fever.track import iou

    pre = get_config("fever-student-vgg-s48").preprocess
    frames = [f.array for f in iter_video_frames(videos / "short_hamilton_clip.mp4") if 209 <= f.index <= 211]
    dets = FaceDetector().detect(frames)
    looks = [[(d.box, appearance(crop_face(a, d.box, d.landmarks, pre))) for d in ds] for a, ds in zip(frames, dets)]
    (box209, look209), (box210, look210) = looks[0][0], looks[1][0]
    assert len(looks[0]) == len(looks[1]) == 1
    assert iou(box209[None], box210[None])[0, 0] > 0.9 and similarity(look209, look210) > 0.95
    overlapping = [(b, lk) for b, lk in looks[2] if iou(b[None], box210[None])[0, 0] >= 0.3]
    assert len(overlapping) == 1 and similarity(overlapping[0][1], look210) < MIN_SIMILARITY
