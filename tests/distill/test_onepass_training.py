"""Training the one-pass detector (issue 24): composite scenes and a few steps that learn a face."""

import numpy as np
import torch

from distill.onepass.loss import onepass_loss
from distill.onepass.scenes import SceneFace, compose_scene, fer_face
from fever.onepass import OnePassConfig, OnePassNet, encode
from fever.onepass.detector import OnePassDetector, prepare
from fever.onepass.network import OUTPUT_STRIDE
from tests.helpers import SAMPLES


def _face() -> SceneFace:
    from PIL import Image

    pixels = np.asarray(Image.open(SAMPLES / "ferplus_happiness_fer0032227.png").convert("L"))
    return fer_face(pixels, np.array([0, 9, 1, 0, 0, 0, 0, 0, 0, 0]))


def _iou(a, b):
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_composite_scenes_have_exact_boxes_and_the_votes():
    rng = np.random.default_rng(0)
    background = np.full((180, 320, 3), 90, np.uint8)
    scene, targets = compose_scene(background, [_face(), _face()], rng, face_sizes=(40, 60))
    assert scene.shape == background.shape and len(targets) == 2
    for t in targets:
        x1, y1, x2, y2 = t.box
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 180 and 40 <= max(x2 - x1, y2 - y1) <= 60.5
        assert np.allclose(t.expression[:3], [0, 0.9, 0.1]) and t.landmarks is None
        inside = scene[int(y1) : int(y2), int(x1) : int(x2)].astype(int)
        assert np.abs(inside - 90).mean() > 10  # a face is there, not the background
    a, b = targets[0].box, targets[1].box
    assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]  # never on top of each other
    again, _ = compose_scene(background, [_face(), _face()], np.random.default_rng(0), face_sizes=(40, 60))
    assert np.array_equal(again, scene)


def test_a_tiny_detector_trained_for_a_few_steps_finds_the_pasted_face():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    config = OnePassConfig(widths=(16, 24, 32, 48), head_width=16, input_scale=1.0, min_score=0.3)
    net = OnePassNet(config)
    scenes = []
    for _ in range(6):
        background = (rng.random((128, 128, 3)) * 60 + 80).astype(np.uint8)
        scenes.append(compose_scene(background, [_face()], rng, face_sizes=(48, 64)))
    x = prepare([s for s, _ in scenes], config)
    grid = (x.shape[-2] // OUTPUT_STRIDE, x.shape[-1] // OUTPUT_STRIDE)
    targets = [encode(t, grid, OUTPUT_STRIDE) for _, t in scenes]
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        loss, parts = onepass_loss(net(x), targets)
        first = first if first is not None else parts
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert parts["heatmap"] < first["heatmap"] / 4
    found = OnePassDetector(net).detect([scenes[0][0]])[0]
    assert found, "no face found"
    assert _iou(found[0].box, scenes[0][1][0].box) >= 0.5
    assert int(found[0].expression_logits.argmax()) == 1  # happiness, as the votes say
