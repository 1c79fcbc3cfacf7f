"""Training settings, read from a JSON file (``fever-distill teacher --config run.json``)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    """Defaults are the paper's (III-B) where it gives them; the rest is ours and says so.

    ``epoch_triplets``: what one epoch is. The paper's epoch is a pass over FEC's triplets; ours is
    this many freshly drawn FER+ vote triplets (default: one per FER+ training face).
    """

    phase: str = "teacher"                       # teacher | student
    model: str = "fever-teacher-112"
    overrides: dict[str, Any] = field(default_factory=dict)
    out: str = "runs/teacher-256"
    data_root: str = "../shared/datasets"
    train_data: str = "ferplus"                  # ferplus | folder:PATH | csv:FILE (distill.loaders)
    valid_data: str = "ferplus"
    seed: int = 0
    epochs: int = 13                             # paper: teachers 13, student 18
    epoch_triplets: int = 28561
    lr: float = 0.005                            # paper: SGD, lr 0.005, Nesterov momentum 0.9, no schedule
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_triplets: int = 64                     # paper: 64 + 64 (teacher); 36 + 16 + 16 (student)
    batch_labelled: int = 64
    batch_unlabelled: int = 0
    alpha: float = 0.1                           # weight of the expression cross-entropy
    triplet_margin: float = 0.2                  # FECNet's margin for the triplet loss
    triplet_rule_margin: float = 0.3             # ambiguity margin of the vote-histogram triplet rule
    soft_labels: bool = True                     # CE against the FER+ vote distribution
    rkd_distance: float = 25.0
    rkd_angle: float = 50.0
    distill: bool = True                         # student: False = "student without distillation"
    teachers: list[str] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)   # .npy files of uint8 face crops
    bf16: bool = True
    checkpoint_minutes: float = 3.0
    max_minutes: float = 0.0                     # stop (with a checkpoint) after this long; 0 = no limit
    max_steps: int = 0                           # stop after this many steps in total; 0 = no limit
    val_triplets: int = 5000
    threads: int = 0

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        data = json.loads(Path(path).read_text())
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {unknown}; known: {sorted(known)}")
        cfg = cls(**data)
        if cfg.phase not in ("teacher", "student"):
            raise ValueError(f"phase must be teacher or student, not {cfg.phase!r}")
        if cfg.phase == "student" and cfg.distill and not cfg.teachers:
            raise ValueError("a distilled student needs 'teachers': folders of trained teacher models")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
