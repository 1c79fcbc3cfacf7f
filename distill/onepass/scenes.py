"""Composite scenes for the one-pass detector: real faces pasted onto face-free backgrounds.

Paper 004 needed frames with both boxes and expression labels and had to make the boxes itself
(RetinaFace on Aff-Wild2). A composite has exact boxes by construction and FER+'s own votes as
its labels: 1-4 faces (FER+ 48 px crops, or UTKFace photos) at random scales, positions and
lighting on a background (frames of ``no_face.mp4`` or any face-free picture). Each face is
blended in with a feathered mask, so the edge of a pasted square is no cue. Test scenes take
FER+ test faces only; training scenes FER+ train faces only.

The box of a pasted FER+ face is where MTCNN, the box teacher of real frames, puts it on FER+
crops: ``fever-distill framing --count 200`` gave a box 0.853 of the crop wide and 1.124 high,
centred at (0.487, 0.521) of the crop (165 of 200 faces found), so composite and pseudo-labelled
boxes agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fever.onepass.coding import FaceTarget

# MTCNN's box on a FER+ crop, in crop units: centre x, centre y, width, height (see the docstring)
FER_BOX = (0.487, 0.521, 0.853, 1.124)


@dataclass
class SceneFace:
    """A face to paste: its pixels, where its box lies in them, landmarks if known, its labels."""

    pixels: np.ndarray  # (h, w) gray or (h, w, 3) RGB uint8
    box: tuple[float, float, float, float]  # centre x, centre y, width, height in units of the crop
    expression: np.ndarray  # (8,) distribution (FER+ votes) or zeros when unknown
    landmarks: np.ndarray | None = None  # (5, 2) in units of the crop


def fer_face(image: np.ndarray, votes: np.ndarray) -> SceneFace:
    """A FER+ face (48x48 gray) with its 8 expression vote counts."""
    v = np.asarray(votes[:8], np.float32)
    return SceneFace(image, FER_BOX, v / v.sum() if v.sum() > 0 else v)


def _feather(size: int, border: float = 0.12) -> np.ndarray:
    """A square alpha mask: 1 inside, falling smoothly to 0 over the outer ``border`` of each side."""
    r = np.linspace(0, 1, size)
    ramp = np.clip(np.minimum(r, 1 - r) / border, 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep
    return np.outer(ramp, ramp)[:, :, None]


def compose_scene(
    background: np.ndarray,
    faces: list[SceneFace],
    rng: np.random.Generator,
    face_sizes: tuple[float, float] = (20.0, 160.0),
    tries: int = 30,
) -> tuple[np.ndarray, list[FaceTarget]]:
    """Paste ``faces`` onto a copy of ``background`` where they do not overlap.

    Args:
        background: (H, W, 3) uint8 face-free picture.
        faces: the faces to paste (those that find no free place are left out).
        rng: the scene's generator (scenes are a pure function of it).
        face_sizes: range of the face box's larger side, in pixels (log-uniform).
        tries: places tried per face.

    Returns:
        The scene and the targets of the faces placed in it (boxes and landmarks in pixels).
    """
    scene = background.astype(np.float32).copy()
    h, w = scene.shape[:2]
    taken: list[tuple[float, float, float, float]] = []
    targets: list[FaceTarget] = []
    for face in faces:
        cx_f, cy_f, bw_f, bh_f = face.box
        side = float(np.exp(rng.uniform(np.log(face_sizes[0]), np.log(face_sizes[1]))))
        crop = side / max(bw_f, bh_f)  # pixels of the pasted crop's side
        size = max(8, int(round(crop)))
        for _ in range(tries):
            x0 = float(round(rng.uniform(-0.1 * size, w - 0.9 * size)))
            y0 = float(round(rng.uniform(-0.1 * size, h - 0.9 * size)))
            box = (x0 + (cx_f - bw_f / 2) * size, y0 + (cy_f - bh_f / 2) * size)
            box = (*box, box[0] + bw_f * size, box[1] + bh_f * size)
            if box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h:
                continue
            if any(not (box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3]) for t in taken):
                continue
            break
        else:
            continue
        pixels = face.pixels if face.pixels.ndim == 3 else np.repeat(face.pixels[:, :, None], 3, 2)
        patch = np.asarray(Image.fromarray(pixels).resize((size, size), Image.BILINEAR), np.float32)
        gain = rng.uniform(0.6, 1.3)
        tint = rng.uniform(0.9, 1.1, size=3) if face.pixels.ndim == 2 else np.ones(3)
        patch = np.clip(patch * gain * tint, 0, 255)
        xi, yi = int(x0), int(y0)
        sx0, sy0 = max(0, -xi), max(0, -yi)
        dx0, dy0 = max(0, xi), max(0, yi)
        dx1, dy1 = min(w, xi + size), min(h, yi + size)
        alpha = _feather(size)[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
        region = scene[dy0:dy1, dx0:dx1]
        scene[dy0:dy1, dx0:dx1] = region * (1 - alpha) + patch[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0] * alpha
        taken.append(box)
        landmarks = None if face.landmarks is None else np.asarray(face.landmarks, np.float32) * size + [xi, yi]
        targets.append(FaceTarget(np.asarray(box, np.float32), landmarks, np.asarray(face.expression, np.float32)))
    return scene.round().astype(np.uint8), targets
