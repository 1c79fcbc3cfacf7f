"""Training settings, read from a JSON file (``fever-distill teacher --config run.json``)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .augment import AugmentConfig
from .datasets import default_data_root
from .settings import settings

SCHEDULES = ("constant", "cosine", "onecycle")


@dataclass
class TrainConfig:
    """Defaults are the paper's (III-B) where it gives them; the rest is ours and says so.

    ``epoch_triplets``: what one epoch is with ``triplet_source="sampled"``. The paper's epoch is a
    pass over FEC's triplets; ours is this many freshly drawn FER+ vote triplets (default: one per
    FER+ training face). With ``triplet_source="batch"`` an epoch is one pass over the labelled faces.

    The paper's optimiser settings (constant lr 0.005, no weight decay, 13-18 epochs) fine-tune a
    pretrained FaceNet; from random weights they barely move a network. The from-scratch recipe
    (``distill/configs/*-scratch*.json``) sets ``schedule``, ``warmup_epochs``, ``weight_decay``,
    ``ema_decay``, ``augment`` and ``triplet_source``, and says why in ``reasons``.
    """

    phase: str = "teacher"  # teacher | student
    model: str = "fever-teacher-112"
    overrides: dict[str, Any] = field(default_factory=dict)
    init_from: str = ""  # a model (folder, preset or Hub id) of the same architecture whose weights start the run
    out: str = "runs/teacher-256"
    data_root: str = field(default_factory=default_data_root)
    train_data: str = "ferplus"  # ferplus | folder:PATH | csv:FILE (distill.loaders)
    valid_data: str = "ferplus"
    seed: int = 0
    epochs: int = 13  # paper: teachers 13, student 18
    epoch_triplets: int = 28561
    lr: float = 0.005  # paper: SGD, lr 0.005, Nesterov momentum 0.9, no schedule
    momentum: float = 0.9
    weight_decay: float = 0.0
    decay_norm_and_bias: bool = True  # False: no weight decay on BatchNorm and biases (timm's habit)
    schedule: str = "constant"  # constant (paper) | cosine | onecycle, per step
    warmup_epochs: float = 0.0  # linear (cosine) or cosine (onecycle) ramp from lr/25 to lr
    min_lr: float = 0.0  # lr at the end of a cosine / onecycle schedule
    ema_decay: float = 0.0  # moving average of the weights per step; 0 = off
    triplet_source: str = "sampled"  # sampled (paper: a batch of triplets) | batch (among the labelled batch)
    augment: dict[str, Any] = field(default_factory=dict)  # distill.augment.AugmentConfig fields
    kd_weight: float = 0.0  # students: KL to the teachers' mean softened prediction
    kd_temperature: float = 4.0
    # CE on FER2013's original 7-class labels, from a linear head on the D_face vector that exists
    # only during training (the saved model keeps the paper's heads); 0 = off
    fer2013_weight: float = 0.0
    batch_triplets: int = 64  # paper: 64 + 64 (teacher); 36 + 16 + 16 (student)
    batch_labelled: int = 64
    batch_unlabelled: int = 0
    alpha: float = 0.1  # weight of the expression cross-entropy
    triplet_margin: float = 0.2  # FECNet's margin for the triplet loss
    triplet_rule_margin: float = 0.3  # ambiguity margin of the vote-histogram triplet rule
    soft_labels: bool = True  # CE against the FER+ vote distribution
    rkd_distance: float = 25.0
    rkd_angle: float = 50.0
    distill: bool = True  # student: False = "student without distillation"
    teachers: list[str] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)  # .npy files of uint8 face crops
    bf16: bool = True
    checkpoint_minutes: float = 3.0
    max_minutes: float = 0.0  # stop (with a checkpoint) after this long; 0 = no limit
    max_steps: int = 0  # stop after this many steps in total; 0 = no limit
    val_triplets: int = 5000
    threads: int = 0
    plot: bool = True  # write curves.png (needs matplotlib) after every epoch
    reasons: dict[str, str] = field(default_factory=dict)  # why each setting has its value (documentation)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        data = json.loads(Path(path).read_text())
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        cfg = cls(**settings(cls, data, "training", tuples=False))
        if cfg.phase not in ("teacher", "student"):
            raise ValueError(f"phase must be teacher or student, not {cfg.phase!r}")
        if cfg.phase == "student" and cfg.distill and not cfg.teachers:
            raise ValueError("a distilled student needs 'teachers': folders of trained teacher models")
        if cfg.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, not {cfg.schedule!r}")
        if cfg.triplet_source not in ("sampled", "batch"):
            raise ValueError(f"triplet_source must be 'sampled' or 'batch', not {cfg.triplet_source!r}")
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {cfg.ema_decay}")
        if cfg.fer2013_weight < 0:
            raise ValueError(f"fer2013_weight must be >= 0, not {cfg.fer2013_weight}")
        cfg.augmentation()  # unknown augmentation keys fail here, before any work
        return cfg

    def augmentation(self) -> AugmentConfig:
        return AugmentConfig.from_dict(self.augment)

    def lr_at(self, step: int, total: int, steps_per_epoch: int) -> float:
        """Learning rate of step ``step`` of ``total`` (a pure function of the step: resume is exact)."""
        if self.schedule == "constant":
            return self.lr
        warm = int(self.warmup_epochs * steps_per_epoch)
        start = self.lr / 25
        if step < warm:
            t = step / warm
            ramp = t if self.schedule == "cosine" else (1 - math.cos(math.pi * t)) / 2
            return start + (self.lr - start) * ramp
        t = (step - warm) / max(1, total - warm)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * min(t, 1.0))) / 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
