"""Metrics of the papers the probes follow."""

from __future__ import annotations

import numpy as np


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Concordance correlation coefficient (paper 000, 5.1): 2 cov / (var_t + var_p + (mean_t - mean_p)^2)."""
    t, p = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    if len(t) != len(p) or len(t) < 2:
        raise ValueError(f"ccc needs two sequences of the same length >= 2, got {len(t)} and {len(p)}")
    mt, mp = t.mean(), p.mean()
    cov = ((t - mt) * (p - mp)).mean()
    denom = t.var() + p.var() + (mt - mp) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over the classes present in y_true or y_pred."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    m = confusion_matrix(y_true, y_pred, n)
    tp = np.diag(m).astype(np.float64)
    denom = m.sum(0) + m.sum(1)
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=present)
    return float(f1[present].mean()) if present.any() else 0.0


def s_metric(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> float:
    """Paper 002's challenge metric over frames: S = 0.33 accuracy + 0.67 macro-F1."""
    acc = float((np.asarray(y_true) == np.asarray(y_pred)).mean())
    return 0.33 * acc + 0.67 * macro_f1(y_true, y_pred, n_classes)


def triplet_accuracy(embeddings: np.ndarray, triplets: np.ndarray) -> float:
    """Share of (anchor, positive, negative) triplets whose similar pair is closer (L2) than both
    pairs with the odd one out (the FEC protocol of Vemulapalli & Agarwala, 2019)."""
    a, p, n = embeddings[triplets[:, 0]], embeddings[triplets[:, 1]], embeddings[triplets[:, 2]]
    d_ap = np.linalg.norm(a - p, axis=1)
    ok = (d_ap < np.linalg.norm(a - n, axis=1)) & (d_ap < np.linalg.norm(p - n, axis=1))
    return float(ok.mean())
