"""Readers for the annotation formats of the sequence datasets the probes are used with.

- AFEW-VA: one JSON per clip, ``{"frames": {"00000": {"valence": v, "arousal": a, "landmarks":
  [[x, y] x 68]}, ...}}`` with values on -10..10 (scaled here to -1..1);
- Aff-Wild2 expression annotation: a text file whose first line names the classes and then one
  integer per frame, -1 for unlabelled frames;
- AVEC / RECOLA gold standard: CSV (``time,value`` or ``;``-separated, header optional) or ARFF
  (``@data`` rows ``instance_name,time,value``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import ProbeError


@dataclass
class ValenceArousal:
    frames: np.ndarray  # frame numbers
    values: np.ndarray  # (T, 2): valence, arousal in -1..1
    landmarks: np.ndarray  # (T, 68, 2), NaN where absent


def read_afew_va(path: str | Path) -> ValenceArousal:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        frames = data["frames"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ProbeError(f"{path}: not an AFEW-VA annotation file ({type(exc).__name__}: {exc})") from None
    keys = sorted(frames, key=int)
    values = np.array([[frames[k]["valence"], frames[k]["arousal"]] for k in keys], np.float32) / 10.0
    marks = np.full((len(keys), 68, 2), np.nan, np.float32)
    for i, k in enumerate(keys):
        lm = frames[k].get("landmarks")
        if lm is not None and np.shape(lm) == (68, 2):
            marks[i] = lm
    return ValenceArousal(np.array([int(k) for k in keys]), values, marks)


def read_affwild2_expressions(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Class names (from the header) and one label per frame (-1 = unlabelled)."""
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ProbeError(f"{path}: empty annotation file")
    classes = [c.strip() for c in lines[0].split(",")]
    try:
        labels = np.array([int(x) for x in lines[1:]], np.int64)
    except ValueError as exc:
        raise ProbeError(f"{path}: every line after the header must be an integer label ({exc})") from None
    if labels.size and (labels.min() < -1 or labels.max() >= len(classes)):
        raise ProbeError(f"{path}: labels must be -1 or 0..{len(classes) - 1}")
    return classes, labels


def read_gold_standard(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """AVEC/RECOLA gold standard: (times in seconds, values)."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".arff" or text.lstrip().lower().startswith("@relation"):
        rows = []
        in_data = False
        for line in text.splitlines():
            s = line.strip()
            if not s or s.startswith("%"):
                continue
            if s.lower().startswith("@data"):
                in_data = True
                continue
            if in_data:
                parts = [p.strip().strip("'") for p in s.split(",")]
                rows.append((float(parts[-2]), float(parts[-1])))
    else:
        dialect = ";" if text.count(";") > text.count(",") else ","
        rows = []
        for parts in csv.reader(text.splitlines(), delimiter=dialect):
            if not parts:
                continue
            try:
                rows.append((float(parts[-2]), float(parts[-1])))
            except ValueError:
                continue  # header line
    if not rows:
        raise ProbeError(f"{path}: no (time, value) rows found")
    arr = np.array(rows, np.float64)
    return arr[:, 0], arr[:, 1]
