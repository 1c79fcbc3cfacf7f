"""The teacher ensemble's own accuracy: the ceiling a student distilled from it can reach.

Issue 25 distils the averaged soft predictions of several teachers into the default, so what the
ensemble itself scores on ``valid`` says how far distillation can take the student, and whether
one more teacher is worth its hours. Each member's expression head and the mean of their
probabilities are scored with the same majority rule as training's validation; vote triplets are
scored on each member's similarity head and on the concatenation of the members' normalised
similarity vectors (every member weighing alike).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from probes.metrics import triplet_accuracy

from .evaluate import eval_triplets, split_batches
from .ferplus import load_split
from .trainer import _labelled_accuracy


def member_outputs(model: Any, split: Any, precision: str = "fp32", tta: str | None = None) -> dict[str, Any]:
    """One model's expression logits and normalised similarity vectors on every face of a split."""
    import fever

    extractor = fever.Extractor(model, device="cpu", precision=precision, tta=tta)
    logits, sims = [], []
    for x in split_batches(split, extractor.preprocess):
        out = extractor.with_flips(x, extractor.model)
        logits.append(out.logits.float())
        sims.append(F.normalize(out.similarity.float(), dim=1))
    return {
        "name": extractor.config.name,
        "source": str(model),
        "logits": torch.cat(logits),
        "similarity": torch.cat(sims).numpy(),
    }


def evaluate_ensemble(
    models: list[Any], data_root: str | Path, split: str = "valid", precision: str = "fp32", tta: str | None = None
) -> dict[str, Any]:
    """Score each member and the ensemble on a FER+ split.

    Args:
        models: model folders, presets or Hub ids (at least two).
        data_root: the shared datasets.
        split: ``valid`` to choose teachers; ``test`` only to report once.
        precision, tta: as for :class:`fever.Extractor`.

    Returns:
        ``members`` (name, accuracy, triplet accuracy each) and ``ensemble`` (accuracy of the mean
        probabilities, triplet accuracy of the concatenated similarity vectors).
    """
    if len(models) < 2:
        raise ValueError(f"an ensemble needs at least two models, got {len(models)}")
    faces = load_split(Path(data_root) / "ferplus", split)
    triplets = eval_triplets(faces, split)
    outputs = [member_outputs(m, faces, precision, tta) for m in models]
    members = [
        {
            "model": o["name"],
            "source": o["source"],
            "accuracy": _labelled_accuracy(o["logits"], faces.majority),
            "triplet_accuracy": triplet_accuracy(o["similarity"], triplets),
        }
        for o in outputs
    ]
    mean = torch.stack([torch.softmax(o["logits"], 1) for o in outputs]).mean(0)
    joined = np.concatenate([o["similarity"] for o in outputs], 1) / np.sqrt(len(outputs))
    ensemble = {
        "models": [o["source"] for o in outputs],
        "accuracy": _labelled_accuracy(mean, faces.majority),
        "triplet_accuracy": triplet_accuracy(joined, triplets),
    }
    return {"split": split, "faces": len(faces.images), "members": members, "ensemble": ensemble}


def format_ensemble(result: dict[str, Any]) -> str:
    """A markdown table: one row per member, then the ensemble."""
    lines = [
        f"FER+ {result['split']} ({result['faces']} faces): own expression heads, majority rule",
        "| model | network | accuracy | vote triplets |",
        "|---|---|---|---|",
    ]
    for m in result["members"]:
        lines.append(f"| {m['source']} | {m['model']} | {m['accuracy']:.2%} | {m['triplet_accuracy']:.2%} |")
    e = result["ensemble"]
    lines.append(
        f"| **ensemble of {len(e['models'])}** | mean probabilities; joined vectors | {e['accuracy']:.2%} "
        f"| {e['triplet_accuracy']:.2%} |"
    )
    return "\n".join(lines)
