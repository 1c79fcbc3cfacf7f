"""Reproducible experiments behind the probes' results (``fever-probe experiment NAME``).

``temporal``: no real per-frame affect labels exist here, so sequences are made from *real* FER+
test faces (their vectors from the model): a "video" is a run of segments, each showing one face
for 6-20 frames. The targets follow a known rule that a per-frame model cannot solve: they are
those of the expression shown ``lag`` frames *earlier* (valence/arousal from the circumplex
positions below for ``lstm-va``, the class for ``blstm-clip``). The LSTM probes are compared with a
per-frame baseline (ridge / logistic regression on the current vector).

``videos``: the real videos -> tracks -> vectors -> per-frame valence/arousal (``lstm-va`` from the
temporal experiment) and expression probabilities (the model's shipped probe) -> parquet.

``multitask``: UTKFace (de-duplicated, split by file with a fixed seed) gender (2), race (5) and
paper 001's age bins, plus FER+ emotion (8), on the model's vectors; per-head test accuracy next to
paper 001's RAF-DB table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from distill.datasets import add_data_root_argument
from fever.cli.app import Command
from fever.result import STATUS_OK

# circumplex positions (valence, arousal) of the FER+ classes, Russell-style, for the synthetic rule
CIRCUMPLEX = {
    "neutral": (0.0, 0.0),
    "happiness": (0.8, 0.4),
    "surprise": (0.2, 0.8),
    "sadness": (-0.7, -0.4),
    "anger": (-0.6, 0.7),
    "disgust": (-0.7, 0.3),
    "fear": (-0.5, 0.8),
    "contempt": (-0.5, 0.1),
}


def lagged_videos(vectors: np.ndarray, labels: np.ndarray, n_videos: int, length: int, lag: int, seed: int):
    """Videos of real face vectors in segments; targets lag behind the faces by ``lag`` frames."""
    from fever.models.config import EXPRESSION_CLASSES

    rng = np.random.default_rng(seed)
    va_of = np.array([CIRCUMPLEX[c] for c in EXPRESSION_CLASSES], np.float32)
    xs, classes, vas = [], [], []
    for _ in range(n_videos):
        rows: list[int] = []
        while len(rows) < length + lag:
            rows += [int(rng.integers(len(vectors)))] * int(rng.integers(6, 21))
        rows = rows[: length + lag]
        shown = labels[rows]
        xs.append(vectors[rows[lag:]])
        classes.append(shown[:length])  # the expression shown `lag` frames earlier
        vas.append(va_of[shown[:length]])
    return xs, classes, vas


def temporal(model: str | None, data_root: Path, lag: int = 5, seed: int = 0) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression, Ridge

    import probes
    from distill.evaluate import split_vectors
    from distill.ferplus import load_split
    from fever.extractor import get_extractor
    from probes.metrics import ccc, s_metric

    test = load_split(data_root / "ferplus", "test")
    keep = test.majority >= 0
    vectors = split_vectors(get_extractor(model, device="cpu"), test)["embedding"][keep]
    labels = test.majority[keep]
    half = len(vectors) // 2  # faces of train videos and test videos do not overlap
    tr = lagged_videos(vectors[:half], labels[:half], 120, 64, lag, seed)
    te = lagged_videos(vectors[half:], labels[half:], 40, 64, lag, seed + 1)
    out: dict[str, Any] = {"lag_frames": lag, "train_videos": 120, "test_videos": 40, "frames_per_video": 64}
    va = probes.create("lstm-va", hidden=64, window=48, max_epochs=60, patience=10, steps_per_epoch=20, fps=25)
    va.fit(tr[0], tr[2])
    ridge = Ridge(alpha=1.0).fit(np.concatenate(tr[0]), np.concatenate(tr[2]))
    p, t = ridge.predict(np.concatenate(te[0])), np.concatenate(te[2])
    out["lstm-va CCC"] = va.score(te[0], te[2])
    out["per-frame ridge CCC"] = float(np.mean([ccc(t[:, j], p[:, j]) for j in range(2)]))
    clip = probes.create("blstm-clip", n_classes=8, hidden=64, max_epochs=60, patience=10, steps_per_epoch=20)
    clip.fit(tr[0], tr[1])
    logit = LogisticRegression(max_iter=2000).fit(np.concatenate(tr[0]), np.concatenate(tr[1]))
    out["blstm-clip S"] = clip.score(te[0], te[1])
    out["per-frame logistic S"] = s_metric(np.concatenate(te[1]), logit.predict(np.concatenate(te[0])), 8)
    out["_va_probe"], out["_clip_probe"] = va, clip
    return out


def videos(model: str | None, data_root: Path, va_probe: Any, out: Path, fps: float = 10.0) -> dict[str, Any]:
    """Video -> tracks -> vectors -> per-frame outputs, for every shared video, into one parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import fever

    columns: dict[str, list[Any]] = {
        k: [] for k in ("path", "frame", "timestamp", "track", "valence", "arousal", "expression")
    }
    counts = {}
    for video in sorted((data_root / "videos").glob("*")):
        analysis = fever.analyze(video, model=model, fps=fps)
        faces = analysis.faces()
        counts[video.name] = len(faces)
        by_track: dict[int, list[dict[str, Any]]] = {}
        for f in faces:
            by_track.setdefault(f["track"], []).append(f)
        for track, rows in by_track.items():
            seq = np.stack([r["vector"] for r in rows])
            pred = va_probe.predict([seq])[0] if len(seq) >= 2 else np.full((len(seq), 2), np.nan, np.float32)
            for r, (v, a) in zip(rows, pred):
                for k, val in (
                    ("path", str(video)),
                    ("frame", r["frame"]),
                    ("timestamp", r["timestamp"]),
                    ("track", track),
                    ("valence", float(v)),
                    ("arousal", float(a)),
                    ("expression", r["expression"]),
                ):
                    columns[k].append(val)
    pq.write_table(pa.table(columns), out)
    return {"rows": len(columns["path"]), "faces_per_video": counts, "out": str(out)}


PAPER_001_RAF_DB = {"emotion": 0.793, "gender": 0.783, "race": 0.861, "age": 0.748}


def utkface_vectors(
    model: str | None, data_root: Path, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTKFace vectors (the biggest detected face, or the whole 200 px crop when MTCNN finds none),
    labels (gender, race, age in years) and the split of each row."""
    from distill.utkface import load_utkface
    from fever.detect import box_area
    from fever.extractor import get_extractor

    utk = load_utkface(data_root)
    n = len(utk.names) if limit is None else min(limit, len(utk.names))
    ex = get_extractor(model, device="cpu")
    images = [utk.image(i) for i in range(n)]
    detected = ex.extract(images, faces="detect")
    vectors = np.full((n, ex.dim), np.nan, np.float32)
    best: dict[int, float] = {}  # input -> area of the biggest face so far (fever.detect.main_face's rule)
    for row, vec in zip(detected.rows, detected.vectors):
        if row.status == STATUS_OK and box_area(row.box) > best.get(row.input_index, -1):
            best[row.input_index] = box_area(row.box)
            vectors[row.input_index] = vec
    missing = [i for i in range(n) if i not in best]
    if missing:
        vectors[missing] = ex.extract([images[i] for i in missing], faces="crop").vectors
    labels = np.stack([utk.gender[:n], utk.race[:n], utk.age[:n]], axis=1)
    return vectors, labels, utk.split[:n]


def multitask(model: str | None, data_root: Path, limit: int | None = None, seed: int = 0) -> dict[str, Any]:
    """UTKFace gender (2), race (5), age bins (paper 001's) + FER+ emotion (8), one multi-task probe."""
    import probes
    from distill.evaluate import split_vectors
    from distill.ferplus import load_split
    from fever.extractor import get_extractor
    from probes.multitask import age_to_bin

    vec, lab, split = utkface_vectors(model, data_root, limit)
    utk_y = np.stack([np.full(len(vec), -1), lab[:, 0], lab[:, 1], age_to_bin(lab[:, 2])], axis=1)
    ex = get_extractor(model, device="cpu")
    fer = {s: load_split(data_root / "ferplus", s) for s in ("train", "valid", "test")}
    fer_v = {s: split_vectors(ex, fer[s])["embedding"] for s in fer}

    def fer_rows(s: str) -> tuple[np.ndarray, np.ndarray]:
        keep = fer[s].majority >= 0
        y = np.full((int(keep.sum()), 4), -1)
        y[:, 0] = fer[s].majority[keep]
        return fer_v[s][keep], y

    parts = {s: (vec[split == s], utk_y[split == s]) for s in ("train", "valid", "test")}
    x_tr = np.concatenate([parts["train"][0], fer_rows("train")[0]])
    y_tr = np.concatenate([parts["train"][1], fer_rows("train")[1]])
    x_va = np.concatenate([parts["valid"][0], fer_rows("valid")[0]])
    y_va = np.concatenate([parts["valid"][1], fer_rows("valid")[1]])
    probe = probes.create("multitask", emotion_classes=8, gender_classes=2, race_classes=5, age_bins=5, seed=seed)
    probe.fit(x_tr, y_tr, x_va, y_va)
    acc = probe.head_accuracy(parts["test"][0], parts["test"][1])
    acc["emotion"] = probe.head_accuracy(*fer_rows("test"))["emotion"]
    return {
        "test accuracy": acc,
        "paper 001 on RAF-DB": PAPER_001_RAF_DB,
        "utkface rows (train/valid/test)": [int((split == s).sum()) for s in ("train", "valid", "test")],
        "note": "emotion: FER+ test, 8 classes; gender (2), race (5), age bins 0-3/4-19/20-39/40-69/70+: "
        "UTKFace test split",
    }


class ExperimentCommand(Command):
    name = "experiment"
    help = "the papers' probe experiments on the shared data (temporal, videos, multitask)"
    description = __doc__

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("name", choices=("temporal", "videos", "multitask"), help="which experiment")
        p.add_argument("--limit", type=int, default=None, help="multitask: use only the first N UTKFace faces")
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        add_data_root_argument(p)
        p.add_argument(
            "--out", type=Path, default=Path("video_affect.parquet"), help="videos: per-frame affect parquet"
        )
        p.add_argument("--lag", type=int, default=5, help="temporal: frames of lag of the temporal rule")

    def run(self, args: argparse.Namespace) -> int:
        if args.name == "multitask":
            print(json.dumps(multitask(args.model, args.data_root, args.limit), indent=2))
            return 0
        result = temporal(args.model, args.data_root, args.lag)
        if args.name == "videos":
            print(json.dumps(videos(args.model, args.data_root, result["_va_probe"], args.out), indent=2))
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
        return 0
