"""``multitask``: emotion, gender, race and age-bin heads on the expression vector.

Paper 001 (Facial Emotion Recognition: a multi-task approach): one trunk, four softmax heads (the
paper's class sets: emotion 7, gender 3, race 3, age bins 0-3, 4-19, 20-39, 40-69, 70+), loss
weights emotion 2, age 4, race 1.5, gender 0.1, early stopping on emotion accuracy and
reduce-on-plateau x0.2 after 5 epochs. Datasets label different subsets, so a missing label (-1)
masks its head's loss. Class sets are settings (UTKFace: gender 2, race 5).

``y`` is an (N, 4) integer array: emotion, gender, race, age bin (see :func:`age_to_bin`), -1 where
unknown.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, ProbeError, check_vectors, state_dim
from .registry import register
from .torch_state import EarlyStopping, build_checked, module_state

HEADS = ("emotion", "gender", "race", "age")
PAPER_AGE_EDGES = (4, 20, 40, 70)  # bins 0-3, 4-19, 20-39, 40-69, 70+


def age_to_bin(ages: Sequence[float], edges: Sequence[int] = PAPER_AGE_EDGES) -> np.ndarray:
    """Years -> bin index (NaN or negative ages -> -1)."""
    a = np.asarray(ages, np.float64)
    out = np.searchsorted(np.asarray(edges), a, side="right")
    return np.where(np.isfinite(a) & (a >= 0), out, -1).astype(np.int64)


class _MultiNet(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float, sizes: Sequence[int]) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout)) if hidden else nn.Identity()
        width = hidden or dim
        self.heads = nn.ModuleList(nn.Linear(width, n) for n in sizes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.trunk(x)
        return [head(h) for head in self.heads]


@register("multitask")
class MultiTaskProbe(Probe):
    def __init__(
        self,
        emotion_classes: int = 7,
        gender_classes: int = 3,
        race_classes: int = 3,
        age_bins: int = 5,
        loss_weights: Sequence[float] = (2.0, 0.1, 1.5, 4.0),
        hidden: int = 256,
        dropout: float = 0.2,
        lr: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 15,
        plateau_patience: int = 5,
        plateau_factor: float = 0.2,
        val_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        self.emotion_classes, self.gender_classes, self.race_classes, self.age_bins = (
            emotion_classes,
            gender_classes,
            race_classes,
            age_bins,
        )
        self.loss_weights, self.hidden, self.dropout, self.lr = loss_weights, hidden, dropout, lr
        self.batch_size, self.max_epochs, self.patience = batch_size, max_epochs, patience
        self.plateau_patience, self.plateau_factor = plateau_patience, plateau_factor
        self.val_fraction, self.seed = val_fraction, seed

    @property
    def _sizes(self) -> list[int]:
        return [self.emotion_classes, self.gender_classes, self.race_classes, self.age_bins]

    def _check_y(self, y: Any, n: int) -> np.ndarray:
        arr = np.asarray(y, np.int64)
        if arr.shape != (n, 4):
            raise ProbeError(
                f"labels must be an ({n}, 4) array of emotion, gender, race, age bin (-1 = unknown); got {arr.shape}"
            )
        for j, (name, size) in enumerate(zip(HEADS, self._sizes)):
            col = arr[:, j]
            if col.max(initial=-1) >= size or col.min(initial=0) < -1:
                raise ProbeError(
                    f"{name} labels must be in 0..{size - 1} or -1, got values {sorted(set(col.tolist()))[:10]}"
                )
        return arr

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> "MultiTaskProbe":
        x = check_vectors(X)
        labels = self._check_y(y, len(x))
        if X_val is None:
            order = np.random.default_rng(self.seed).permutation(len(x))
            n_val = max(1, int(len(x) * self.val_fraction))
            X_val, y_val = x[order[:n_val]], labels[order[:n_val]]
            x, labels = x[order[n_val:]], labels[order[n_val:]]
        xv = check_vectors(X_val, x.shape[1], "validation vectors")
        yv = self._check_y(y_val, len(xv))
        if not (yv[:, 0] >= 0).any():
            raise ProbeError("the validation data has no emotion labels, which early stopping needs")
        torch.manual_seed(self.seed)
        self.dim_ = x.shape[1]
        self.net_ = _MultiNet(self.dim_, self.hidden, self.dropout, self._sizes)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", factor=self.plateau_factor, patience=self.plateau_patience
        )
        stopper = EarlyStopping(self.patience)
        xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
        gen = torch.Generator().manual_seed(self.seed)
        for epoch in range(self.max_epochs):
            self.net_.train()
            for idx in torch.randperm(len(xt), generator=gen).split(self.batch_size):
                loss = self._loss(self.net_(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            acc = self.head_accuracy(xv, yv)["emotion"]
            plateau.step(acc)
            if stopper.update(acc, self.net_, epoch):
                break
        self.net_.load_state_dict(stopper.best_state)  # type: ignore[arg-type]
        self.best_epoch_, self.val_emotion_accuracy_ = stopper.best_epoch, stopper.best
        return self

    def _loss(self, outs: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        total = outs[0].sum() * 0
        for j, (z, w) in enumerate(zip(outs, self.loss_weights)):
            mask = y[:, j] >= 0
            if mask.any():
                total = total + w * F.cross_entropy(z[mask], y[mask, j])
        return total

    @torch.no_grad()
    def predict_proba(self, X: Any) -> dict[str, np.ndarray]:
        self._check_fitted()
        self.net_.eval()
        outs = self.net_(torch.from_numpy(check_vectors(X, self.dim_)))
        return {name: F.softmax(z, dim=1).numpy() for name, z in zip(HEADS, outs)}

    def predict(self, X: Any) -> np.ndarray:
        """(N, 4): emotion, gender, race, age bin."""
        proba = self.predict_proba(X)
        return np.stack([proba[h].argmax(1) for h in HEADS], axis=1)

    def head_accuracy(self, X: Any, y: Any) -> dict[str, float]:
        """Accuracy of each head on the rows that have its label (NaN where none has)."""
        pred = self.predict(X)
        labels = self._check_y(y, len(pred))
        out = {}
        for j, name in enumerate(HEADS):
            keep = labels[:, j] >= 0
            out[name] = float((pred[keep, j] == labels[keep, j]).mean()) if keep.any() else float("nan")
        return out

    def score(self, X: Any, y: Any) -> float:
        """Emotion accuracy (the model-selection metric of paper 001)."""
        return self.head_accuracy(X, y)["emotion"]

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ProbeError("this probe is not fitted yet: call fit(vectors, labels) first")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        return module_state(self.net_), {
            "dim": self.dim_,
            "best_epoch": self.best_epoch_,
            "val_emotion_accuracy": self.val_emotion_accuracy_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        self.dim_ = state_dim(extra)
        self.net_ = build_checked(lambda: _MultiNet(self.dim_, self.hidden, self.dropout, self._sizes), arrays)
        self.best_epoch_, self.val_emotion_accuracy_ = extra["best_epoch"], extra["val_emotion_accuracy"]
