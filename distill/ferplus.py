"""FER+ as the labelled set (AffectNet's part) and its vote histograms as the similarity signal
(Google FEC's part)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

# FER+ vote columns, in file order.
VOTE_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@dataclass
class FerPlusSplit:
    """One split decoded into memory: 48x48 uint8 faces, votes, labels."""

    names: np.ndarray  # (N,) str
    images: np.ndarray  # (N, 48, 48) uint8
    votes: np.ndarray  # (N, 10) int
    fer2013_label: np.ndarray  # (N,) int, -1 where unknown

    @property
    def distributions(self) -> np.ndarray:
        """The 8 expression votes as a probability distribution (unknown/NF dropped); rows with no
        expression vote are all zero."""
        v = self.votes[:, :8].astype(np.float32)
        total = v.sum(axis=1, keepdims=True)
        return np.divide(v, total, out=np.zeros_like(v), where=total > 0)

    @property
    def majority(self) -> np.ndarray:
        """Majority-vote label over the 10 vote columns; -1 where the top is unknown/NF or a tie.

        This is the rule of the FER+ paper's "majority voting" evaluation: a row whose highest count
        is shared by two classes, or lies on unknown / not-a-face, has no label.
        """
        v = self.votes
        top = v.max(axis=1)
        arg = v.argmax(axis=1)
        ties = (v == top[:, None]).sum(axis=1) > 1
        label = np.where(ties | (arg >= 8), -1, arg)
        return label.astype(np.int64)

    @property
    def official_majority(self) -> np.ndarray:
        """The FER+ paper's majority protocol (microsoft/FERPlus ``_process_data``): single votes are
        dropped as outliers, the top class needs more than half of the remaining votes (unknown and
        not-a-face counted), and faces whose label is then unknown or not-a-face are excluded (-1)."""
        v = np.where(self.votes <= 1, 0, self.votes)
        top = v.max(axis=1)
        arg = v.argmax(axis=1)
        clear = (top > 0.5 * v.sum(axis=1)) & (top > 0)
        return np.where(clear & (arg < 8), arg, -1).astype(np.int64)


def load_split(root: str | Path, split: str) -> FerPlusSplit:
    """Decode a split once per process (the PNGs take seconds; every run and test reuses them)."""
    return _load_split(str(Path(root).resolve()), split)


@lru_cache(maxsize=8)
def _load_split(root: str, split: str) -> FerPlusSplit:
    path = Path(root) / f"{split}.parquet"
    table = pq.read_table(path, columns=["name", "image", "votes", "fer2013_label"])
    images = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("L")) for b in table.column("image").to_pylist()])
    votes = np.asarray(table.column("votes").to_pylist(), dtype=np.int64)
    lookup = {name: i for i, name in enumerate(FER2013_CLASSES)}
    labels = np.array([lookup.get(x, -1) if x is not None else -1 for x in table.column("fer2013_label").to_pylist()])
    return FerPlusSplit(np.asarray(table.column("name").to_pylist()), images, votes, labels)
