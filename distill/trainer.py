"""The training loop of Algorithm 1 (teachers) and II-B (students), resumable and DDP-ready."""

from __future__ import annotations

import csv
import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import fever
from fever.device import fast_bf16_cpu
from fever.models import FeverModel
from probes.metrics import triplet_accuracy

from .augment import augment_batch, eval_batch, mix_batch
from .checkpoint import load_checkpoint, save_checkpoint, truncate_logs
from .config import TrainConfig
from .curves import plot_curves
from .ferplus import FER2013_CLASSES
from .loaders import load_source
from .losses import (
    distillation_target,
    fec_triplet_loss,
    kd_loss,
    rkd_angle_loss,
    rkd_distance_loss,
    soft_cross_entropy,
)
from .triplets import sample_triplets

STEP_FIELDS = [
    "step",
    "epoch",
    "loss",
    "triplet",
    "ce",
    "rkd_distance",
    "rkd_angle",
    "kd",
    "fer2013",
    "lr",
    "img_per_s",
    "elapsed_s",
]
EPOCH_FIELDS = [
    "epoch",
    "step",
    "lr",
    "train_loss",
    "val_accuracy",
    "val_triplet_accuracy",
    "val_score",
    "val_accuracy_raw",
    "val_triplet_accuracy_raw",
    "val_fer2013_accuracy",
    "elapsed_s",
]
# Rounds of in-batch triplet draws before settling for fewer triplets than asked.
BATCH_TRIPLET_ROUNDS = 8


def _labelled_accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    """Accuracy of the arg-max over the faces that have a label (-1 marks none)."""
    pred = logits.argmax(1).numpy()
    return float((pred[labels >= 0] == labels[labels >= 0]).mean())


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """One run: builds the model, draws every batch from (seed, step), checkpoints, logs, validates."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.rank, self.world = _rank_world()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        # bf16 only where the CPU computes it (emulated bf16 is 20x slower than fp32)
        self.bf16 = cfg.bf16 and fast_bf16_cpu()
        self.bf16_note = "" if self.bf16 == cfg.bf16 else "bf16 asked, but this CPU has no AVX512-BF16/AMX: fp32"
        torch.manual_seed(cfg.seed)
        self.model: FeverModel = fever.create_model(cfg.model, **cfg.overrides)
        if cfg.init_from:
            self._init_from(cfg.init_from)
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.pre = self.model.config.preprocess
        self.ddp: torch.nn.Module = self.model
        if self.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model)
        # FER2013's own labels through a training-only head: the vector learns what separates them
        self.fer2013_head: torch.nn.Linear | None = None
        if cfg.fer2013_weight > 0:
            self.fer2013_head = torch.nn.Linear(self.model.config.d_face, len(FER2013_CLASSES))
        self.optimizer = torch.optim.SGD(
            self._param_groups(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
        )
        self.ema: AveragedModel | None = None
        if cfg.ema_decay > 0:
            # BatchNorm statistics are averaged too (use_buffers), so the average is a usable network
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.aug = cfg.augmentation()
        names = self.model.config.class_names
        self.train = load_source(cfg.train_data, "train", cfg.data_root, self.pre, names)
        self.valid = load_source(cfg.valid_data, "valid", cfg.data_root, self.pre, names)
        self.train_dist = self.train.distributions
        self.labelled = np.flatnonzero(self.train.votes[:, :8].sum(1) > 0)
        if self.fer2013_head is not None and (self.train.fer2013_label[self.labelled] < 0).all():
            raise ValueError(f"fer2013_weight > 0, but the training data {cfg.train_data!r} has no FER2013 labels")
        self.val_triplets = sample_triplets(
            self.valid.distributions, cfg.val_triplets, np.random.default_rng(12345), cfg.triplet_rule_margin
        )
        self.unlabelled = self._load_unlabelled()
        self.teachers = [fever.load(t).eval() for t in cfg.teachers] if cfg.phase == "student" and cfg.distill else []
        if cfg.triplet_source == "batch":
            self.steps_per_epoch = max(1, len(self.labelled) // cfg.batch_labelled)
        else:
            self.steps_per_epoch = max(1, cfg.epoch_triplets // cfg.batch_triplets)
        self.progress: dict[str, Any] = {
            "step": 0,
            "best_score": -1.0,
            "elapsed_s": 0.0,
            "epoch_loss_sum": 0.0,
            "epoch_loss_steps": 0,
            "steps_per_epoch": self.steps_per_epoch,
        }
        self.ckpt = self.out / "checkpoint.safetensors"
        if self.ckpt.exists():
            self.progress = {
                **self.progress,
                **load_checkpoint(self.ckpt, self.model, self.optimizer, self.ema, self.training_heads),
            }
            self._log(f"resumed from {self.ckpt} at step {self.progress['step']}")
            self._truncate_logs(int(self.progress["step"]))
        (self.out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")

    def _init_from(self, source: str) -> None:
        """Start from trained weights of the same architecture (a resumed run then loads its checkpoint)."""
        start = fever.load(source).state_dict()
        own = self.model.state_dict()
        wrong = sorted(k for k in own if k not in start or start[k].shape != own[k].shape)
        extra = sorted(set(start) - set(own))
        if wrong or extra:
            raise ValueError(
                f"init_from {source!r} is not a {self.cfg.model} with these overrides: "
                f"{len(wrong) + len(extra)} tensors missing, extra or shaped otherwise (first: {(wrong or extra)[0]})"
            )
        self.model.load_state_dict({k: v.to(own[k].dtype) for k, v in start.items()})

    @property
    def training_heads(self) -> dict[str, torch.nn.Module]:
        """Heads that only training has: optimised and checkpointed, never saved with the model."""
        return {"fer2013": self.fer2013_head} if self.fer2013_head is not None else {}

    def _param_groups(self) -> list[dict[str, Any]]:
        """With ``decay_norm_and_bias`` off, BatchNorm weights and biases are not decayed (1-d tensors)."""
        params = list(self.model.parameters())
        for head in self.training_heads.values():
            params += list(head.parameters())
        if self.cfg.decay_norm_and_bias:
            return [{"params": params}]
        return [
            {"params": [p for p in params if p.ndim > 1]},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
        ]

    @property
    def total_steps(self) -> int:
        total = self.cfg.epochs * self.steps_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    # -- data ------------------------------------------------------------------------------------------
    def _load_unlabelled(self) -> np.ndarray | None:
        if not self.cfg.unlabelled or self.cfg.batch_unlabelled == 0:
            return None
        arrays = [np.load(p, allow_pickle=False) for p in self.cfg.unlabelled]
        return np.concatenate(arrays)

    def _labelled_indices(self, step: int, count: int) -> np.ndarray:
        """Loop over the labelled faces, reshuffled at every loop (paper footnote 3)."""
        n = len(self.labelled)
        start = step * count
        out = []
        for pos in range(start, start + count):
            loop, offset = divmod(pos, n)
            perm = np.random.default_rng([self.cfg.seed, 7, loop]).permutation(n)
            out.append(self.labelled[perm[offset]])
        return np.asarray(out)

    def _fer2013_targets(self, lab: np.ndarray) -> torch.Tensor:
        """One-hot FER2013 labels of faces ``lab`` (all-zero rows where the label is unknown)."""
        labels = torch.from_numpy(self.train.fer2013_label[lab])
        onehot = torch.zeros(len(lab), len(FER2013_CLASSES))
        known = labels >= 0
        onehot[known, labels[known]] = 1.0
        return onehot

    def batch(self, step: int) -> dict[str, Any]:
        """Every random choice of step ``step`` comes from (seed, step): resume is exact."""
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, step])
        sl = slice(self.rank, None, self.world)  # each DDP rank takes its share of every part
        n_classes = self.train_dist.shape[1]
        y13: torch.Tensor | None = None
        if cfg.triplet_source == "batch":
            lab = self._labelled_indices(step, cfg.batch_labelled)
            x = augment_batch(self.train.images[lab], self.pre, rng, self.aug)
            y = torch.from_numpy(self.train_dist[lab])
            if self.fer2013_head is not None:  # mixed with the same weights as the votes
                y = torch.cat([y, self._fer2013_targets(lab)], 1)
            x, y = mix_batch(x, y, rng, self.aug)
            x, y = x[sl], y[sl]
            if self.fer2013_head is not None:
                y, y13 = y[:, :n_classes], y[:, n_classes:]
            # the vote-triplet rule applied to the batch's own (possibly mixed) vote distributions
            trip = sample_triplets(
                y.numpy(), cfg.batch_triplets, rng, cfg.triplet_rule_margin, max_rounds=BATCH_TRIPLET_ROUNDS
            )
            parts = {"x_trip": x[:0], "x_lab": x, "y": y, "batch_triplets": torch.from_numpy(trip)}
            parts["y_fer2013"] = y13
        else:
            trip = sample_triplets(self.train_dist, cfg.batch_triplets, rng, cfg.triplet_rule_margin)
            lab = self._labelled_indices(step, cfg.batch_labelled)
            x = augment_batch(self.train.images[np.concatenate([trip.reshape(-1), lab])], self.pre, rng, self.aug)
            if cfg.soft_labels:
                y = torch.from_numpy(self.train_dist[lab])
            else:
                y = torch.from_numpy(self.train.majority[lab]).clamp(min=0)
            n_t = len(trip) * 3
            parts = {
                "x_trip": x[:n_t].view(len(trip), 3, *x.shape[1:])[sl].reshape(-1, *x.shape[1:]),
                "x_lab": x[n_t:][sl],
                "y": y[sl],
                "batch_triplets": None,
                "y_fer2013": self._fer2013_targets(lab)[sl] if self.fer2013_head is not None else None,
            }
        parts["x_unl"] = parts["x_lab"][:0]
        if self.unlabelled is not None:
            # unlabelled crops may have another size than FER+'s 48 px: augmented on their own,
            # both come out at the model's input size
            extra = self.unlabelled[rng.integers(0, len(self.unlabelled), cfg.batch_unlabelled)]
            parts["x_unl"] = augment_batch(extra, self.pre, rng, self.aug)[sl]
        return parts

    # -- one step --------------------------------------------------------------------------------------
    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else nullcontext()

    def step(self, step: int) -> dict[str, float]:
        cfg = self.cfg
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout of step k is fixed too
        # the schedule spans the configured epochs; max_steps / max_minutes only stop early
        lr = cfg.lr_at(step, cfg.epochs * self.steps_per_epoch, self.steps_per_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        b = self.batch(step)
        x = torch.cat([b["x_trip"], b["x_lab"], b["x_unl"]]).contiguous(memory_format=torch.channels_last)
        n_t, n_l = len(b["x_trip"]), len(b["x_lab"])
        self.ddp.train()
        with self.autocast():
            out = self.ddp(x)
        if b["batch_triplets"] is not None:
            t = b["batch_triplets"]
            sim = out.similarity[n_t : n_t + n_l].float()
            l_trip = (
                fec_triplet_loss(sim[t[:, 0]], sim[t[:, 1]], sim[t[:, 2]], cfg.triplet_margin)
                if len(t)
                else sim.sum() * 0
            )
        else:
            sim = out.similarity[:n_t].float().view(-1, 3, out.similarity.shape[1])
            l_trip = fec_triplet_loss(sim[:, 0], sim[:, 1], sim[:, 2], cfg.triplet_margin)
        l_ce = soft_cross_entropy(out.logits[n_t : n_t + n_l], b["y"])
        loss = l_trip + cfg.alpha * l_ce
        parts = {"triplet": l_trip.item(), "ce": l_ce.item(), "rkd_distance": 0.0, "rkd_angle": 0.0, "kd": 0.0}
        if self.fer2013_head is not None:
            l_13 = self._fer2013_loss(out.embedding[n_t : n_t + n_l], b["y_fer2013"])
            loss = loss + cfg.fer2013_weight * l_13
            parts["fer2013"] = l_13.item()
        if self.teachers:
            with torch.no_grad(), self.autocast():
                outputs = [t(self._resize_for(t, x)) for t in self.teachers]
            target = distillation_target([(o.similarity, o.logits) for o in outputs])
            student = out.distill.float()
            l_d = rkd_distance_loss(student, target)
            l_a = rkd_angle_loss(student, target)
            loss = loss + cfg.rkd_distance * l_d + cfg.rkd_angle * l_a
            parts.update(rkd_distance=l_d.item(), rkd_angle=l_a.item())
            if cfg.kd_weight > 0:
                l_kd = kd_loss(out.logits.float(), [o.logits.float() for o in outputs], cfg.kd_temperature)
                loss = loss + cfg.kd_weight * l_kd
                parts["kd"] = l_kd.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.world > 1:  # DDP averages the model's gradients; training heads are averaged here
            for head in self.training_heads.values():
                for p in head.parameters():
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= self.world
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        parts["loss"] = loss.item()
        parts["lr"] = lr
        return parts

    def _fer2013_loss(self, embedding: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Soft CE of the training-only FER2013 head, over the faces whose label is known."""
        assert self.fer2013_head is not None
        rows = target.sum(1) > 0
        if not rows.any():
            return embedding.sum() * 0
        self.fer2013_head.train()
        h = F.dropout(embedding[rows].float(), p=self.model.config.dropout, training=True)
        return soft_cross_entropy(self.fer2013_head(h), target[rows])

    @staticmethod
    def _resize_for(teacher: FeverModel, x: torch.Tensor) -> torch.Tensor:
        """The same augmented faces at the teacher's own input size (both normalise alike)."""
        size = teacher.config.preprocess.input_size
        if x.shape[-1] == size:
            return x
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    # -- validation ------------------------------------------------------------------------------------
    @property
    def kept_model(self) -> FeverModel:
        """The network that is validated and saved: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model  # type: ignore[return-value]

    @torch.no_grad()
    def validate(self, model: FeverModel | None = None) -> dict[str, float]:
        model = model or self.kept_model
        model.eval()
        sims, logits, embeddings = [], [], []
        for i in range(0, len(self.valid.images), 256):
            x = eval_batch(self.valid.images[i : i + 256], self.pre).contiguous(memory_format=torch.channels_last)
            with self.autocast():
                o = model(x)
            sims.append(F.normalize(o.similarity.float(), dim=1))
            logits.append(o.logits.float())
            embeddings.append(o.embedding.float())
        acc = _labelled_accuracy(torch.cat(logits), self.valid.majority)
        trip = triplet_accuracy(torch.cat(sims).numpy(), self.val_triplets)
        metrics = {"val_accuracy": acc, "val_triplet_accuracy": trip, "val_score": (acc + trip) / 2}
        if self.fer2013_head is not None:
            self.fer2013_head.eval()
            logits13 = self.fer2013_head(torch.cat(embeddings))
            metrics["val_fer2013_accuracy"] = _labelled_accuracy(logits13, self.valid.fer2013_label)
        return metrics

    # -- the loop --------------------------------------------------------------------------------------
    def _log(self, msg: str) -> None:
        if self.rank == 0:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def _append_csv(self, name: str, fields: list[str], row: dict[str, Any]) -> None:
        """Append one row; a file that exists keeps its own columns (a run resumed by newer code)."""
        if self.rank != 0:
            return
        path = self.out / name
        new = not path.exists()
        if not new:
            with path.open(newline="") as fh:
                fields = next(csv.reader(fh), fields)
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _truncate_logs(self, step: int) -> None:
        """Drop log rows written after the checkpoint, so that a resumed run logs each step once."""
        if self.rank == 0:
            truncate_logs(self.out, ("steps.csv", "epochs.csv"), step)

    def _checkpoint(self) -> None:
        if self.rank == 0:
            save_checkpoint(self.ckpt, self.model, self.optimizer, self.progress, self.ema, self.training_heads)

    def _end_of_epoch(self, step: int, elapsed: float, lr: float) -> None:
        metrics = self.validate()
        if self.ema is not None:
            raw = self.validate(self.model)
            metrics.update(val_accuracy_raw=raw["val_accuracy"], val_triplet_accuracy_raw=raw["val_triplet_accuracy"])
        n = max(1, int(self.progress["epoch_loss_steps"]))
        self._append_csv(
            "epochs.csv",
            EPOCH_FIELDS,
            {
                "epoch": f"{step / self.steps_per_epoch:.2f}",
                "step": step,
                "lr": f"{lr:.6f}",
                "train_loss": f"{self.progress['epoch_loss_sum'] / n:.4f}",
                **{k: f"{v:.4f}" for k, v in metrics.items()},
                "elapsed_s": f"{elapsed:.1f}",
            },
        )
        self.progress.update(epoch_loss_sum=0.0, epoch_loss_steps=0)
        self._log("validation " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        if metrics["val_score"] > self.progress["best_score"] and self.rank == 0:
            self.progress["best_score"] = metrics["val_score"]
            self.progress["best_step"] = step
            self.kept_model.save_pretrained(
                self.out / "best",
                metrics={
                    "FER+ valid accuracy (8-class head)": metrics["val_accuracy"],
                    "FER+ valid triplet accuracy (32-d head)": metrics["val_triplet_accuracy"],
                },
                training={
                    "steps": step,
                    "epochs": round(step / self.steps_per_epoch, 2),
                    "wall_clock_hours": round(elapsed / 3600, 2),
                    "phase": self.cfg.phase,
                },
            )
        if self.cfg.plot and self.rank == 0:
            plot_curves(self.out)

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        total = self.total_steps
        started = time.time()
        base_elapsed = float(self.progress["elapsed_s"])
        last_ckpt = time.time()
        step = int(self.progress["step"])
        self._log(f"{cfg.phase} {cfg.model}: step {step}/{total}, {self.steps_per_epoch} steps per epoch")
        if self.bf16_note:
            self._log(self.bf16_note)
        while step < total:
            t0 = time.time()
            parts = self.step(step)
            step += 1
            elapsed = base_elapsed + time.time() - started
            self.progress.update(step=step, elapsed_s=elapsed)
            self.progress["epoch_loss_sum"] += parts["loss"]
            self.progress["epoch_loss_steps"] += 1
            n_img = (
                3 * cfg.batch_triplets * (cfg.triplet_source == "sampled")
                + cfg.batch_labelled
                + (cfg.batch_unlabelled if self.unlabelled is not None else 0)
            )
            self._append_csv(
                "steps.csv",
                STEP_FIELDS,
                {
                    **{k: f"{v:.5f}" for k, v in parts.items() if k != "lr"},
                    "step": step,
                    "epoch": f"{step / self.steps_per_epoch:.3f}",
                    "lr": f"{parts['lr']:.6f}",
                    "img_per_s": f"{n_img / (time.time() - t0):.1f}",
                    "elapsed_s": f"{elapsed:.1f}",
                },
            )
            if step % 20 == 0:
                self._log(
                    f"step {step} epoch {step / self.steps_per_epoch:.2f} "
                    + " ".join(f"{k}={v:.4f}" for k, v in parts.items())
                )
            if step % self.steps_per_epoch == 0 or step == total:
                self._end_of_epoch(step, elapsed, parts["lr"])
                self._checkpoint()
                last_ckpt = time.time()
            elif time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                self._checkpoint()
                last_ckpt = time.time()
            if cfg.max_minutes and time.time() - started > cfg.max_minutes * 60:
                self._checkpoint()
                self._log(f"time budget reached at step {step}; resume with the same command")
                break
        else:
            self._checkpoint()
        if self.world > 1:
            self._check_sync()
        return self.progress

    def _check_sync(self) -> None:
        """Every rank hashes its parameters; rank 0 writes the digests to sync_check.json (all must be equal).

        BatchNorm running statistics are left out: each rank updates them on its own shard and DDP
        broadcasts rank 0's at every forward pass, and rank 0's are the ones saved.
        """
        import hashlib

        params = dict(self.model.named_parameters())
        for name, head in self.training_heads.items():
            params.update({f"aux.{name}.{k}": v for k, v in head.named_parameters()})
        digest = hashlib.sha256(
            b"".join(params[k].detach().cpu().contiguous().numpy().tobytes() for k in sorted(params))
        ).hexdigest()
        digests: list[str | None] = [None] * self.world
        dist.all_gather_object(digests, digest)
        if self.rank == 0:
            (self.out / "sync_check.json").write_text(
                json.dumps({"step": self.progress["step"], "digests": digests}) + "\n"
            )
        if len(set(digests)) != 1:
            raise RuntimeError(f"DDP ranks diverged: weight digests {digests}")
