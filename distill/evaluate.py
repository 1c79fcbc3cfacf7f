"""The linear evaluation of frozen ``D_face`` vectors (DeepFEVER III-B, III-C), next to the field's.

- FER+, 8 classes, two label rules: ours (majority of the 10 votes; ties and unknown/not-a-face
  majorities dropped: :attr:`distill.ferplus.FerPlusSplit.majority`) and the FER+ paper's official
  majority protocol (:attr:`~distill.ferplus.FerPlusSplit.official_majority`), so our numbers can be
  read against Barsoum et al.'s;
- FER2013 (PrivateTest for ``test``), the original 7 classes;
- triplet accuracy: the frozen FER+ test triplets in ``distill/data/ferplus_test_triplets.csv`` (for
  ``valid``, 10,000 triplets drawn by the same rule with a fixed seed); L2 distance between vectors,
  the similar pair must be closer than both pairs with the odd one.

The probe is :class:`probes.logistic.LogisticProbe` (the one linear probe of the project): logistic
regression on standardised vectors. The headline columns are unweighted with C = 1; the paper's
probe (C = 10000, classes re-weighted to equal representation) is kept as its own columns. Raw
pixels and HOG (:mod:`distill.baselines`) go through the same probe in the same run.

Select models with ``split="valid"``; report ``test`` once per model.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

import fever
from probes.metrics import triplet_accuracy

from .augment import eval_batch
from .baselines import BASELINES, baseline_features
from .ferplus import FerPlusSplit, load_split
from .triplets import sample_triplets

if TYPE_CHECKING:
    from probes.logistic import LogisticProbe

TRIPLETS_FILE = Path(__file__).resolve().parent / "data" / "ferplus_test_triplets.csv"


def split_batches(split: FerPlusSplit, preprocess: Any, batch_size: int = 256) -> Iterator[torch.Tensor]:
    """The faces of a split in order, as evaluation-preprocessed input batches (shared by every
    backend that embeds a split: torch here, ONNX Runtime in ``tools.export_check``)."""
    for i in range(0, len(split.images), batch_size):
        yield eval_batch(split.images[i : i + batch_size], preprocess)


def split_vectors(extractor: "fever.Extractor", split: FerPlusSplit, batch_size: int = 256) -> dict[str, np.ndarray]:
    """D_face vectors and the similarity head's outputs of every face of a split (taken as crops)."""
    embs, sims = [], []
    for x in split_batches(split, extractor.preprocess, batch_size):
        out = extractor.with_flips(x, extractor.model)  # the extractor's precision and test-time flips
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


# The headline probe (unweighted, C = 1) and the paper's (III-B: C = 10000, re-weighted classes).
PROBE = {"C": 1.0, "balanced": False}
PAPER_PROBE = {"C": 10000.0, "balanced": True}
VALID_TRIPLETS = 10000
VALID_TRIPLET_SEED = 12345


def fit_linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    c: float = PROBE["C"],
    balanced: bool = PROBE["balanced"],
    max_iter: int = 3000,
) -> "LogisticProbe":
    """The linear probe on the labelled rows (label >= 0) of ``train_x``."""
    from probes.logistic import LogisticProbe

    keep = train_y >= 0
    return LogisticProbe(C=c, balanced=balanced, max_iter=max_iter).fit(train_x[keep], train_y[keep])


def score_linear_probe(clf: "LogisticProbe", test_x: np.ndarray, test_y: np.ndarray) -> dict[str, float]:
    keep = test_y >= 0
    report = clf.report(test_x[keep], test_y[keep])
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "n_test": report["n"]}


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    c: float = PROBE["C"],
    balanced: bool = PROBE["balanced"],
    max_iter: int = 3000,
) -> dict[str, float]:
    clf = fit_linear_probe(train_x, train_y, c, balanced, max_iter)
    return {**score_linear_probe(clf, test_x, test_y), "n_train": int((train_y >= 0).sum())}


def eval_triplets(split: FerPlusSplit, name: str) -> np.ndarray:
    """The frozen test triplets, or for any other split a fixed draw by the same rule."""
    if name == "test":
        return load_test_triplets(split)
    return sample_triplets(split.distributions, VALID_TRIPLETS, np.random.default_rng(VALID_TRIPLET_SEED))


def score_features(
    train_x: np.ndarray,
    test_x: np.ndarray,
    train: FerPlusSplit,
    test: FerPlusSplit,
    triplets: np.ndarray,
    paper_probe: bool = True,
) -> dict[str, Any]:
    """Every probe and triplet figure of one kind of feature (a model's vectors or a baseline)."""
    ferplus = linear_probe(train_x, train.majority, test_x, test.majority)
    official = linear_probe(train_x, train.official_majority, test_x, test.official_majority)
    fer2013 = linear_probe(train_x, train.fer2013_label, test_x, test.fer2013_label)
    out: dict[str, Any] = {
        "ferplus_accuracy": ferplus["accuracy"],
        "ferplus_macro_f1": ferplus["macro_f1"],
        "ferplus_official_accuracy": official["accuracy"],
        "fer2013_accuracy": fer2013["accuracy"],
        "fer2013_macro_f1": fer2013["macro_f1"],
        "triplet_accuracy": triplet_accuracy(test_x, triplets),
        "n_ferplus": ferplus["n_test"],
        "n_ferplus_official": official["n_test"],
        "n_fer2013": fer2013["n_test"],
        "n_triplets": len(triplets),
    }
    if paper_probe:
        out["ferplus_accuracy_paper_probe"] = linear_probe(train_x, train.majority, test_x, test.majority, **_paper())[
            "accuracy"
        ]
        out["fer2013_accuracy_paper_probe"] = linear_probe(
            train_x, train.fer2013_label, test_x, test.fer2013_label, **_paper()
        )["accuracy"]
    return out


def _paper() -> dict[str, Any]:
    return {"c": PAPER_PROBE["C"], "balanced": PAPER_PROBE["balanced"]}


def evaluate(
    model: str | Path | "fever.FeverModel",
    data_root: str | Path,
    precision: str = "fp32",
    split: str = "test",
    tta: str | None = None,
) -> dict[str, Any]:
    """Every number of the linear evaluation for one model, on FER+ ``split`` (valid or test);
    ``tta``: as for :class:`fever.Extractor` (None: the model's own setting)."""
    return evaluate_with_vectors(model, data_root, precision, split, tta)[0]


def evaluate_with_vectors(
    model: str | Path | "fever.FeverModel",
    data_root: str | Path,
    precision: str = "fp32",
    split: str = "test",
    tta: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`evaluate`, also returning the FER+ train/valid/test vectors and labels it computed."""
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', not {split!r}")
    started = time.time()
    extractor = fever.Extractor(model, device="cpu", precision=precision, tta=tta)
    root = Path(data_root) / "ferplus"
    splits = {name: load_split(root, name) for name in ("train", "valid", "test")}
    vectors = {name: split_vectors(extractor, s) for name, s in splits.items()}
    train, held_out = splits["train"], splits[split]
    triplets = eval_triplets(held_out, split)
    result = score_features(vectors["train"]["embedding"], vectors[split]["embedding"], train, held_out, triplets)
    result["triplet_accuracy_similarity_head"] = triplet_accuracy(vectors[split]["similarity"], triplets)
    data = {name: vectors[name]["embedding"] for name in splits}
    data.update({f"{name}_labels": s.majority for name, s in splits.items()})
    data["class_names"] = list(extractor.config.class_names)
    return {
        "model": extractor.config.name,
        # Several runs share one model name: the table names what was evaluated.
        "source": str(model) if isinstance(model, (str, Path)) else extractor.config.name,
        "split": split,
        "precision": precision,
        "tta": extractor.tta,
        **result,
        "seconds": round(time.time() - started, 1),
    }, data


def evaluate_baselines(data_root: str | Path, split: str = "test") -> list[dict[str, Any]]:
    """Raw pixels and HOG through the same probes, as rows of the same table."""
    root = Path(data_root) / "ferplus"
    train, held_out = load_split(root, "train"), load_split(root, split)
    triplets = eval_triplets(held_out, split)
    rows = []
    for name in BASELINES:
        started = time.time()
        scores = score_features(
            baseline_features(name, train.images),
            baseline_features(name, held_out.images),
            train,
            held_out,
            triplets,
            paper_probe=False,
        )
        rows.append(
            {
                "model": name,
                "source": f"baseline: {name}",
                "split": split,
                **scores,
                "seconds": round(time.time() - started, 1),
            }
        )
    return rows


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


TABLE_COLUMNS = (
    ("FER+ (8 cl., unweighted)", "ferplus_accuracy"),
    ("FER+ official majority", "ferplus_official_accuracy"),
    ("FER2013 (7 cl., unweighted)", "fer2013_accuracy"),
    ("FER+ triplets, D_face", "triplet_accuracy"),
    ("FER+ paper probe (re-weighted)", "ferplus_accuracy_paper_probe"),
    ("FER2013 paper probe", "fer2013_accuracy_paper_probe"),
    ("triplets, 32-d head", "triplet_accuracy_similarity_head"),
)


def format_table(results: list[dict[str, Any]]) -> str:
    """A Markdown table, one row per model or baseline; a figure a row lacks shows as '-'."""
    split = results[0].get("split", "test") if results else "test"
    head = f"| features (FER+ {split}) | " + " | ".join(title for title, _ in TABLE_COLUMNS) + " |"
    lines = [head, "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
    for r in results:
        cells = [pct(r[key]) if key in r else "-" for _, key in TABLE_COLUMNS]
        lines.append(f"| {r.get('source', r['model'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
