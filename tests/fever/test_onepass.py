"""The one-pass detector's coding (issue 24): boxes and landmarks round-trip, NMS keeps one box per face."""

import numpy as np
import torch

from fever.onepass import FaceTarget, OnePassConfig, OnePassNet, decode, encode
from fever.onepass.network import OUTPUT_STRIDE


def _perfect_maps(targets, grid):
    """The maps a perfect network would output for these targets."""
    h, w = grid
    maps = {k: torch.zeros(1, c, h, w) for k, c in (("offset", 2), ("size", 2), ("landmarks", 10))}
    maps["expression"] = torch.full((1, 8, h, w), -20.0)
    for k, cell in enumerate(targets.index.tolist()):
        y, x = divmod(cell, w)
        maps["offset"][0, :, y, x] = targets.offset[k]
        maps["size"][0, :, y, x] = targets.size[k]
        maps["landmarks"][0, :, y, x] = targets.landmarks[k]
        maps["expression"][0, :, y, x] = torch.log(targets.expression[k].clamp(min=1e-6))
    return maps


def test_boxes_landmarks_and_expressions_round_trip():
    faces = [
        FaceTarget(
            np.array([40.0, 30.0, 100.0, 110.0]),
            np.array([[55, 60], [85, 60], [70, 75], [58, 92], [82, 92]], np.float32),
            np.eye(8, dtype=np.float32)[2],
        ),
        FaceTarget(np.array([150.3, 20.7, 171.9, 47.1]), None, np.array([0, 6, 4, 0, 0, 0, 0, 0], np.float32)),
    ]
    grid = (40, 60)
    targets = encode(faces, grid, OUTPUT_STRIDE)
    assert targets.heatmap.shape == (1, 40, 60) and float(targets.heatmap.max()) == 1.0
    assert int((targets.heatmap == 1).sum()) == 2 and targets.has_landmarks.tolist() == [True, False]
    assert torch.allclose(targets.expression[1], torch.tensor([0, 0.6, 0.4, 0, 0, 0, 0, 0]))
    found = decode(targets.heatmap[None], **_perfect_maps(targets, grid), stride=OUTPUT_STRIDE, min_score=0.9)[0]
    assert len(found) == 2
    by_x = sorted(found, key=lambda f: f.box[0])
    for face, got in zip(faces, by_x):
        np.testing.assert_allclose(got.box, face.box, atol=1e-3)
        assert got.score == 1.0 and int(got.expression_logits.argmax()) == int(face.expression.argmax())
    np.testing.assert_allclose(by_x[0].landmarks, faces[0].landmarks, atol=1e-3)


def test_two_peaks_on_one_face_give_one_box():
    face = FaceTarget(np.array([40.0, 40.0, 120.0, 120.0]), None, np.zeros(8, np.float32))
    grid = (40, 40)
    targets = encode([face], grid, OUTPUT_STRIDE)
    maps = _perfect_maps(targets, grid)
    heat = torch.zeros(1, 1, *grid)
    y, x = divmod(int(targets.index[0]), grid[1])
    heat[0, 0, y, x], heat[0, 0, y, x + 2] = 0.95, 0.9  # a second local maximum 2 cells away
    maps["offset"][0, :, y, x + 2] = targets.offset[0] - torch.tensor([2.0, 0.0])
    maps["size"][0, :, y, x + 2] = targets.size[0]
    found = decode(heat, **maps, stride=OUTPUT_STRIDE, min_score=0.5)[0]
    assert len(found) == 1 and found[0].score == np.float32(0.95)
    found = decode(heat, **maps, stride=OUTPUT_STRIDE, min_score=0.5, iou=1.0)[0]
    assert len(found) == 2  # without NMS both peaks would stay


def test_network_shapes_and_config_round_trip():
    config = OnePassConfig(widths=(8, 16, 24, 32), head_width=16)
    net = OnePassNet(config)
    out = net(torch.rand(2, 3, 96, 160))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "heatmap": (2, 1, 24, 40),
        "offset": (2, 2, 24, 40),
        "size": (2, 2, 24, 40),
        "landmarks": (2, 10, 24, 40),
        "expression": (2, 8, 24, 40),
    }
    assert OnePassConfig.from_dict(config.to_dict()) == config


def test_the_bundled_detector_finds_the_faces_mtcnn_finds_on_real_frames(videos):
    """The shipped weights, not only the coding: on frames of two real videos (training videos:
    the held-out ones are for evaluate-detector) every MTCNN face has a one-pass box at IoU >= 0.5,
    and nothing is found on a face-free frame."""
    from torchvision.ops import box_iou

    from fever.detect import FaceDetector
    from fever.io.video import iter_video_frames
    from fever.onepass.detector import load_detector, resolve_detector

    onepass = load_detector(resolve_detector("onepass"))
    mtcnn = FaceDetector()
    frames = [f.array for f in iter_video_frames(videos / "single_face.mp4", max_frames=3)]
    frames += [f.array for f in iter_video_frames(videos / "WolfgangLanger_Pexels.mp4", max_frames=2)]
    reference = mtcnn.detect(frames)
    assert [len(faces) for faces in reference] == [1] * 5
    for ref, found in zip(reference, onepass.detect(frames)):
        assert found, "a frame with a face gave no one-pass face"
        iou = box_iou(
            torch.as_tensor(np.stack([d.box for d in ref])), torch.as_tensor(np.stack([f.box for f in found]))
        )
        assert (iou.max(dim=1).values >= 0.5).all()
        assert all(f.expression_logits.shape == (8,) for f in found)
    empty = next(iter_video_frames(videos / "no_face.mp4", max_frames=1)).array
    assert onepass.detect([empty]) == [[]]
