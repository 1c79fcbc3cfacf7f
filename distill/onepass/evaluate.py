"""Evaluation of the one-pass detector as paper 004 reports it, and against the two-stage pipeline.

- **Composite test scenes** (FER+ test faces only, on ``no_face.mp4`` frames, exact boxes, labels =
  the majority of the votes): per-class AP at IoU 0.5, mAP@0.5 and COCO-style mAP@0.5:0.95
  (torchmetrics' MeanAveragePrecision on faster-coco-eval). Each found face is submitted once per
  class with score ``face score x class probability``, as YOLO's class-specific detections are.
  The false faces per scene of both the one-pass detector and MTCNN (fever's default threshold) are
  counted there, where every true box is known.
- **Held-out real frames** (whole videos never trained on, pseudo-labelled by MTCNN and the
  two-stage expression teacher, :mod:`distill.onepass.labels`): the share of MTCNN's faces the
  one-pass detector finds at IoU >= 0.5, and how often its expression agrees with the two-stage
  pipeline's on the same faces.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fever.models.config import EXPRESSION_CLASSES
from fever.onepass.detector import OnePassDetector

PAPER_004_MAP50 = 0.3393  # Table II, combined


def test_scenes(data_root: str | Path, count: int = 300, seed: int = 1234) -> list[tuple[np.ndarray, list]]:
    """Held-out composite scenes: FER+ test faces (never train), a fixed seed, 1-4 faces each."""
    from ..ferplus import load_split
    from .scenes import compose_scene, fer_face
    from .train import _backgrounds

    root = Path(data_root)
    test = load_split(root / "ferplus", "test")
    keep = np.flatnonzero(test.votes[:, :8].sum(1) > 0)
    backgrounds = _backgrounds(root, (360, 640))
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(count):
        faces = [fer_face(test.images[i], test.votes[i]) for i in rng.choice(keep, int(rng.integers(1, 5)))]
        scenes.append(compose_scene(backgrounds[int(rng.integers(len(backgrounds)))], faces, rng, (20.0, 200.0)))
    return scenes


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from torchvision.ops import box_iou

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return box_iou(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)).numpy()


def composite_map(detector: OnePassDetector, scenes: list[tuple[np.ndarray, list]]) -> dict[str, Any]:
    from torchmetrics.detection import MeanAveragePrecision

    coco = MeanAveragePrecision(iou_type="bbox", backend="faster_coco_eval")
    at50 = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], class_metrics=True, backend="faster_coco_eval")
    false_faces = 0
    for scene, faces in scenes:
        found = detector.detect([scene])[0]
        boxes, scores, labels = [], [], []
        for f in found:
            p = torch.softmax(torch.as_tensor(f.expression_logits), 0).numpy()
            for c in range(len(EXPRESSION_CLASSES)):
                boxes.append(f.box)
                scores.append(f.score * p[c])
                labels.append(c)
        truth = np.array([t.box for t in faces], np.float32).reshape(-1, 4)
        pred = {
            "boxes": torch.as_tensor(np.array(boxes, np.float32).reshape(-1, 4)),
            "scores": torch.as_tensor(np.array(scores, np.float32)),
            "labels": torch.as_tensor(np.array(labels, np.int64)),
        }
        target = {
            "boxes": torch.as_tensor(truth),
            "labels": torch.as_tensor([int(t.expression.argmax()) for t in faces]),
        }
        coco.update([pred], [target])
        at50.update([pred], [target])
        found_boxes = np.array([f.box for f in found], np.float32).reshape(-1, 4)
        false_faces += int((_iou(found_boxes, truth).max(axis=1, initial=0) < 0.5).sum()) if len(found_boxes) else 0
    full, fifty = coco.compute(), at50.compute()
    classes, aps = fifty["classes"].reshape(-1), fifty["map_per_class"].reshape(-1)
    per_class = {EXPRESSION_CLASSES[int(c)]: float(v) for c, v in zip(classes, aps)}
    return {
        "scenes": len(scenes),
        "faces": sum(len(f) for _, f in scenes),
        "map_50": float(fifty["map"]),
        "map_50_95": float(full["map"]),
        "ap_50_per_class": per_class,
        "false_faces_per_scene": false_faces / max(1, len(scenes)),
        "paper_004_map_50": PAPER_004_MAP50,
    }


def mtcnn_false_faces(scenes: list[tuple[np.ndarray, list]], threshold: float = 0.9) -> float:
    """MTCNN's false faces per composite scene at fever's default threshold (the bar to meet)."""
    from fever.detect import FaceDetector

    detector = FaceDetector(min_score=threshold)
    false = 0
    for scene, faces in scenes:
        found = np.array([d.box for d in detector.detect([scene])[0]], np.float32).reshape(-1, 4)
        truth = np.array([t.box for t in faces], np.float32).reshape(-1, 4)
        false += int((_iou(found, truth).max(axis=1, initial=0) < 0.5).sum()) if len(found) else 0
    return false / max(1, len(scenes))


def real_frame_agreement(detector: OnePassDetector, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """On held-out pseudo-labelled pictures: MTCNN's faces found, expressions agreeing."""
    total = found = agree = 0
    for row in labels:
        picture = np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB"))
        faces = detector.detect([picture])[0]
        truth = np.array(row["boxes"], np.float32).reshape(-1, 4)
        total += len(truth)
        if not faces or not len(truth):
            continue
        iou = _iou(truth, np.array([f.box for f in faces], np.float32))
        for i, j in enumerate(iou.argmax(axis=1)):
            if iou[i, j] >= 0.5:
                found += 1
                agree += int(int(np.argmax(faces[j].expression_logits)) == int(np.argmax(row["probabilities"][i])))
    return {
        "mtcnn_faces": total,
        "found_share": found / max(1, total),
        "expression_agreement": agree / max(1, found),
    }
