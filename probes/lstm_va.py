"""``lstm-va``: valence and arousal per frame from a 2-layer LSTM over one track's vectors.

Paper 000 (Facial Emotion Recognition using Deep Residual Networks in Real-World Environments),
section 5.1-5.2: 2-layer LSTM on per-frame features, a 2-unit output (arousal, valence), loss
1 - CCC, Adam with a fixed learning rate, training on windows of a set length, model selection on
validation CCC with early stopping, then the post-processing chain (median filter with a window
searched between 0.04 s and 20 s, centring, scaling, time shift of 0.04 s to 10 s), each step
kept only if it raises validation CCC and then applied unchanged to new data.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from scipy.ndimage import median_filter
from torch import nn

from .base import Probe, ProbeError, state_dim
from .metrics import ccc
from .registry import register
from .torch_state import EarlyStopping, build_checked, check_sequences, module_state, train_validation


class _VANet(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(self.lstm(x)[0]))


def ccc_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - mean CCC over the two outputs, on the valid (unpadded) frames."""
    losses = []
    for j in range(pred.shape[-1]):
        p, t = pred[..., j][mask], target[..., j][mask]
        mp, mt = p.mean(), t.mean()
        cov = ((p - mp) * (t - mt)).mean()
        losses.append(1 - 2 * cov / (p.var(unbiased=False) + t.var(unbiased=False) + (mp - mt) ** 2 + 1e-8))
    return torch.stack(losses).mean()


def _shift(p: np.ndarray, frames: int) -> np.ndarray:
    """Predictions moved forward in time by ``frames`` (the start repeats the first value)."""
    if frames <= 0:
        return p
    return np.concatenate([np.repeat(p[:1], frames, axis=0), p[:-frames]])


@register("lstm-va")
class LstmVAProbe(Probe):
    """Targets are (T, 2) arrays of (valence, arousal) in [-1, 1] per frame; ``fps`` converts the
    post-processing windows from seconds to frames."""

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.1,
        window: int = 64,
        batch_size: int = 16,
        lr: float = 1e-3,
        max_epochs: int = 200,
        patience: int = 20,
        steps_per_epoch: int = 20,
        fps: float = 25.0,
        postprocess: bool = True,
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.hidden, self.layers, self.dropout, self.window = hidden, layers, dropout, window
        self.batch_size, self.lr, self.max_epochs, self.patience = batch_size, lr, max_epochs, patience
        self.steps_per_epoch, self.fps, self.postprocess = steps_per_epoch, fps, postprocess
        self.val_fraction, self.seed = val_fraction, seed

    # -- training ---------------------------------------------------------------------------------
    def fit(
        self, X: Sequence[Any], y: Sequence[Any], X_val: Sequence[Any] | None = None, y_val: Sequence[Any] | None = None
    ) -> "LstmVAProbe":
        seqs = check_sequences(X, min_length=2)
        seqs, targets, vseqs, vtargets = train_validation(
            seqs,
            self._check_targets(seqs, y),
            X_val,
            y_val,
            self._check_targets,
            self.val_fraction,
            self.seed,
            "lstm-va",
            "sequences",
            min_length=2,
        )
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.dim_ = seqs[0].shape[1]
        self.net_ = _VANet(self.dim_, self.hidden, self.layers, self.dropout)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        stopper = EarlyStopping(self.patience)
        self.history_: list[float] = []
        for epoch in range(self.max_epochs):
            self.net_.train()
            for _ in range(self.steps_per_epoch):
                x, t, m = self._windows(seqs, targets, rng)
                loss = ccc_loss(self.net_(x), t, m)
                opt.zero_grad()
                loss.backward()
                opt.step()
            score = self._raw_score(vseqs, vtargets)
            self.history_.append(score)
            if stopper.update(score, self.net_, epoch):
                break
        self.net_.load_state_dict(stopper.best_state)  # type: ignore[arg-type]
        self.best_epoch_, self.val_ccc_ = stopper.best_epoch, stopper.best
        self._fit_postprocessing(vseqs, vtargets)
        return self

    def _windows(self, seqs: list[np.ndarray], targets: list[np.ndarray], rng: np.random.Generator):
        w = self.window
        x = np.zeros((self.batch_size, w, self.dim_), np.float32)
        t = np.zeros((self.batch_size, w, 2), np.float32)
        m = np.zeros((self.batch_size, w), bool)
        for b in range(self.batch_size):
            i = rng.integers(len(seqs))
            n = len(seqs[i])
            start = rng.integers(0, max(1, n - w + 1))
            length = min(w, n)
            x[b, :length] = seqs[i][start : start + length]
            t[b, :length] = targets[i][start : start + length]
            m[b, :length] = True
        return torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(m)

    @staticmethod
    def _check_targets(seqs: list[np.ndarray], y: Sequence[Any] | None) -> list[np.ndarray]:
        if y is None or len(y) != len(seqs):
            raise ProbeError(f"{len(seqs)} sequences but {0 if y is None else len(y)} target sequences")
        out = []
        for i, (s, t) in enumerate(zip(seqs, y)):
            arr = np.asarray(t, np.float32)
            if arr.shape != (len(s), 2):
                raise ProbeError(
                    f"targets[{i}] has shape {arr.shape}; expected ({len(s)}, 2): valence and arousal per frame"
                )
            if not np.isfinite(arr).all():
                raise ProbeError(f"targets[{i}] contains NaN or infinite values")
            out.append(arr)
        return out

    # -- prediction --------------------------------------------------------------------------------
    @torch.no_grad()
    def _raw_predict(self, seqs: list[np.ndarray]) -> list[np.ndarray]:
        self.net_.eval()
        return [self.net_(torch.from_numpy(s)[None])[0].numpy() for s in seqs]

    def _raw_score(self, seqs: list[np.ndarray], targets: list[np.ndarray]) -> float:
        return self._concat_ccc(self._raw_predict(seqs), targets)

    @staticmethod
    def _concat_ccc(preds: list[np.ndarray], targets: list[np.ndarray]) -> float:
        p, t = np.concatenate(preds), np.concatenate(targets)
        return float(np.mean([ccc(t[:, j], p[:, j]) for j in range(2)]))

    def _apply(self, preds: list[np.ndarray], steps: dict[str, Any]) -> list[np.ndarray]:
        out = []
        for p in preds:
            q = p.copy()
            if steps.get("median"):
                q = median_filter(q, size=(int(steps["median"]), 1), mode="nearest")
            if steps.get("bias") is not None:
                q = q + np.asarray(steps["bias"], np.float32)
            if steps.get("scale") is not None:
                mean = q.mean(axis=0, keepdims=True)
                q = (q - mean) * np.asarray(steps["scale"], np.float32) + mean
            if steps.get("shift"):
                q = _shift(q, int(steps["shift"]))
            out.append(q)
        return out

    def _fit_postprocessing(self, seqs: list[np.ndarray], targets: list[np.ndarray]) -> None:
        """Section 5.2: try each step in order, keep it only if validation CCC rises."""
        self.postprocessing_: dict[str, Any] = {}
        if not self.postprocess:
            return
        raw = self._raw_predict(seqs)
        best = self._concat_ccc(raw, targets)

        def frames(seconds: float) -> int:
            return max(1, int(round(seconds * self.fps)))

        max_len = min(len(s) for s in seqs)
        medians = sorted(
            {f | 1 for f in np.unique(np.geomspace(frames(0.04), frames(20), 12).astype(int)) if f | 1 < max_len}
        )
        for w in medians:
            score = self._concat_ccc(self._apply(raw, {**self.postprocessing_, "median": w}), targets)
            if w > 1 and score > best:
                best = score
                self.postprocessing_["median"] = w
        p_all, t_all = np.concatenate(self._apply(raw, self.postprocessing_)), np.concatenate(targets)
        bias = (t_all.mean(axis=0) - p_all.mean(axis=0)).tolist()
        score = self._concat_ccc(self._apply(raw, {**self.postprocessing_, "bias": bias}), targets)
        if score > best:
            best = score
            self.postprocessing_["bias"] = bias
        p_all = np.concatenate(self._apply(raw, self.postprocessing_))
        scale = (t_all.std(axis=0) / np.maximum(p_all.std(axis=0), 1e-6)).tolist()
        score = self._concat_ccc(self._apply(raw, {**self.postprocessing_, "scale": scale}), targets)
        if score > best:
            best = score
            self.postprocessing_["scale"] = scale
        base = dict(self.postprocessing_)
        for s in sorted({frames(x) for x in np.geomspace(0.04, 10, 12)}):
            if s >= max_len:
                break
            score = self._concat_ccc(self._apply(raw, {**base, "shift": s}), targets)
            if score > best:
                best = score
                self.postprocessing_ = {**base, "shift": s}
        self.val_ccc_postprocessed_ = best

    def predict(self, X: Sequence[Any]) -> list[np.ndarray]:
        """(T, 2) valence/arousal per frame for each sequence, post-processed as fitted."""
        self._check_fitted()
        seqs = check_sequences(X, self.dim_)
        return self._apply(self._raw_predict(seqs), self.postprocessing_)

    def score(self, X: Sequence[Any], y: Sequence[Any]) -> float:
        """Mean CCC of valence and arousal over all frames."""
        seqs = check_sequences(X, self.dim_)
        return self._concat_ccc(self.predict(seqs), self._check_targets(seqs, y))

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ProbeError("this probe is not fitted yet: call fit(sequences, targets) first")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        return module_state(self.net_), {
            "dim": self.dim_,
            "postprocessing": self.postprocessing_,
            "val_ccc": self.val_ccc_,
            "best_epoch": self.best_epoch_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        self.dim_ = state_dim(extra)
        self.net_ = build_checked(lambda: _VANet(self.dim_, self.hidden, self.layers, self.dropout), arrays)
        self.postprocessing_ = extra["postprocessing"]
        self.val_ccc_, self.best_epoch_ = extra["val_ccc"], extra["best_epoch"]
