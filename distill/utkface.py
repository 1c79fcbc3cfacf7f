"""UTKFace: de-duplicated, split by file with a fixed seed (the dataset has no official split)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

SPLIT_SEED = 20261122
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, valid, test


@dataclass
class UTKFace:
    names: np.ndarray
    jpeg: list[bytes]
    age: np.ndarray
    gender: np.ndarray
    race: np.ndarray  # -1 where missing
    split: np.ndarray  # "train" | "valid" | "test"

    def image(self, i: int) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.jpeg[i])).convert("RGB"))


def load_utkface(root: str | Path) -> UTKFace:
    """Byte-identical images are kept once (the first by file name); among the 100 duplicate groups
    78 carry conflicting labels, so the kept copy's labels are the first file's. The split is drawn
    per unique image with a fixed seed."""
    table = pq.read_table(Path(root) / "utkface" / "crop_part1.parquet")
    names = table.column("name").to_pylist()
    images = table.column("image").to_pylist()
    order = np.argsort(names)
    seen: set[str] = set()
    keep = []
    for i in order:
        digest = hashlib.sha1(images[i]).hexdigest()
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    keep_arr = np.array(keep)
    rng = np.random.default_rng(SPLIT_SEED)
    u = rng.random(len(keep_arr))
    split = np.where(
        u < SPLIT_FRACTIONS[0], "train", np.where(u < SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1], "valid", "test")
    )
    race = np.array([-1 if r is None else r for r in table.column("race").to_pylist()])
    # a few rows carry codes outside the documented sets (e.g. gender 3): treated as unknown (-1)
    gender = np.array(table.column("gender").to_pylist())
    gender = np.where(np.isin(gender, (0, 1)), gender, -1)
    race = np.where(np.isin(race, (0, 1, 2, 3, 4)), race, -1)
    return UTKFace(
        np.asarray(names)[keep_arr],
        [images[i] for i in keep_arr],
        np.asarray(table.column("age").to_pylist())[keep_arr],
        gender[keep_arr],
        race[keep_arr],
        split,
    )
