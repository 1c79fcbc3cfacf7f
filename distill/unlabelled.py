"""The unlabelled faces of self-distillation (PowderFaces' part): UTKFace train-split photos and
frames of the shared videos, detected and cropped exactly as ``extract()`` crops faces, stored as
one uint8 array so that training reads them in one go."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fever.align import crop_face
from fever.detect import FaceDetector, main_face
from fever.io.video import iter_video_frames
from fever.preprocess import PreprocessConfig

from .loaders import to_uint8_gray
from .utkface import load_utkface


def _crops(
    detector: FaceDetector, images: list[np.ndarray], pre: PreprocessConfig, best_only: bool
) -> list[np.ndarray]:
    out = []
    for img, dets in zip(images, detector.detect(images)):
        if best_only and dets:
            dets = [main_face(dets)]
        for d in dets:
            crop = crop_face(img, d.box, d.landmarks, pre)
            # luma, as extract() makes a colour face gray (this used a plain channel mean before)
            out.append(to_uint8_gray(crop) if pre.grayscale else (crop * 255).round().byte().permute(1, 2, 0).numpy())
    return out


def video_faces(
    folder: Path, detector: FaceDetector, pre: PreprocessConfig, fps: float | None, batch: int = 32
) -> list[np.ndarray]:
    """Every face MTCNN finds in the videos of ``folder`` (``fps`` frames a second, ``None``: all)."""
    faces: list[np.ndarray] = []
    for video in sorted(folder.glob("*")):
        frames = [f.array for f in iter_video_frames(video, fps=fps)]
        for start in range(0, len(frames), batch):
            faces += _crops(detector, frames[start : start + batch], pre, best_only=False)
    return faces


def prepare_unlabelled(
    data_root: str | Path, out: str | Path, pre: PreprocessConfig, video_fps: float | None = 2.0, batch: int = 32
) -> dict[str, int]:
    """Crop every UTKFace train photo's main face and every face of the shared videos' frames.

    Args:
        data_root: the shared datasets.
        out: the ``.npy`` file to write (N, S, S) or (N, S, S, 3) uint8.
        pre: the preprocessing (margin, alignment, size) of the model to be trained.
        video_fps: video frames per second to crop; ``None`` takes every frame (issue 25: "every
            MTCNN face of every shared video frame").
        batch: pictures per MTCNN call.

    Returns:
        How many faces each source gave.
    """
    root = Path(data_root)
    detector = FaceDetector(min_face_size=20, min_score=0.95)
    utk = load_utkface(root)
    train = [i for i in range(len(utk.names)) if utk.split[i] == "train"]
    faces: list[np.ndarray] = []
    for start in range(0, len(train), batch):
        faces += _crops(detector, [utk.image(i) for i in train[start : start + batch]], pre, best_only=True)
    n_utk = len(faces)
    faces += video_faces(root / "videos", detector, pre, video_fps, batch)
    array = np.stack(faces)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.save(out, array)
    return {"utkface_faces": n_utk, "video_faces": len(faces) - n_utk, "total": len(faces)}
