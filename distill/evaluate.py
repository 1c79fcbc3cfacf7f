"""The paper's linear evaluation (III-B, III-C) on frozen ``D_face`` vectors.

- FER+ test, 8 classes, majority-vote labels (ties and unknown/not-a-face majorities dropped:
  :attr:`distill.ferplus.FerPlusSplit.majority`);
- FER2013 test (PrivateTest), the original 7 classes;
- triplet accuracy on the frozen FER+ test triplets in ``distill/data/ferplus_test_triplets.csv``
  (L2 distance between vectors; the similar pair must be closer than both pairs with the odd one).

Logistic regression as in the paper: C = 10000, classes re-weighted to equal representation,
trained on the train vectors, scored once on the test vectors. Features are standardised first (a
linear map, which only helps the solver converge).
"""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

import fever

from .augment import eval_batch
from .ferplus import FerPlusSplit, load_split
from probes.metrics import triplet_accuracy

TRIPLETS_FILE = Path(__file__).resolve().parent / "data" / "ferplus_test_triplets.csv"


def split_batches(split: FerPlusSplit, preprocess: Any, batch_size: int = 256) -> Iterator[torch.Tensor]:
    """The faces of a split in order, as evaluation-preprocessed input batches (shared by every
    backend that embeds a split: torch here, ONNX Runtime in ``fever.export``)."""
    for i in range(0, len(split.images), batch_size):
        yield eval_batch(split.images[i:i + batch_size], preprocess)


def split_vectors(extractor: "fever.Extractor", split: FerPlusSplit, batch_size: int = 256) -> dict[str, np.ndarray]:
    """D_face vectors and the similarity head's outputs of every face of a split (taken as crops)."""
    embs, sims = [], []
    model = extractor.model
    for x in split_batches(split, extractor.preprocess, batch_size):
        with torch.inference_mode(), fever.device.autocast_for(extractor.device, extractor.precision):
            out = model(x.contiguous(memory_format=torch.channels_last))
        embs.append(out.embedding.float().numpy())
        sims.append(F.normalize(out.similarity.float(), dim=1).numpy())
    return {"embedding": np.concatenate(embs), "similarity": np.concatenate(sims)}


def load_test_triplets(split: FerPlusSplit, path: Path = TRIPLETS_FILE) -> np.ndarray:
    """Rows are positions in ``test.parquet`` (FER+ repeats a few file names, so names alone are
    ambiguous); the names stored beside them must match, or the data has changed."""
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    trip = np.array([[int(r["anchor_row"]), int(r["positive_row"]), int(r["negative_row"])] for r in rows])
    names = np.array([[r["anchor"], r["positive"], r["negative"]] for r in rows])
    if trip.max() >= len(split.names) or (split.names[trip] != names).any():
        raise ValueError(f"{path}: the frozen triplets do not match this FER+ test split (rows and names differ)")
    return trip


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, c: float = 10000.0, max_iter: int = 3000,
                     balanced: bool = True) -> Any:
    """The paper's logistic regression on the labelled rows (label >= 0) of ``train_x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keep = train_y >= 0
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced" if balanced else None,
                                                             max_iter=max_iter))
    return clf.fit(train_x[keep], train_y[keep])


def score_linear_probe(clf: Any, test_x: np.ndarray, test_y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    keep = test_y >= 0
    pred = clf.predict(test_x[keep])
    return {"accuracy": float((pred == test_y[keep]).mean()),
            "macro_f1": float(f1_score(test_y[keep], pred, average="macro")), "n_test": int(keep.sum())}


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 c: float = 10000.0, max_iter: int = 3000, balanced: bool = True) -> dict[str, float]:
    clf = fit_linear_probe(train_x, train_y, c, max_iter, balanced)
    return {**score_linear_probe(clf, test_x, test_y), "n_train": int((train_y >= 0).sum())}


def evaluate(model: str | Path | "fever.FeverModel", data_root: str | Path, precision: str = "fp32") -> dict[str, Any]:
    """Every number of the paper's Tables I-II protocol for one model."""
    return evaluate_with_vectors(model, data_root, precision)[0]


def evaluate_with_vectors(model: str | Path | "fever.FeverModel", data_root: str | Path,
                          precision: str = "fp32") -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`evaluate`, also returning the FER+ train/test vectors and labels it computed."""
    started = time.time()
    extractor = fever.Extractor(model, device="cpu", precision=precision)
    root = Path(data_root) / "ferplus"
    train, test = load_split(root, "train"), load_split(root, "test")
    vtr, vte = split_vectors(extractor, train), split_vectors(extractor, test)
    ferplus = linear_probe(vtr["embedding"], train.majority, vte["embedding"], test.majority)
    fer2013 = linear_probe(vtr["embedding"], train.fer2013_label, vte["embedding"], test.fer2013_label)
    # FER+ and FER2013 test sets are not balanced (AffectNet's validation set, the paper's, is):
    # the unweighted probe is reported beside the paper's re-weighted one.
    ferplus_unw = linear_probe(vtr["embedding"], train.majority, vte["embedding"], test.majority, balanced=False)
    fer2013_unw = linear_probe(vtr["embedding"], train.fer2013_label, vte["embedding"], test.fer2013_label, balanced=False)
    triplets = load_test_triplets(test)
    data = {"train": vtr["embedding"], "test": vte["embedding"], "train_labels": train.majority,
            "test_labels": test.majority, "class_names": list(extractor.config.class_names)}
    return {
        "model": extractor.config.name,
        # Several runs share one model name: the table names what was evaluated.
        "source": str(model) if isinstance(model, (str, Path)) else extractor.config.name,
        "ferplus_test_accuracy": ferplus["accuracy"],
        "ferplus_test_macro_f1": ferplus["macro_f1"],
        "fer2013_test_accuracy": fer2013["accuracy"],
        "fer2013_test_macro_f1": fer2013["macro_f1"],
        "ferplus_test_accuracy_unweighted": ferplus_unw["accuracy"],
        "fer2013_test_accuracy_unweighted": fer2013_unw["accuracy"],
        "ferplus_triplet_accuracy": triplet_accuracy(vte["embedding"], triplets),
        "ferplus_triplet_accuracy_similarity_head": triplet_accuracy(vte["similarity"], triplets),
        "n_triplets": len(triplets),
        "n_ferplus_test": ferplus["n_test"],
        "n_fer2013_test": fer2013["n_test"],
        "seconds": round(time.time() - started, 1),
    }, data


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def format_table(results: list[dict[str, Any]]) -> str:
    head = ("| model | FER+ test (8 cl., re-weighted) | FER+ test (unweighted) | FER2013 test (7 cl., re-weighted) | "
            "FER2013 test (unweighted) | FER+ triplet acc. | triplet acc. (32-d head) |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.get('source', r['model'])} | {pct(r['ferplus_test_accuracy'])} | {pct(r['ferplus_test_accuracy_unweighted'])} | "
                     f"{pct(r['fer2013_test_accuracy'])} | {pct(r['fer2013_test_accuracy_unweighted'])} | "
                     f"{pct(r['ferplus_triplet_accuracy'])} | {pct(r['ferplus_triplet_accuracy_similarity_head'])} |")
    return "\n".join(lines)
