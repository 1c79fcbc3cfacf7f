"""Evaluation of the one-pass detector as paper 004 reports it, and against the two-stage pipeline.

- **Composite test scenes** (FER+ test faces only, on ``no_face.mp4`` frames, exact boxes, labels =
  the majority of the votes): per-class AP at IoU 0.5, mAP@0.5 and COCO-style mAP@0.5:0.95
  (torchmetrics' MeanAveragePrecision on faster-coco-eval). Each found face is submitted once per
  class with score ``face score x class probability``, as YOLO's class-specific detections are.
  The false faces per scene of both the one-pass detector and MTCNN (fever's default threshold) are
  counted there, where every true box is known. The same AP of the **two-stage** reading (the
  one-pass boxes, then fever's crop + embed path and the model's shipped probe, which is what
  ``fever.analyze(..., detector="onepass")`` returns) says how much of the gap to paper 004 is the
  detector's expression branch rather than its boxes.
- **Held-out real frames** (whole videos never trained on, pseudo-labelled by MTCNN and the
  two-stage expression teacher, :mod:`distill.onepass.labels`): the share of MTCNN's faces the
  one-pass detector finds at IoU >= 0.5, and how often its expression agrees with the two-stage
  pipeline's on the same faces.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from fever.models.config import EXPRESSION_CLASSES
from fever.onepass.detector import OnePassDetector

PAPER_004_MAP50 = 0.3393  # Table II, combined
# face sizes (the longer side of the true box, px of the frame) that expression accuracy is broken down by
SIZE_BINS = ((0.0, 40.0), (40.0, 80.0), (80.0, 1e9))


SCENE_SEEDS = {"valid": 4321, "test": 1234}


@dataclass
class ScoredFace:
    """A face found in a scene: its box, face score and probabilities over EXPRESSION_CLASSES."""

    box: np.ndarray
    score: float
    probabilities: np.ndarray


FaceFinder = Callable[[np.ndarray], list[ScoredFace]]


def onepass_faces(detector: OnePassDetector) -> FaceFinder:
    """The one-pass detector alone: its boxes and the softmax of its own expression logits."""

    def find(scene: np.ndarray) -> list[ScoredFace]:
        return [
            ScoredFace(f.box, f.score, torch.softmax(torch.as_tensor(f.expression_logits), 0).numpy())
            for f in detector.detect([scene])[0]
        ]

    return find


def two_stage_faces(detector: str | Path, model: str | Path | None = None) -> FaceFinder:
    """The one-pass boxes read by the two-stage path: each face cropped and embedded by ``model``
    (default: the bundled default) and classified by the probe shipped with it.

    Args:
        detector: ``"onepass"`` or a one-pass detector folder (as ``Extractor(detector=...)`` takes).
        model: preset, folder or Hub id of the embedder; it must ship an expression probe.
    """
    import fever

    extractor = fever.Extractor(model, device="cpu", detector=str(detector))

    def find(scene: np.ndarray) -> list[ScoredFace]:
        analysis = fever.analyze([scene], model=extractor, faces="detect", show_progress_bar=False)
        order = [analysis.classes.index(c) if c in analysis.classes else -1 for c in EXPRESSION_CLASSES]
        faces = []
        for row, p in zip(analysis.extraction.rows, analysis.probabilities):
            if row.status == "ok":
                faces.append(ScoredFace(row.box, row.score, np.where(np.array(order) >= 0, p[order], 0.0)))
        return faces

    return find


def eval_scenes(
    data_root: str | Path, split: str = "test", count: int = 300, seed: int | None = None
) -> list[tuple[np.ndarray, list]]:
    """Held-out composite scenes of FER+ ``valid`` (to choose settings) or ``test`` faces (to report
    once), never train faces; a fixed seed per split, 1-4 faces each on ``no_face.mp4`` frames."""
    from ..ferplus import load_split
    from .scenes import compose_scene, fer_face
    from .train import _backgrounds

    if split not in SCENE_SEEDS:
        raise ValueError(f"split must be one of {sorted(SCENE_SEEDS)}, not {split!r}")
    root = Path(data_root)
    faces_of = load_split(root / "ferplus", split)
    keep = np.flatnonzero(faces_of.votes[:, :8].sum(1) > 0)
    backgrounds = _backgrounds(root, (360, 640))
    rng = np.random.default_rng(SCENE_SEEDS[split] if seed is None else seed)
    scenes = []
    for _ in range(count):
        picks = rng.choice(keep, int(rng.integers(1, 5)))
        faces = [fer_face(faces_of.images[i], faces_of.votes[i]) for i in picks]
        scenes.append(compose_scene(backgrounds[int(rng.integers(len(backgrounds)))], faces, rng, (20.0, 200.0)))
    return scenes


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from torchvision.ops import box_iou

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return box_iou(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)).numpy()


def _boxes(items: list) -> np.ndarray:
    """The (n, 4) float32 boxes of detections or targets (anything with ``.box``)."""
    return np.array([item.box for item in items], np.float32).reshape(-1, 4)


def _false_faces(found: np.ndarray, truth: np.ndarray) -> int:
    """Found boxes that overlap no true face at IoU >= 0.5."""
    return int((_iou(found, truth).max(axis=1, initial=0) < 0.5).sum()) if len(found) else 0


def _found_faces(found: np.ndarray, truth: np.ndarray) -> int:
    """True faces that some found box overlaps at IoU >= 0.5."""
    return int((_iou(truth, found).max(axis=1, initial=0) >= 0.5).sum()) if len(truth) else 0


def _matches(truth: np.ndarray, found: list) -> list[tuple[int, int]]:
    """(true face, found face) pairs: each true face with its best-overlapping found box, kept
    when that overlap is IoU >= 0.5 (the true faces counted as found)."""
    return _best_matches(_iou(truth, _boxes(found)))


def _best_matches(iou: np.ndarray) -> list[tuple[int, int]]:
    """:func:`_matches` from a (true faces, found boxes) IoU matrix already computed."""
    if not iou.size:
        return []
    return [(i, int(j)) for i, j in enumerate(iou.argmax(axis=1)) if iou[i, j] >= 0.5]


def _top_class_agrees(face: Any, distribution: Any) -> bool:
    """Whether a found face's top expression logit is a distribution's top class."""
    return int(np.argmax(face.expression_logits)) == int(np.argmax(distribution))


def threshold_sweep(
    detector: OnePassDetector, scenes: list[tuple[np.ndarray, list]], thresholds: list[float]
) -> list[dict[str, float]]:
    """Recall and false faces per scene at each face-score threshold, from one pass per scene
    (NMS is greedy by score, so the faces above a threshold are those of the lowest one above it)."""
    lowest = OnePassDetector(detector.net, min_score=min(thresholds), precision=detector.precision)
    totals = {t: [0, 0] for t in thresholds}
    faces = 0
    for scene, truth_faces in scenes:
        found = lowest.detect([scene])[0]
        truth = _boxes(truth_faces)
        faces += len(truth)
        for t in thresholds:
            boxes = _boxes([f for f in found if f.score >= t])
            totals[t][0] += _found_faces(boxes, truth)
            totals[t][1] += _false_faces(boxes, truth)
    return [
        {"threshold": t, "recall": found / max(1, faces), "false_faces_per_scene": false / max(1, len(scenes))}
        for t, (found, false) in totals.items()
    ]


def mtcnn_on_scenes(scenes: list[tuple[np.ndarray, list]], threshold: float = 0.9) -> dict[str, float]:
    """MTCNN's recall and false faces per composite scene at fever's default threshold (the bar)."""
    from fever.detect import FaceDetector

    detector = FaceDetector(min_score=threshold)
    found = false = faces = 0
    for scene, truth_faces in scenes:
        boxes = _boxes(detector.detect([scene])[0])
        truth = _boxes(truth_faces)
        faces += len(truth)
        found += _found_faces(boxes, truth)
        false += _false_faces(boxes, truth)
    return {"recall": found / max(1, faces), "false_faces_per_scene": false / max(1, len(scenes))}


def choose_threshold(sweep: list[dict[str, float]], max_false_faces_per_scene: float) -> dict[str, float]:
    """The rule that sets a detector's ``min_score``: the lowest threshold (so the most faces found)
    whose false faces per scene are no more than MTCNN's on the same scenes; if none is, the
    strictest threshold tried."""
    allowed = [row for row in sweep if row["false_faces_per_scene"] <= max_false_faces_per_scene]
    if allowed:
        return min(allowed, key=lambda row: row["threshold"])
    return max(sweep, key=lambda row: row["threshold"])


def composite_map(find: FaceFinder, scenes: list[tuple[np.ndarray, list]]) -> dict[str, Any]:
    """Per-class AP, mAP, recall, false faces and top-class accuracy of ``find`` (see
    :func:`onepass_faces`, :func:`two_stage_faces`) on composite scenes with known boxes and votes."""
    from torchmetrics.detection import MeanAveragePrecision

    coco = MeanAveragePrecision(iou_type="bbox", backend="faster_coco_eval")
    at50 = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], class_metrics=True, backend="faster_coco_eval")
    false_faces = found_faces = named = 0
    by_size = np.zeros((len(SIZE_BINS), 2))  # found, named
    for scene, faces in scenes:
        found = find(scene)
        boxes, scores, labels = [], [], []
        for f in found:
            for c in range(len(EXPRESSION_CLASSES)):
                boxes.append(f.box)
                scores.append(f.score * f.probabilities[c])
                labels.append(c)
        truth = _boxes(faces)
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
        matches = _matches(truth, found)
        false_faces += _false_faces(_boxes(found), truth)
        found_faces += len(matches)
        for i, j in matches:
            right = int(np.argmax(found[j].probabilities)) == int(np.argmax(faces[i].expression))
            named += right
            side = float(max(truth[i, 2] - truth[i, 0], truth[i, 3] - truth[i, 1]))
            b = _size_bin(side, SIZE_BINS)
            by_size[b] += (1, right)
    full, fifty = coco.compute(), at50.compute()
    classes, aps = fifty["classes"].reshape(-1), fifty["map_per_class"].reshape(-1)
    per_class = {EXPRESSION_CLASSES[int(c)]: float(v) for c, v in zip(classes, aps)}
    return {
        "scenes": len(scenes),
        "faces": sum(len(f) for _, f in scenes),
        "map_50": float(fifty["map"]),
        "map_50_95": float(full["map"]),
        "ap_50_per_class": per_class,
        "recall": found_faces / max(1, sum(len(f) for _, f in scenes)),
        "expression_accuracy": named / max(1, found_faces),
        "expression_accuracy_by_size": {
            _size_name(lo, hi): {"faces": int(n), "accuracy": float(k / max(1, n))}
            for (lo, hi), (n, k) in zip(SIZE_BINS, by_size)
        },
        "false_faces_per_scene": false_faces / max(1, len(scenes)),
        "paper_004_map_50": PAPER_004_MAP50,
    }


def _size_bin(side: float, bins: tuple[tuple[float, float], ...]) -> int:
    """The index of the (lo, hi) bin holding a face's longer side."""
    return next(k for k, (lo, hi) in enumerate(bins) if lo <= side < hi)


def _size_name(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} px" if hi < 1e9 else f">= {lo:g} px"


# a MTCNN face whose best one-pass box overlaps it at least this much, but below 0.5, was found
# with a misplaced box rather than missed
MISPLACED_IOU = 0.2


def real_frame_agreement(detector: OnePassDetector, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """On held-out pseudo-labelled pictures: MTCNN's faces found, expressions agreeing, the
    one-pass faces MTCNN did not find (an upper bound on false faces: MTCNN misses some faces), and
    the share of MTCNN's faces that a one-pass box overlaps at IoU 0.2-0.5 only (found, but the box
    misplaced or mis-sized)."""
    total = found = agree = extra = misplaced = 0
    for row in labels:
        picture = np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB"))
        faces = detector.detect([picture])[0]
        truth = np.array(row["boxes"], np.float32).reshape(-1, 4)
        boxes = _boxes(faces)
        iou = _iou(truth, boxes)  # one matrix: faces found (rows), boxes MTCNN did not find (columns)
        total += len(truth)
        extra += int((iou.max(axis=0, initial=0) < 0.5).sum())
        best = iou.max(axis=1, initial=0)
        misplaced += int(((best >= MISPLACED_IOU) & (best < 0.5)).sum())
        matches = _best_matches(iou)
        found += len(matches)
        agree += sum(_top_class_agrees(faces[j], row["probabilities"][i]) for i, j in matches)
    return {
        "frames": len(labels),
        "mtcnn_faces": total,
        "found_share": found / max(1, total),
        "expression_agreement": agree / max(1, found),
        "faces_mtcnn_did_not_find_per_frame": extra / max(1, len(labels)),
        "misplaced_share": misplaced / max(1, total),
    }


# the longer side of a face's box, px of the frame, that small-face recall is broken down by
SMALL_SIZE_BINS = ((0.0, 24.0), (24.0, 40.0), (40.0, 80.0), (80.0, 1e9))
SMALL_SIDES = (16.0, 80.0)  # the shrunk pictures' largest face, longer side in px, drawn uniformly


def shrunk_pictures(
    labels: list[dict[str, Any]], data_root: str | Path, sides: tuple[float, float] = SMALL_SIDES, seed: int = 99
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pseudo-labelled pictures shrunk onto face-free 640x360 frames so that their largest MTCNN
    face is ``sides`` px, boxes moved along: the valid videos are close-ups, while people in
    held-out video can be 25-45 px wide, so this is how small real faces are measured without
    looking at test."""
    from .train import _backgrounds, place

    rng = np.random.default_rng(seed)
    backgrounds = _backgrounds(Path(data_root), (360, 640))
    out = []
    for row in labels:
        boxes = np.asarray(row["boxes"], np.float32).reshape(-1, 4)
        if not len(boxes):
            continue
        picture = np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB"))
        largest = float(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]).max())
        fit = min(640 / picture.shape[1], 360 / picture.shape[0])
        scale = min(fit, rng.uniform(*sides) / max(largest, 1.0))
        canvas = backgrounds[int(rng.integers(len(backgrounds)))].copy()
        landmarks = np.zeros((len(boxes), 5, 2), np.float32)
        canvas, moved, _, _ = place(picture, boxes, landmarks, canvas, scale, rng)
        out.append((canvas, moved))
    return out


def small_face_recall(detector: OnePassDetector, pictures: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Share of the shrunk MTCNN boxes (:func:`shrunk_pictures`) the one-pass detector finds at
    IoU >= 0.5, by face size, beside MTCNN's own share (it misses small faces too), and both
    detectors' boxes that overlap no face per picture."""
    from fever.detect import FaceDetector

    mtcnn = FaceDetector()
    counts = {name: np.zeros((len(SMALL_SIZE_BINS), 2)) for name in ("onepass", "mtcnn")}  # faces, found
    false = {"onepass": 0, "mtcnn": 0}
    near = {"onepass": 0, "mtcnn": 0}  # of the false boxes, those at IoU 0.2-0.5 with a face: misplaced
    for picture, truth in pictures:
        found = {"onepass": _boxes(detector.detect([picture])[0]), "mtcnn": _boxes(mtcnn.detect([picture])[0])}
        sides = np.maximum(truth[:, 2] - truth[:, 0], truth[:, 3] - truth[:, 1])
        bins = [_size_bin(float(side), SMALL_SIZE_BINS) for side in sides]
        for name, boxes in found.items():
            iou = _iou(truth, boxes)  # one matrix: faces found (rows), boxes on no face (columns)
            for b, h in zip(bins, iou.max(axis=1, initial=0) >= 0.5):
                counts[name][b] += (1, h)
            overlap = iou.max(axis=0, initial=0)
            false[name] += int((overlap < 0.5).sum())
            near[name] += int(((overlap >= MISPLACED_IOU) & (overlap < 0.5)).sum())
    faces = int(counts["onepass"][:, 0].sum())
    return {
        "pictures": len(pictures),
        "faces": faces,
        **{
            name: {
                "found_share": float(c[:, 1].sum() / max(1, faces)),
                "by_size": {
                    _size_name(lo, hi): {"faces": int(n), "found_share": float(k / max(1, n))}
                    for (lo, hi), (n, k) in zip(SMALL_SIZE_BINS, c)
                },
                "false_faces_per_picture": false[name] / max(1, len(pictures)),
                "misplaced_per_picture": near[name] / max(1, len(pictures)),
            }
            for name, c in counts.items()
        },
    }


def evaluate_detector(
    detector: OnePassDetector,
    scenes: list[tuple[np.ndarray, list]],
    labels: list[dict[str, Any]] | None = None,
    two_stage: FaceFinder | None = None,
) -> dict[str, Any]:
    """Everything ``fever-distill evaluate-detector`` prints: AP on the composites, both detectors'
    false faces and recall there, (with held-out labels) the comparison on real frames, and (with
    ``two_stage``, see :func:`two_stage_faces`) the AP of the two-stage reading of the same boxes."""
    result = composite_map(onepass_faces(detector), scenes)
    result["mtcnn"] = mtcnn_on_scenes(scenes)
    if labels is not None:
        result["held_out_real"] = real_frame_agreement(detector, labels)
    if two_stage is not None:
        result["two_stage"] = composite_map(two_stage, scenes)
    return result


def format_detector_results(result: dict[str, Any]) -> str:
    """The results as markdown: per-class AP table, then the face-finding lines."""
    lines = ["| class | AP@0.5 |", "|---|---|"]
    lines += [f"| {name} | {ap:.2%} |" for name, ap in result["ap_50_per_class"].items()]
    lines.append(f"| **mAP@0.5** (paper 004: {result['paper_004_map_50']:.2%}) | {result['map_50']:.2%} |")
    lines.append(f"| mAP@0.5:0.95 | {result['map_50_95']:.2%} |")
    lines.append("")
    lines.append(
        f"Composite scenes ({result['scenes']} scenes, {result['faces']} faces): faces found (IoU >= 0.5) "
        f"one-pass {result['recall']:.2%}, MTCNN {result['mtcnn']['recall']:.2%}; false faces per scene "
        f"one-pass {result['false_faces_per_scene']:.3f}, MTCNN {result['mtcnn']['false_faces_per_scene']:.3f}."
    )
    if "expression_accuracy" in result:
        share = result["expression_accuracy"]
        lines.append(f"Faces found whose top expression is their votes' top class: {share:.2%}.")
    if "expression_accuracy_by_size" in result:
        parts = [
            f"{size} {row['accuracy']:.2%} of {row['faces']}"
            for size, row in result["expression_accuracy_by_size"].items()
        ]
        lines.append("The same by face size (longer side of the true box): " + ", ".join(parts) + ".")
    if "two_stage" in result:
        two = result["two_stage"]
        per_class = ", ".join(f"{name} {ap:.2%}" for name, ap in two["ap_50_per_class"].items())
        lines.append(
            "Two-stage reading of the one-pass boxes (crop, embed, the model's probe): "
            f"mAP@0.5 {two['map_50']:.2%}, mAP@0.5:0.95 {two['map_50_95']:.2%}; AP@0.5 {per_class}; "
            f"faces found whose top expression is their votes' top class: {two['expression_accuracy']:.2%}."
        )
    if "small_faces" in result:
        small = result["small_faces"]
        parts = [
            f"{size} one-pass {row['found_share']:.2%} / MTCNN {small['mtcnn']['by_size'][size]['found_share']:.2%} "
            f"of {row['faces']}"
            for size, row in small["onepass"]["by_size"].items()
            if row["faces"]
        ]
        lines.append(
            f"Labelled pictures shrunk onto face-free frames ({small['pictures']} pictures, {small['faces']} MTCNN "
            f"faces): found at IoU >= 0.5 one-pass {small['onepass']['found_share']:.2%}, MTCNN "
            f"{small['mtcnn']['found_share']:.2%}; by face size {'; '.join(parts)}; boxes on no face per picture "
            f"one-pass {small['onepass']['false_faces_per_picture']:.3f} "
            f"({small['onepass']['misplaced_per_picture']:.3f} of them misplaced around a face, IoU 0.2-0.5), "
            f"MTCNN {small['mtcnn']['false_faces_per_picture']:.3f}."
        )
    if "held_out_real" in result:
        real = result["held_out_real"]
        lines.append(
            f"Pseudo-labelled real pictures ({real['frames']} video frames and photos): "
            f"{real['found_share']:.2%} of {real['mtcnn_faces']} MTCNN faces found, "
            f"expression agreement with the two-stage pipeline {real['expression_agreement']:.2%}, "
            f"{real['faces_mtcnn_did_not_find_per_frame']:.3f} faces per frame that MTCNN did not find."
        )
        if "misplaced_share" in real:
            lines.append(
                "MTCNN faces overlapped at IoU 0.2-0.5 only (found with a misplaced box): "
                f"{real['misplaced_share']:.2%}."
            )
    return "\n".join(lines)
