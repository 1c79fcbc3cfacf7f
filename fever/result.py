"""The rows that extraction produces: one per face, plus one per input without a usable face."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_ERROR = "error"


@dataclass
class Row:
    """Metadata of one output row (one face, or one input that gave no face)."""

    input_index: int
    source: str
    status: str = STATUS_OK
    face: int = -1                      # face number within the image or frame; -1 for no-face / error rows
    box: np.ndarray | None = None       # x1, y1, x2, y2 in pixels of the input
    landmarks: np.ndarray | None = None
    score: float = float("nan")         # detection probability (1.0 for inputs taken as face crops)
    frame: int = -1                     # video frame index; -1 for still images
    timestamp: float = float("nan")     # seconds, videos only
    track: int = -1                     # id following one person across frames (videos)
    error: str | None = None
    note: str | None = None


@dataclass
class Extraction:
    """What :func:`fever.extract` returns: ``vectors[i]`` belongs to ``rows[i]``.

    Rows with ``status != "ok"`` (no face found, or the input failed) have NaN vectors, so every
    input is accounted for; ``ok`` masks them and :meth:`valid` drops them.
    """

    vectors: np.ndarray
    rows: list[Row] = field(default_factory=list)
    model_name: str = ""
    config_hash: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.vectors if dtype is None else self.vectors.astype(dtype)

    @property
    def ok(self) -> np.ndarray:
        return np.array([r.status == STATUS_OK for r in self.rows], dtype=bool)

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.status == STATUS_ERROR]

    def valid(self) -> "Extraction":
        keep = self.ok
        return Extraction(self.vectors[keep], [r for r, k in zip(self.rows, keep) if k], self.model_name, self.config_hash)

    def column(self, name: str) -> list[Any]:
        return [getattr(r, name) for r in self.rows]

    def to_arrow(self):  # -> pyarrow.Table
        from .parquet import rows_to_table

        return rows_to_table(self.rows, self.vectors)

    @staticmethod
    def concat(parts: list["Extraction"], dim: int) -> "Extraction":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Extraction(np.zeros((0, dim), np.float32), [])
        return Extraction(np.concatenate([p.vectors for p in parts]), [r for p in parts for r in p.rows],
                          parts[0].model_name, parts[0].config_hash)
