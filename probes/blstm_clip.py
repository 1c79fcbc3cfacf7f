"""``blstm-clip``: per-frame expression classes from a bidirectional LSTM over 8-frame clips.

Paper 002 (Emotion Recognition for In-the-wild Videos): per-frame features, a BLSTM over clips of
8 consecutive frames giving 7-class logits for every frame; training draws a video uniformly and
then a random contiguous clip; evaluation cuts every video into clips and pads the last one with
zeros; the metric is S = 0.33 accuracy + 0.67 macro-F1 over frames. Option (paper 000, 4.4):
a multi-label sigmoid loss whose per-class weights are inversely proportional to class frequency.
Frames labelled -1 (Aff-Wild2's "unlabelled") are left out of the loss and of the metric.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, ProbeError, state_dim
from .metrics import s_metric
from .registry import register
from .torch_state import EarlyStopping, build_checked, check_sequences, module_state, train_validation


class _ClipNet(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(x)[0])


@register("blstm-clip")
class BlstmClipProbe(Probe):
    def __init__(
        self,
        n_classes: int = 7,
        clip: int = 8,
        hidden: int = 128,
        layers: int = 1,
        lr: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 20,
        steps_per_epoch: int = 20,
        loss: str = "softmax",
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.n_classes, self.clip, self.hidden, self.layers = n_classes, clip, hidden, layers
        self.lr, self.batch_size, self.max_epochs, self.patience = lr, batch_size, max_epochs, patience
        self.steps_per_epoch, self.loss, self.val_fraction, self.seed = steps_per_epoch, loss, val_fraction, seed

    def fit(
        self, X: Sequence[Any], y: Sequence[Any], X_val: Sequence[Any] | None = None, y_val: Sequence[Any] | None = None
    ) -> "BlstmClipProbe":
        if self.loss not in ("softmax", "sigmoid"):
            raise ProbeError(f"loss must be 'softmax' or 'sigmoid', not {self.loss!r}")
        seqs = check_sequences(X, min_length=self.clip, what="videos")
        seqs, labels, vseqs, vlabels = train_validation(
            seqs,
            self._check_labels(seqs, y),
            X_val,
            y_val,
            self._check_labels,
            self.val_fraction,
            self.seed,
            "blstm-clip",
            "videos",
        )
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.dim_ = seqs[0].shape[1]
        counts = np.bincount(np.concatenate(labels)[np.concatenate(labels) >= 0], minlength=self.n_classes).astype(
            np.float64
        )
        # inverse class frequency (classes absent from training get the largest weight seen)
        inv = np.where(counts > 0, counts.sum() / np.maximum(counts, 1), 0)
        inv[counts == 0] = inv.max() if inv.max() > 0 else 1
        self.class_weights_ = (inv / inv.mean()).astype(np.float32)
        self.net_ = _ClipNet(self.dim_, self.hidden, self.layers, self.n_classes)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        stopper = EarlyStopping(self.patience)
        for epoch in range(self.max_epochs):
            self.net_.train()
            for _ in range(self.steps_per_epoch):
                x, t = self._clips(seqs, labels, rng)
                loss = self._loss(self.net_(x), t)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if stopper.update(self._s(vseqs, vlabels), self.net_, epoch):
                break
        self.net_.load_state_dict(stopper.best_state)  # type: ignore[arg-type]
        self.best_epoch_, self.val_s_ = stopper.best_epoch, stopper.best
        return self

    def _clips(self, seqs: list[np.ndarray], labels: list[np.ndarray], rng: np.random.Generator):
        """A video drawn uniformly, then a random contiguous clip of it (paper 002)."""
        xs, ts = [], []
        for _ in range(self.batch_size):
            i = rng.integers(len(seqs))
            start = rng.integers(0, len(seqs[i]) - self.clip + 1)
            xs.append(seqs[i][start : start + self.clip])
            ts.append(labels[i][start : start + self.clip])
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts))

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mask = target >= 0
        if not mask.any():
            return logits.sum() * 0
        z, t = logits[mask], target[mask]
        w = torch.from_numpy(self.class_weights_)
        if self.loss == "softmax":
            return F.cross_entropy(z, t)
        onehot = F.one_hot(t, self.n_classes).float()
        per = F.binary_cross_entropy_with_logits(z, onehot, reduction="none") * w
        return per.mean()

    @torch.no_grad()
    def _logits(self, seqs: list[np.ndarray]) -> list[np.ndarray]:
        """Every video cut into clips, the last one padded with zeros (paper 002's evaluation)."""
        self.net_.eval()
        out = []
        for s in seqs:
            n = len(s)
            pad = (-n) % self.clip
            x = np.concatenate([s, np.zeros((pad, s.shape[1]), np.float32)]).reshape(-1, self.clip, s.shape[1])
            out.append(self.net_(torch.from_numpy(x)).reshape(-1, self.n_classes)[:n].numpy())
        return out

    def _s(self, seqs: list[np.ndarray], labels: list[np.ndarray]) -> float:
        pred = np.concatenate([z.argmax(1) for z in self._logits(seqs)])
        true = np.concatenate(labels)
        keep = true >= 0
        return s_metric(true[keep], pred[keep], self.n_classes)

    def _check_labels(self, seqs: list[np.ndarray], y: Sequence[Any] | None) -> list[np.ndarray]:
        if y is None or len(y) != len(seqs):
            raise ProbeError(f"{len(seqs)} videos but {0 if y is None else len(y)} label sequences")
        out = []
        for i, (s, t) in enumerate(zip(seqs, y)):
            arr = np.asarray(t, np.int64)
            if arr.shape != (len(s),):
                raise ProbeError(
                    f"labels[{i}] has shape {arr.shape}; expected ({len(s)},): one class per frame (-1 = unlabelled)"
                )
            if arr.max(initial=-1) >= self.n_classes or arr.min(initial=0) < -1:
                raise ProbeError(f"labels[{i}] has classes outside 0..{self.n_classes - 1} (or -1 for unlabelled)")
            out.append(arr)
        return out

    def predict_proba(self, X: Sequence[Any]) -> list[np.ndarray]:
        self._check_fitted()
        seqs = check_sequences(X, self.dim_, what="videos")
        if self.loss == "sigmoid":
            return [1 / (1 + np.exp(-z)) for z in self._logits(seqs)]
        return [
            np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
            for z in self._logits(seqs)
        ]

    def predict(self, X: Sequence[Any]) -> list[np.ndarray]:
        return [p.argmax(1) for p in self.predict_proba(X)]

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Paper 002's S = 0.33 Acc + 0.67 macro-F1 over all labelled frames."""
        self._check_fitted()
        seqs = check_sequences(X, self.dim_, what="videos")
        return self._s(seqs, self._check_labels(seqs, y))

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ProbeError("this probe is not fitted yet: call fit(videos, labels) first")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        return {**module_state(self.net_), "class_weights": self.class_weights_}, {
            "dim": self.dim_,
            "val_s": self.val_s_,
            "best_epoch": self.best_epoch_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        self.dim_ = state_dim(extra)
        self.net_ = build_checked(lambda: _ClipNet(self.dim_, self.hidden, self.layers, self.n_classes), arrays)
        self.class_weights_ = arrays["class_weights"]
        self.val_s_, self.best_epoch_ = extra["val_s"], extra["best_epoch"]
