"""Joining labels to fever-embed vectors by path (and frame, and face, when the labels give them)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fever.parquet import embeddings
from fever.result import STATUS_OK
from probes.errors import ProbeError


def read_vectors(path: str | Path) -> tuple[pa.Table, np.ndarray]:
    """The face rows (status ok) of a fever-embed parquet file and their vectors."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ProbeError(f"{path}: cannot read as a fever-embed parquet file ({exc})") from None
    if "embedding" not in table.column_names:
        raise ProbeError(f"{path}: has no 'embedding' column; write it with fever-embed")
    table = table.filter(pc.equal(table.column("status"), STATUS_OK))
    return table, embeddings(table)


def _key(path: str, frame: Any, face: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    values = {"path": str(Path(path).resolve()), "frame": int(frame), "face": int(face)}
    return tuple(values[k] for k in keys)


def join_labels(table: pa.Table, labels_csv: str | Path, skip_unlabelled: bool = False) -> np.ndarray:
    """One label per vector row; every row must find its label, unless ``skip_unlabelled``: then
    rows without one get ``None`` (the caller drops them)."""
    labels_csv = Path(labels_csv)
    with labels_csv.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "path" not in cols or "label" not in cols:
            raise ProbeError(f"{labels_csv}: needs columns 'path' and 'label' (has {cols})")
        rows = list(reader)
    keys = tuple(k for k in ("path", "frame", "face") if k in cols)
    lookup = {}
    for r in rows:
        p = r["path"] if Path(r["path"]).is_absolute() else str(labels_csv.parent / r["path"])
        lookup[_key(p, r.get("frame", -1) or -1, r.get("face", 0) or 0, keys)] = r["label"]
    out, missing = [], []
    for path, frame, face in zip(
        table.column("path").to_pylist(), table.column("frame").to_pylist(), table.column("face").to_pylist()
    ):
        k = _key(path, frame, face, keys)
        if k in lookup:
            out.append(lookup[k])
        else:
            out.append(None)
            missing.append(path if len(keys) == 1 else f"{path} frame {frame} face {face}")
    if missing and not skip_unlabelled:
        raise ProbeError(
            f"{len(missing)} of {table.num_rows} vectors have no label in {labels_csv} "
            f"(e.g. {missing[0]}); label paths are matched to the parquet 'path' column after resolving "
            f"them against the CSV's folder, by {', '.join(keys)}; --skip-unlabelled fits on the labelled ones"
        )
    if len(missing) == len(out):
        raise ProbeError(f"none of the {table.num_rows} vectors has a label in {labels_csv}")
    return np.asarray(out, dtype=object)
