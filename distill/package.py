"""Turn a training run into a shippable model folder: weights, config and a card with measured numbers.

The card's metrics come from :func:`distill.evaluate.evaluate` run on the folder as saved (after
the fp16 rounding of the stored weights), and its training record from the run's own checkpoint
and config, so every figure in it is reproduced by ``fever-distill evaluate FOLDER``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import fever
from fever.errors import FeverError

from .checkpoint import read_progress
from .config import TrainConfig
from .evaluate import TABLE_COLUMNS, evaluate_with_vectors, format_table


def training_record(run: Path) -> dict[str, Any]:
    cfg = TrainConfig.from_dict(json.loads((run / "train_config.json").read_text()))
    progress = read_progress(run / "checkpoint.safetensors")
    # runs record their epoch length; runs older than that used only the sampled-triplet epoch
    steps_per_epoch = progress.get("steps_per_epoch") or max(1, cfg.epoch_triplets // cfg.batch_triplets)
    if cfg.triplet_source == "batch":
        batch = f"{cfg.batch_labelled} labelled faces, up to {cfg.batch_triplets} vote triplets among them"
    else:
        batch = f"{cfg.batch_triplets} triplets + {cfg.batch_labelled} labelled"
    if cfg.phase == "student":
        batch += f" + {cfg.batch_unlabelled} unlabelled"
    schedule = (
        "no schedule"
        if cfg.schedule == "constant"
        else f"{cfg.schedule} schedule, {cfg.warmup_epochs} warm-up epochs, down to {cfg.min_lr}"
    )
    distilled = cfg.phase == "student" and cfg.distill
    loss = f"triplet (margin {cfg.triplet_margin}) + {cfg.alpha} x cross-entropy"
    if distilled:
        loss += f" + {cfg.rkd_distance} x RKD distance + {cfg.rkd_angle} x RKD angle"
        if cfg.kd_weight:
            loss += f" + {cfg.kd_weight} x KL to the teachers (T = {cfg.kd_temperature})"
    if cfg.fer2013_weight:
        loss += f" + {cfg.fer2013_weight} x cross-entropy on FER2013's own labels (a head used in training only)"
    return {
        "phase": cfg.phase
        + ("" if cfg.phase == "teacher" else (" (distilled)" if cfg.distill else " (no distillation)")),
        "started from": cfg.init_from or "random weights",
        "weights from step": progress.get("best_step", progress["step"]),
        "steps run so far": progress["step"],
        "epochs run so far (of planned)": f"{progress['step'] / steps_per_epoch:.2f} of {cfg.epochs}",
        "wall-clock hours (2-core CPU machine shared with other work)": round(progress["elapsed_s"] / 3600, 2),
        "optimiser": f"SGD Nesterov, momentum {cfg.momentum}, lr {cfg.lr}, {schedule}, weight decay {cfg.weight_decay}"
        + ("" if cfg.decay_norm_and_bias else " (not on BatchNorm and biases)"),
        "weights kept": f"moving average, decay {cfg.ema_decay}" if cfg.ema_decay else "the trained weights",
        "augmentation": ", ".join(f"{k} {v}" for k, v in cfg.augmentation().to_dict().items()),
        "batch": batch,
        "loss": loss,
        "teachers": ", ".join(Path(t).name for t in cfg.teachers) or "none",
        "labelled data": cfg.train_data + " train",
        "unlabelled data": ", ".join(Path(u).name for u in cfg.unlabelled) or "none",
    }


def fit_expression_probe(folder: Path, vectors: dict[str, Any]) -> dict[str, Any]:
    """The ``logistic`` probe that ``fever.analyze`` uses, and its figures for the card.

    Fitted on the model's FER+ train vectors (8 classes, majority labels) without class re-weighting,
    so that labels follow how often expressions occur (the paper's re-weighted probe turns neutral
    faces into contempt); calibrated on FER+ valid by temperature scaling so that its probabilities
    can be read as such; scored once on FER+ test, with each class's recall.
    """
    import numpy as np

    from .evaluate import PROBE, fit_linear_probe

    names = np.asarray(vectors["class_names"])
    tr, va, te = (vectors[f"{s}_labels"] >= 0 for s in ("train", "valid", "test"))
    probe = fit_linear_probe(vectors["train"], vectors["train_labels"])
    probe.classes_ = names[probe.classes_]  # store class names, not indices
    temperature = probe.calibrate(vectors["valid"][va], names[vectors["valid_labels"][va]])
    probe.save(Path(folder) / "probes" / "logistic")
    report = probe.report(vectors["test"][te], names[vectors["test_labels"][te]])
    matrix = np.asarray(report["confusion_matrix"], np.float64)
    recall = np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
    trained = (
        f"logistic, C = {PROBE['C']}, unweighted, fitted on {int(tr.sum())} FER+ train vectors, "
        f"temperature {temperature:.2f} from FER+ valid"
    )
    return {
        f"bundled expression probe of fever.analyze ({trained}): FER+ test accuracy": report["accuracy"],
        "bundled expression probe: FER+ test macro-F1": report["macro_f1"],
        **{f"bundled expression probe: FER+ test recall of {c}": float(r) for c, r in zip(report["classes"], recall)},
    }


# what every row of a comparison file has (baseline rows have no paper-probe or head figures)
TABLE_KEYS = tuple(key for _, key in TABLE_COLUMNS[:4])


class ComparisonFileError(FeverError, ValueError):
    """The ``--compare`` file is missing or is not ``fever-distill evaluate --json`` output."""


def comparison_table(path: str | Path) -> str:
    """The card's table of related runs from a ``fever-distill evaluate --json`` file; read before
    the minutes of evaluation so that a wrong file fails at once, naming the file."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ComparisonFileError(f"{path}: cannot read the comparison file ({exc})") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ComparisonFileError(
            f"{path}: a comparison file is the list of results `fever-distill evaluate --json` writes"
        )
    for i, r in enumerate(rows):
        missing = [k for k in ("model", *TABLE_KEYS) if k not in r]
        if missing:
            raise ComparisonFileError(
                f"{path}: result {i} lacks {', '.join(missing)} (write it with `fever-distill evaluate --json`)"
            )
    return (
        f"`fever-distill evaluate` on related runs ({path.name}), linear probes on frozen vectors:\n\n"
        + format_table(rows)
    )


def package(
    run: str | Path,
    out: str | Path,
    data_root: str | Path,
    name: str | None = None,
    description: str | None = None,
    margin: float | None = None,
    dtype: torch.dtype = torch.float16,
    compare: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a run's best model and write it as a Hub folder whose card carries the results;
    ``compare``: a ``fever-distill evaluate --json`` file of related runs, shown as a table in the card."""
    comparison = comparison_table(compare) if compare is not None else None
    run = Path(run)
    best = fever.load(run / "best")
    cfg = best.config
    pre = cfg.preprocess if margin is None else replace(cfg.preprocess, margin=margin)
    cfg = replace(cfg, name=name or cfg.name, description=description or cfg.description, preprocess=pre)
    model = fever.FeverModel(cfg)
    model.load_state_dict(best.state_dict())
    record = training_record(run)
    folder = model.save_pretrained(out, training=record, dtype=dtype)
    results, vectors = evaluate_with_vectors(folder, data_root)
    probe_metrics = fit_expression_probe(folder, vectors)
    metrics = {
        "FER+ test accuracy, 8 classes (linear probe, unweighted, majority labels)": results["ferplus_accuracy"],
        "FER+ test accuracy, 8 classes (FER+ paper's official majority protocol)": results["ferplus_official_accuracy"],
        "FER+ test macro-F1, 8 classes": results["ferplus_macro_f1"],
        "FER2013 test accuracy, 7 classes (linear probe, unweighted)": results["fer2013_accuracy"],
        "FER+ test accuracy, DeepFEVER's probe (C = 10000, classes re-weighted)": results[
            "ferplus_accuracy_paper_probe"
        ],
        "FER2013 test accuracy, DeepFEVER's probe": results["fer2013_accuracy_paper_probe"],
        "FER+ test triplet accuracy (D_face vectors, 10,000 frozen triplets)": results["triplet_accuracy"],
        "FER+ test triplet accuracy (32-d similarity head)": results["triplet_accuracy_similarity_head"],
        **probe_metrics,
        "reproduce with": f"`fever-distill evaluate {folder}`",
    }
    reloaded = fever.load(folder)
    reloaded.save_pretrained(folder, metrics=metrics, training=record, dtype=dtype, comparison=comparison)
    return {"folder": str(folder), "metrics": results, "training": record}
