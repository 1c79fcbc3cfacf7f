"""Face detection with facenet-pytorch's MTCNN (its weights ship inside the wheel: works offline).

Every image is detected on its own, never in a batch with others: facenet-pytorch's batched call
gives a face other boxes depending on what else is in the batch (its convolutions and NMS see the
whole batch; 20 px apart on UTKFace photos), and fever promises the same vector in any batch. On
the CPU a batch of frames is no faster than the frames one by one (MTCNN spends its time in the
per-image pyramid), so nothing is lost. Every face found is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass
class Detection:
    box: np.ndarray  # (4,) x1, y1, x2, y2 in pixels
    score: float
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner
    expression: np.ndarray | None = None  # (8,) logits, from detectors that also read the expression


def box_area(box: np.ndarray | Sequence[float]) -> float:
    """Area in square pixels of an (x1, y1, x2, y2) box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def clip_box(box: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """An (x1, y1, x2, y2) box cut to the image of ``shape`` (H, W, ...): MTCNN's boxes can reach past
    the border for faces at the edge. Crops still use the detector's own box (same vectors)."""
    h, w = shape[:2]
    return np.clip(np.asarray(box, np.float32), 0, [w, h, w, h]).astype(np.float32)


def main_face(detections: Sequence[Detection]) -> Detection | None:
    """The face an image is about: the biggest one (the subject of a portrait or a face crop; a
    face in the background can have a higher detection score). None when there is no face."""
    return max(detections, key=lambda d: box_area(d.box), default=None)


class FaceDetector:
    """All faces of many images; ``min_score`` drops weak detections after MTCNN's own thresholds."""

    def __init__(
        self,
        min_face_size: int = 20,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        min_score: float = 0.9,
        device: str | torch.device = "cpu",
    ) -> None:
        from facenet_pytorch import MTCNN

        self.min_score = min_score
        self.min_face_size = min_face_size
        self.mtcnn = MTCNN(
            keep_all=True,
            min_face_size=min_face_size,
            thresholds=list(thresholds),
            post_process=False,
            select_largest=False,
            device=device,
        )

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """RGB uint8 images (any sizes) -> list of detections per image, in input order."""
        results: list[list[Detection]] = [[] for _ in images]
        for i, img in enumerate(images):
            # MTCNN's pyramid starts at 12 / min_face_size of the image: a short side below
            # min_face_size gives no level at all (facenet-pytorch then fails the whole call), and
            # cannot hold a face of the smallest size looked for anyway
            if min(img.shape[:2]) < self.min_face_size:
                continue
            with torch.inference_mode():
                boxes, probs, points = self.mtcnn.detect(img[None], landmarks=True)
            if boxes[0] is None:
                continue
            for box, prob, lm in zip(boxes[0], probs[0], points[0]):
                if prob is None or float(prob) < self.min_score:
                    continue
                results[i].append(Detection(np.asarray(box, np.float32), float(prob), np.asarray(lm, np.float32)))
        return results

    def refine(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> list[Detection | None]:
        """Follow known faces into the next video frame with MTCNN's last stage only.

        Each previous box is squared, cut from ``image`` and scored, re-boxed and re-landmarked by
        the O-Net, exactly as MTCNN's third stage treats R-Net's candidates. A face that is no
        longer there scores below ``min_score`` and comes back as ``None``. It costs one 48x48
        network pass per face instead of a whole image pyramid, which is what makes
        ``detect_every`` > 1 fast; new faces are found only on the frames that run ``detect``.
        """
        from facenet_pytorch.models.utils.detect_face import bbreg, imresample, pad, rerec

        if len(boxes) == 0:
            return []
        h, w = image.shape[:2]
        square = rerec(torch.as_tensor(np.stack(boxes), dtype=torch.float32).clone())
        y, ey, x, ex = pad(square.clone(), w, h)
        keep, patches = [], []
        for k in range(len(square)):
            if ey[k] > y[k] - 1 and ex[k] > x[k] - 1:
                keep.append(k)
                # only the face region becomes a float tensor, not the whole frame
                region = torch.from_numpy(np.ascontiguousarray(image[y[k] - 1 : ey[k], x[k] - 1 : ex[k]]))
                patches.append(imresample(region.permute(2, 0, 1).unsqueeze(0).float(), (48, 48)))
        out: list[Detection | None] = [None] * len(boxes)
        if not keep:
            return out
        with torch.inference_mode():
            reg, points, prob = self.mtcnn.onet((torch.cat(patches) - 127.5) * 0.0078125)
        square = square[keep]
        bw = square[:, 2] - square[:, 0] + 1
        bh = square[:, 3] - square[:, 1] + 1
        lm = torch.stack(
            [bw[:, None] * points[:, :5] + square[:, :1] - 1, bh[:, None] * points[:, 5:] + square[:, 1:2] - 1], dim=2
        )
        scored = torch.cat([square[:, :4], prob[:, 1:2]], dim=1)
        new_boxes = bbreg(scored, reg)[:, :4]
        for slot, k in enumerate(keep):
            score = float(prob[slot, 1])
            if score >= self.min_score:
                out[k] = Detection(
                    new_boxes[slot].numpy().astype(np.float32), score, lm[slot].numpy().astype(np.float32)
                )
        return out


class FaceFollower:
    """The faces of consecutive video frames: full detection on every ``detect_every``-th frame
    (each frame detected alone), O-Net refinement of the previous frame's faces on the others."""

    def __init__(self, detector: FaceDetector, detect_every: int) -> None:
        if int(detect_every) < 1:
            raise ValueError(f"detect_every must be 1 or more, not {detect_every}")
        self.detector = detector
        self.detect_every = int(detect_every)
        self.count = 0  # frames processed so far
        self.since_key = 0  # frames since the last key frame
        self.previous: list[Detection] = []

    def faces(self, frames: list[np.ndarray], cuts: Sequence[bool] | None = None) -> list[list[Detection]]:
        """The faces of the next frames. A frame that starts a new shot (``cuts``) is a key frame
        too, and the periodic key frames count again from it: the previous shot's boxes are never
        followed into the new one."""
        cuts = list(cuts) if cuts is not None else [False] * len(frames)
        keyframes = []
        for i in range(len(frames)):
            if cuts[i] or self.since_key + 1 >= self.detect_every or self.count + i == 0:
                keyframes.append(i)
                self.since_key = 0
            else:
                self.since_key += 1
        detected = dict(zip(keyframes, self.detector.detect([frames[i] for i in keyframes]))) if keyframes else {}
        out = []
        for i, frame in enumerate(frames):
            if i in detected:
                dets = detected[i]
            else:
                dets = [d for d in self.detector.refine(frame, [p.box for p in self.previous]) if d is not None]
            out.append(dets)
            self.previous = dets
        self.count += len(frames)
        return out
