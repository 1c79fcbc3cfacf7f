"""The rows that extraction produces: one per face, plus one per input without a usable face."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_ERROR = "error"
STATUS_SKIPPED = "skipped"  # a file in a folder that is neither an image nor a video


@dataclass
class Row:
    """Metadata of one output row (one face, or one input that gave no face)."""

    input_index: int
    source: str
    status: str = STATUS_OK
    face: int = -1  # face number within the image or frame; -1 for no-face / error rows
    box: np.ndarray | None = None  # x1, y1, x2, y2 in pixels of the input
    landmarks: np.ndarray | None = None
    score: float = float("nan")  # detection probability (1.0 for inputs taken as face crops)
    frame: int = -1  # video frame index; -1 for still images
    timestamp: float = float("nan")  # seconds, videos only
    track: int = -1  # id following one person across frames (videos)
    error: str | None = None
    note: str | None = None
    expression_onepass: np.ndarray | None = None  # (8,) logits of the one-pass detector, when it found the face


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
        """The rows with a face and their vectors.

        Returns:
            A new :class:`Extraction` without the ``no_face`` / ``error`` / ``skipped`` rows.
        """
        keep = self.ok
        return Extraction(
            self.vectors[keep], [r for r, k in zip(self.rows, keep) if k], self.model_name, self.config_hash
        )

    def column(self, name: str) -> list[Any]:
        """One field of every row.

        Args:
            name: a :class:`Row` field, e.g. ``"source"``, ``"track"`` or ``"box"``.

        Returns:
            The values, in row order.
        """
        return [getattr(r, name) for r in self.rows]

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table.

        Returns:
            A table with the columns of ``fever-embed``'s parquet files.
        """
        return rows_to_table(self.rows, self.vectors)

    @staticmethod
    def concat(parts: list["Extraction"], dim: int) -> "Extraction":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Extraction(np.zeros((0, dim), np.float32), [])
        return Extraction(
            np.concatenate([p.vectors for p in parts]),
            [r for p in parts for r in p.rows],
            parts[0].model_name,
            parts[0].config_hash,
        )


def arrow_text(value: str | None) -> str | None:
    """A string that Arrow can store: file names that are not valid UTF-8 (Python keeps their bytes
    as surrogates) get those bytes as ``\\xff`` escapes, so one odd name cannot stop a batch."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def schema(dim: int, metadata: dict[str, str] | None = None) -> pa.Schema:
    """The columns of a fever-embed parquet file (one row per face), with file metadata."""
    return pa.schema(
        [
            ("path", pa.string()),
            ("frame", pa.int32()),
            ("timestamp", pa.float64()),
            ("face", pa.int32()),
            ("track", pa.int32()),
            ("box", pa.list_(pa.float32(), 4)),
            ("landmarks", pa.list_(pa.float32(), 10)),
            ("score", pa.float32()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("note", pa.string()),
            ("embedding", pa.list_(pa.float32(), dim)),
            # the one-pass detector's own expression logits (null with MTCNN)
            ("expression_onepass", pa.list_(pa.float32(), 8)),
            # which file a row came from, exactly (fever-embed; null for in-memory inputs)
            ("source_key", pa.binary()),
            ("source_size", pa.int64()),
            ("source_mtime_ns", pa.int64()),
        ],
        metadata={k.encode(): v.encode() for k, v in (metadata or {}).items()},
    )


def _fixed(values: list[np.ndarray | None], width: int) -> pa.Array:
    flat = np.zeros((len(values), width), np.float32)
    mask = np.ones(len(values), bool)
    for i, v in enumerate(values):
        if v is not None:
            flat[i] = np.asarray(v, np.float32).reshape(-1)
            mask[i] = False
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), width, mask=pa.array(mask))


# what identifies a source file: (resolved path bytes, size, mtime_ns), any of them None if unknown
SourceIdentity = tuple[bytes | None, int | None, int | None]


def rows_to_table(
    rows: list[Row],
    vectors: np.ndarray,
    metadata: dict[str, str] | None = None,
    identities: dict[str, SourceIdentity] | None = None,
) -> pa.Table:
    """Rows and their vectors as an Arrow table of :func:`schema` (no vector where there is no face).

    ``identities`` maps a row's ``source`` to the file it was read from (``fever-embed`` gives
    them, so that ``--resume`` knows each file exactly and can tell when it changed).
    """
    dim = vectors.shape[1]
    ids = [(identities or {}).get(r.source, (None, None, None)) for r in rows]
    ok = [r.status == STATUS_OK for r in rows]
    columns = [
        pa.array([arrow_text(r.source) for r in rows], pa.string()),
        pa.array([r.frame for r in rows], pa.int32()),
        pa.array([None if r.frame < 0 else r.timestamp for r in rows], pa.float64()),
        pa.array([r.face for r in rows], pa.int32()),
        pa.array([r.track for r in rows], pa.int32()),
        _fixed([r.box for r in rows], 4),
        _fixed([r.landmarks for r in rows], 10),
        pa.array([None if np.isnan(r.score) else r.score for r in rows], pa.float32()),
        pa.array([r.status for r in rows], pa.string()),
        pa.array([arrow_text(r.error) for r in rows], pa.string()),
        pa.array([arrow_text(r.note) for r in rows], pa.string()),
        _fixed([v if k else None for v, k in zip(vectors, ok)], dim),
        _fixed([r.expression_onepass for r in rows], 8),
        pa.array([i[0] for i in ids], pa.binary()),
        pa.array([i[1] for i in ids], pa.int64()),
        pa.array([i[2] for i in ids], pa.int64()),
    ]
    return pa.Table.from_arrays(columns, schema=schema(dim, metadata))
