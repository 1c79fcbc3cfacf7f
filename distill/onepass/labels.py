"""Pseudo-labels of real frames for the one-pass detector, as paper 004 made them.

Paper 004 labelled Aff-Wild2 frames with RetinaFace. Here MTCNN is the box teacher (boxes and 5
landmarks, at fever's detection threshold) and the default embedder with its shipped probe the
expression teacher (its calibrated probabilities are the soft target), on frames of the shared
videos and on UTKFace photos. Whole videos are held out for evaluation, never single frames
(:data:`HELD_OUT_VIDEOS` for test, :data:`VALID_VIDEOS` to choose settings on real frames), and
UTKFace's own valid and test splits go with them. ``train+valid`` is the training split the first
two detectors used, before real frames had a valid split.

The labels go to one parquet file: the picture as JPEG bytes (quality 95), its faces' boxes,
landmarks and probabilities, and where it came from.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

# held out whole for test: two people and cuts (short_hamilton_clip) and one talking head (woman2)
HELD_OUT_VIDEOS = ("short_hamilton_clip.mp4", "woman2.mp4")
# held out whole for valid: a talking head of another clip, 115 frames
VALID_VIDEOS = ("fer_test.mp4",)
SPLITS = ("train", "valid", "test", "train+valid")


def video_split(name: str) -> str:
    """The split a shared video belongs to, whole."""
    return "test" if name in HELD_OUT_VIDEOS else "valid" if name in VALID_VIDEOS else "train"


def _jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _pictures(data_root: Path, split: str, video_fps: float) -> Iterator[tuple[str, np.ndarray]]:
    from fever.io.video import iter_video_frames

    from ..utkface import load_utkface

    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, not {split!r}")
    wanted = set(split.split("+"))
    for video in sorted((data_root / "videos").glob("*")):
        if video_split(video.name) not in wanted:
            continue
        for frame in iter_video_frames(video, fps=video_fps or None):
            yield f"{video.name}#{frame.index}", frame.array
    utk = load_utkface(data_root)
    for i in range(len(utk.names)):
        if utk.split[i] in wanted:
            yield f"utkface/{utk.names[i]}", utk.image(i)


def pseudo_label(
    data_root: str | Path, out: str | Path, split: str = "train", video_fps: float = 2.0
) -> dict[str, int]:
    """Label every picture of ``split`` with MTCNN boxes and the two-stage pipeline's expressions.

    Args:
        data_root: the shared datasets.
        out: parquet file to write.
        split: one of :data:`SPLITS`.
        video_fps: video frames labelled per second (0: every frame).

    Returns:
        Counts of pictures and faces written.
    """
    import fever
    from fever.models.config import EXPRESSION_CLASSES

    extractor = fever.Extractor(device="cpu")
    rows: dict[str, list] = {k: [] for k in ("source", "image", "boxes", "landmarks", "probabilities")}
    faces = 0
    for source, picture in _pictures(Path(data_root), split, video_fps):
        result = fever.analyze([picture], model=extractor, faces="detect")  # the shipped probe
        order = [result.classes.index(c) for c in EXPRESSION_CLASSES]
        ok = [i for i, r in enumerate(result.extraction.rows) if r.status == "ok"]
        rows["source"].append(source)
        rows["image"].append(_jpeg(picture))
        rows["boxes"].append([result.extraction.rows[i].box.tolist() for i in ok])
        rows["landmarks"].append([result.extraction.rows[i].landmarks.reshape(-1).tolist() for i in ok])
        rows["probabilities"].append([result.probabilities[i][order].tolist() for i in ok])
        faces += len(ok)
    table = pa.table(
        {
            "source": pa.array(rows["source"], pa.string()),
            "image": pa.array(rows["image"], pa.binary()),
            "boxes": pa.array(rows["boxes"], pa.list_(pa.list_(pa.float32(), 4))),
            "landmarks": pa.array(rows["landmarks"], pa.list_(pa.list_(pa.float32(), 10))),
            "probabilities": pa.array(rows["probabilities"], pa.list_(pa.list_(pa.float32(), 8))),
        }
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return {"pictures": table.num_rows, "faces": faces}


def label_sources(path: str | Path) -> tuple[list[str], int]:
    """The videos a labels file has frames of, and how many of its pictures are photos (only the
    ``source`` column is read)."""
    sources = pq.read_table(path, columns=["source"]).column("source").to_pylist()
    videos = sorted({s.split("#")[0] for s in sources if "#" in s})
    return videos, sum("#" not in s for s in sources)


def read_labels(path: str | Path) -> pa.Table:
    """The labels file :func:`pseudo_label` wrote."""
    return pq.read_table(path)
