"""Turn a detector run into a shippable folder: threshold chosen on valid, test read once, a card.

The face-score threshold is the one setting chosen after training, by the rule of
:func:`distill.onepass.evaluate.choose_threshold` on composite scenes of FER+ *valid* faces. The
folder as saved (fp16 weights) is then evaluated once on FER+ *test* composites and on the
held-out videos, and those figures go into its card; ``fever-distill evaluate-detector FOLDER
--split test --labels ...`` reproduces them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from fever.onepass.detector import OnePassDetector, load_detector, save_detector

from ..checkpoint import read_progress
from .evaluate import (
    choose_threshold,
    eval_scenes,
    evaluate_detector,
    format_detector_results,
    mtcnn_on_scenes,
    real_frame_agreement,
    threshold_sweep,
    two_stage_faces,
)
from .labels import label_sources, read_labels

# 0.02 ... 0.90: the first detector's rule chose 0.10, then the lowest tried, so the grid goes lower
THRESHOLDS = [0.02, 0.04, 0.06, 0.08] + [round(0.1 + 0.05 * i, 2) for i in range(17)]

DESCRIPTION = (
    "fever's one-pass face + expression detector (paper 004's system): trained on composite scenes of "
    "FER+ train faces and on pseudo-labelled real frames and UTKFace photos."
)


def _real_pictures(labels: str) -> str:
    """What the run's labels file holds, read from the file itself (its name says nothing sure)."""
    if not labels or not Path(labels).exists():
        return f"labels file {labels or '(none)'}, not found when this folder was packaged"
    videos, photos = label_sources(labels)
    return (
        f"frames of {', '.join(videos) or 'no video'} and {photos} UTKFace photos ({Path(labels).name}), boxes and "
        "landmarks from MTCNN, expressions from the default embedder and its shipped probe"
    )


def detector_training_record(run: Path) -> dict[str, Any]:
    """What the card says of the run: its settings and how long it took."""
    cfg = json.loads((run / "train_config.json").read_text())
    step = int(read_progress(run / "checkpoint.safetensors")["step"])
    with (run / "steps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    hours = float(rows[-1]["elapsed_s"]) / 3600 if rows else 0.0
    return {
        "started from": (
            f"the detector in {cfg['init_from']} (its tensors that fit; new branches random)"
            if cfg.get("init_from")
            else "random weights"
        ),
        "steps (of planned)": f"{step} of {cfg['steps']}",
        "scenes per step": f"{cfg['batch']} ({cfg['real_fraction']:.0%} pseudo-labelled real pictures, "
        "the rest composites)",
        "composites": f"{cfg['faces_per_scene'][0]}-{cfg['faces_per_scene'][1]} FER+ train faces of "
        f"{cfg['face_sizes'][0]:g}-{cfg['face_sizes'][1]:g} px on no_face.mp4 frames, labels = their votes",
        "real pictures": _real_pictures(cfg.get("labels") or ""),
        "real-picture augmentation": (
            f"size {cfg.get('real_scale', [0.7, 1.0])[0]:g}-{cfg.get('real_scale', [0.7, 1.0])[1]:g} of the "
            f"largest that fits, mirrored with probability {cfg.get('real_flip', 0.0):g}, video frames "
            + (f"{cfg['real_video_share']:.0%} of them" if cfg.get("real_video_share") else "drawn as often as photos")
        ),
        "scene degradation (distill.video_augment)": json.dumps(cfg["scene_video"])
        if cfg.get("scene_video")
        else "none",
        "optimiser": f"AdamW lr {cfg['lr']}, weight decay {cfg['weight_decay']}, {cfg['warmup_steps']} warm-up "
        "steps, cosine to 0",
        "precision": "bf16 autocast, channels_last" if cfg.get("bf16") else "fp32",
        "wall-clock hours (2-core CPU)": round(hours, 2),
        "final training loss": rows[-1]["loss"] if rows else "n/a",
    }


def package_detector(
    run: str | Path,
    out: str | Path,
    labels: str | Path | None,
    data_root: str | Path,
    scenes: int = 300,
    valid_labels: str | Path | None = None,
) -> dict[str, Any]:
    """Choose the threshold on valid scenes, write the folder, evaluate it once on test.

    Args:
        run: a ``fever-distill detector`` run folder (``last/``, checkpoint, config, steps.csv).
        out: the detector folder to write.
        labels: pseudo-labels of the held-out videos (``fever-distill detector-labels --split test``);
            None writes the folder with its valid figures only and reads nothing of test, so that a
            candidate can be compared with the bundled detector on valid before its test is read.
        data_root: the shared datasets.
        scenes: composite scenes of each split.
        valid_labels: pseudo-labels of the valid videos (``--split valid``): the chosen threshold's
            share of MTCNN's faces found there goes into the card beside the composite rule.

    Returns:
        The threshold sweep, the choice and the test results (none without ``labels``).
    """
    run = Path(run)
    trained = load_detector(run / "last")
    valid = eval_scenes(data_root, "valid", scenes)
    sweep = threshold_sweep(trained, valid, THRESHOLDS)
    mtcnn_valid = mtcnn_on_scenes(valid)
    chosen = choose_threshold(sweep, mtcnn_valid["false_faces_per_scene"])
    valid_real = None
    if valid_labels is not None:
        at_threshold = OnePassDetector(trained.net, min_score=chosen["threshold"])
        valid_real = real_frame_agreement(at_threshold, read_labels(valid_labels).to_pylist())
    config = replace(trained.config, min_score=chosen["threshold"], description=DESCRIPTION)
    trained.net.config = config
    record = detector_training_record(run)
    selection = _selection(len(valid), mtcnn_valid, chosen, valid_real)
    summary: dict[str, Any] = {"threshold_sweep_valid": sweep, "mtcnn_valid": mtcnn_valid, "chosen": chosen}
    if valid_real is not None:
        summary["valid_real"] = valid_real
    if labels is None:
        metrics = f"Not read on test yet: valid figures only (`fever-distill evaluate-detector {out}`).\n\n{selection}"
        save_detector(trained.net, out, training=record, metrics=metrics)
        (Path(out) / "evaluation.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    save_detector(trained.net, out, training=record)
    detector = load_detector(out)  # the fp16 folder as shipped
    result = evaluate_detector(
        detector,
        eval_scenes(data_root, "test", scenes),
        read_labels(labels).to_pylist(),
        two_stage=two_stage_faces(out),  # what fever.analyze(..., detector=out) reads from the same boxes
    )
    metrics = (
        f"On {result['scenes']} composite scenes of FER+ **test** faces and on the held-out videos, read once "
        f"(reproduce with `fever-distill evaluate-detector {out} --split test --two-stage --labels LABELS`, "
        "LABELS from `fever-distill detector-labels --split test`):\n\n"
        + format_detector_results(result)
        + "\n\n"
        + selection
    )
    save_detector(detector.net, out, training=record, metrics=metrics)
    summary["test"] = result
    (Path(out) / "evaluation.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _selection(
    scenes: int, mtcnn_valid: dict[str, float], chosen: dict[str, float], valid_real: dict[str, Any] | None
) -> str:
    """The card's sentences on how the threshold was chosen on valid, and what it finds there."""
    selection = (
        f"Threshold rule: the lowest face score whose false faces per scene on {scenes} composite scenes "
        f"of FER+ valid faces are no more than MTCNN's ({mtcnn_valid['false_faces_per_scene']:.3f}; MTCNN "
        f"found {mtcnn_valid['recall']:.2%} of those faces). Chosen: {chosen['threshold']:g} (valid: "
        f"{chosen['recall']:.2%} of the faces found, {chosen['false_faces_per_scene']:.3f} false faces per scene)."
    )
    if valid_real is not None:
        selection += (
            f" On the valid videos' {valid_real['frames']} pictures it finds {valid_real['found_share']:.2%} of "
            f"{valid_real['mtcnn_faces']} MTCNN faces (expression agreement {valid_real['expression_agreement']:.2%})."
        )
    return selection
