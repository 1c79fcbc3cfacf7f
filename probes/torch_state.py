"""Shared plumbing of the PyTorch probes: state <-> arrays, early stopping, sequence splits."""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .base import ProbeError, check_vectors


def module_state(module: torch.nn.Module, prefix: str = "net.") -> dict[str, np.ndarray]:
    return {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def build_checked(
    factory: Callable[[], torch.nn.Module], arrays: dict[str, np.ndarray], prefix: str = "net."
) -> torch.nn.Module:
    """Build a saved probe's network only once its shapes match the arrays in the file.

    The network is first built on the meta device (no memory), so that parameters in probe.json
    that ask for a far larger network than the saved arrays hold (hidden 4096 x 16 layers: 8.8 GB)
    are refused before anything is allocated; the real network is then no larger than the file.

    Raises:
        ProbeError: naming the first missing, unexpected or misshapen tensor.
    """
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in factory().state_dict().items()}
    saved = {k[len(prefix) :]: tuple(v.shape) for k, v in arrays.items() if k.startswith(prefix)}
    missing = sorted(set(shapes) - set(saved))
    extra = sorted(set(saved) - set(shapes))
    wrong = [
        f"{k}: parameters ask for {shapes[k]}, the file has {saved[k]}"
        for k in shapes
        if k in saved and shapes[k] != saved[k]
    ]
    if missing or extra or wrong:
        first = (
            ([f"{len(missing)} tensors missing (e.g. {missing[0]})"] if missing else [])
            + ([f"{len(extra)} unexpected (e.g. {extra[0]})"] if extra else [])
            + wrong[:1]
        )
        raise ProbeError("the saved network does not match the probe's parameters: " + "; ".join(first))
    module = factory()
    load_module_state(module, arrays, prefix)
    return module


def load_module_state(module: torch.nn.Module, arrays: dict[str, np.ndarray], prefix: str = "net.") -> None:
    module.load_state_dict(
        {k[len(prefix) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    )


class EarlyStopping:
    """Keeps the best state by a validation score (higher is better); stops after ``patience`` epochs
    without improvement."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = -np.inf
        self.best_state: dict[str, Any] | None = None
        self.best_epoch = -1
        self.bad_epochs = 0

    def update(self, score: float, module: torch.nn.Module, epoch: int) -> bool:
        """Record this epoch; True when training should stop."""
        if score > self.best:
            self.best, self.best_epoch, self.bad_epochs = score, epoch, 0
            self.best_state = copy.deepcopy(module.state_dict())
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def check_sequences(
    X: Sequence[Any], dim: int | None = None, min_length: int = 1, what: str = "sequences"
) -> list[np.ndarray]:
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = [X]
    seqs = [check_vectors(x, dim, f"{what}[{i}]") for i, x in enumerate(X)]
    if not seqs:
        raise ProbeError(f"no {what} given")
    dims = {s.shape[1] for s in seqs}
    if len(dims) > 1:
        raise ProbeError(f"{what} have different dimensions {sorted(dims)}")
    short = [i for i, s in enumerate(seqs) if len(s) < min_length]
    if short:
        raise ProbeError(
            f"{what}[{short[0]}] has {len(seqs[short[0]])} frames, shorter than the {min_length} this probe needs "
            f"({len(short)} such sequences); drop them or lower the window/clip length"
        )
    return seqs


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequence indices for training and validation (at least one each when n >= 2)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * fraction))) if n >= 2 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_validation(
    seqs: list[np.ndarray],
    targets: list[np.ndarray],
    X_val: Sequence[Any] | None,
    y_val: Any,
    check_targets: Callable[[list[np.ndarray], Any], list[np.ndarray]],
    fraction: float,
    seed: int,
    probe: str,
    what: str,
    min_length: int = 1,
):
    """(train seqs, train targets, validation seqs, validation targets): the given validation data,
    checked like the training data, or a split of whole sequences when none is given."""
    if X_val is None:
        tr, va = validation_split(len(seqs), fraction, seed)
        if len(va) == 0:
            raise ProbeError(f"{probe} needs validation data: pass X_val/y_val or at least 2 {what}")
        return [seqs[i] for i in tr], [targets[i] for i in tr], [seqs[i] for i in va], [targets[i] for i in va]
    vseqs = check_sequences(X_val, seqs[0].shape[1], min_length, f"validation {what}")
    return seqs, targets, vseqs, check_targets(vseqs, y_val)
