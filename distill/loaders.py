"""Training data in the formats users have, turned into what the trainer reads.

- ``ferplus``: the shared FER+ parquet files (votes give soft labels and similarity triplets);
- ``folder:PATH``: one sub-folder per class (``PATH/happiness/*.jpg``), class names as the model's;
- ``csv:FILE``: a CSV with ``path`` and ``label`` columns (paths relative to the CSV's folder);
- unlabelled faces: a folder of images (``fever-distill prepare-unlabelled --folder``).

Photos go through the same detection, alignment and cropping as :func:`fever.extract` (the
biggest face is kept); small images are taken as crops. Faces are stored as uint8 grayscale crops.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fever.align import crop_face
from fever.errors import InputError
from fever.extractor import AUTO_CROP_MAX_SIDE
from fever.io.images import IMAGE_EXTENSIONS, load_image
from fever.models.config import EXPRESSION_CLASSES
from fever.preprocess import PreprocessConfig, to_float_rgb, to_gray

from .ferplus import FerPlusSplit, load_split

logger = logging.getLogger(__name__)


def to_uint8_gray(crop: torch.Tensor) -> np.ndarray:
    """A float RGB crop (3, H, W) in [0, 1] -> the uint8 (H, W) luma face that training stores."""
    return (to_gray(crop)[0] * 255).round().clamp(0, 255).byte().numpy()


def faces_from_paths(
    paths: Sequence[str | Path], pre: PreprocessConfig, size: int = 48, batch: int = 32
) -> tuple[np.ndarray, list[int]]:
    """Grayscale uint8 face crops (N, size, size) and the indices of the paths that gave one."""
    from fever.detect import FaceDetector, main_face

    detector: FaceDetector | None = None
    crops: list[np.ndarray] = []
    kept: list[int] = []
    for start in range(0, len(paths), batch):
        loaded = []
        for i in range(start, min(start + batch, len(paths))):
            try:
                loaded.append((i, load_image(paths[i]).array))
            except InputError as exc:
                logger.warning("%s (skipped)", exc)
        photos = [(i, a) for i, a in loaded if max(a.shape[:2]) > AUTO_CROP_MAX_SIDE]
        found = {}
        if photos:
            detector = detector or FaceDetector()
            for (i, a), dets in zip(photos, detector.detect([a for _, a in photos])):
                d = main_face(dets)
                if d is not None:
                    found[i] = crop_face(a, d.box, d.landmarks, pre, out_size=size)
                else:
                    logger.warning("%s: no face found (skipped)", paths[i])
        for i, a in loaded:
            if i in found:
                t = found[i]
            elif max(a.shape[:2]) <= AUTO_CROP_MAX_SIDE:
                t = F.interpolate(
                    to_float_rgb(a).unsqueeze(0),
                    size=(size, size),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                )[0]
            else:
                continue
            crops.append(to_uint8_gray(t))
            kept.append(i)
    return (np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)), kept


def _split_from_labels(
    paths: list[str], labels: list[str], pre: PreprocessConfig, class_names: Sequence[str]
) -> FerPlusSplit:
    lookup = {c.lower(): k for k, c in enumerate(class_names)}
    unknown = sorted({name for name in labels if name.lower() not in lookup})
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's classes {list(class_names)}")
    images, kept = faces_from_paths(paths, pre)
    votes = np.zeros((len(kept), 10), np.int64)
    for row, i in enumerate(kept):
        votes[row, lookup[labels[i].lower()]] = 10  # one-hot as 10 of 10 votes
    return FerPlusSplit(np.asarray([paths[i] for i in kept]), images, votes, np.full(len(kept), -1))


def labelled_from_folder(
    root: str | Path, pre: PreprocessConfig, class_names: Sequence[str] = EXPRESSION_CLASSES
) -> FerPlusSplit:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder of class sub-folders")
    paths, labels = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(str(f))
                labels.append(sub.name)
    if not paths:
        raise ValueError(f"{root}: no images in class sub-folders")
    return _split_from_labels(paths, labels, pre, class_names)


def labelled_from_csv(
    file: str | Path, pre: PreprocessConfig, class_names: Sequence[str] = EXPRESSION_CLASSES
) -> FerPlusSplit:
    file = Path(file)
    with file.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{file}: needs columns 'path' and 'label' (missing {sorted(missing)})")
        rows = list(reader)
    paths = [str((file.parent / r["path"]) if not Path(r["path"]).is_absolute() else r["path"]) for r in rows]
    return _split_from_labels(paths, [r["label"] for r in rows], pre, class_names)


def unlabelled_from_folder(root: str | Path, pre: PreprocessConfig, size: int = 64) -> np.ndarray:
    files = sorted(str(p) for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    return faces_from_paths(files, pre, size=size)[0]


def load_source(
    spec: str, split: str, data_root: str | Path, pre: PreprocessConfig, class_names: Sequence[str] = EXPRESSION_CLASSES
) -> FerPlusSplit:
    """``ferplus`` | ``folder:PATH`` | ``csv:FILE`` -> the split the trainer reads."""
    if spec == "ferplus":
        return load_split(Path(data_root) / "ferplus", split)
    kind, _, path = spec.partition(":")
    if kind == "folder" and path:
        return labelled_from_folder(path, pre, class_names)
    if kind == "csv" and path:
        return labelled_from_csv(path, pre, class_names)
    raise ValueError(f"data source must be 'ferplus', 'folder:PATH' or 'csv:FILE', not {spec!r}")
