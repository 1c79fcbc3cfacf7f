"""``logistic``: the linear evaluation of DeepFEVER (III-B, III-C).

scikit-learn logistic regression on standardised vectors, C = 10000 by default, classes optionally
re-weighted to equal representation (as the paper does for AffectNet). Prediction runs on the
stored coefficients with numpy, so a saved probe needs no pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import Probe, ProbeError, check_vectors, state_dim
from .metrics import confusion_matrix, macro_f1
from .registry import register


@register("logistic")
class LogisticProbe(Probe):
    def __init__(self, C: float = 10000.0, balanced: bool = True, max_iter: int = 3000) -> None:
        self.C = C
        self.balanced = balanced
        self.max_iter = max_iter

    def fit(self, X: Any, y: Sequence[Any]) -> "LogisticProbe":
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        x = check_vectors(X)
        labels = np.asarray(y)
        if len(labels) != len(x):
            raise ProbeError(f"{len(x)} vectors but {len(labels)} labels")
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ProbeError(f"need at least 2 classes to fit, got {list(self.classes_)}")
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0) + 1e-6
        clf = LogisticRegression(C=self.C, class_weight="balanced" if self.balanced else None, max_iter=self.max_iter)
        # lbfgs on (N, D) vectors makes many small BLAS calls: one thread is as fast alone and does not
        # thrash next to another busy process (140 ms against 2 ms per iteration measured on 2 cores)
        with threadpool_limits(limits=1, user_api="blas"):
            clf.fit((x - self.mean_) / self.scale_, labels)
        coef, intercept = clf.coef_, clf.intercept_
        if len(self.classes_) == 2:  # sklearn's binary form -> the 2-class softmax form
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef.astype(np.float64), intercept.astype(np.float64)
        self.n_features_in_ = x.shape[1]
        return self

    def calibrate(self, X: Any, y: Sequence[Any]) -> float:
        """Temperature scaling (Guo et al. 2017) on held-out data: one T > 0 that makes the
        probabilities honest (lowest log-loss on ``X, y``), folded into the coefficients.

        The predicted class never changes (all logits are divided by the same T).

        Args:
            X: held-out vectors (e.g. FER+ valid), not the ones the probe was fitted on.
            y: their labels.

        Returns:
            The temperature; the probe keeps it in ``temperature_`` (product over calls).
        """
        from scipy.optimize import minimize_scalar

        labels = self._check_labels(y)
        z = self.decision_function(X)
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        t = np.array([index[c] for c in labels.tolist()])

        def nll(log_temp: float) -> float:
            s = z / np.exp(log_temp)
            s = s - s.max(axis=1, keepdims=True)
            return float((np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(t)), t]).mean())

        best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
        temperature = float(np.exp(best.x))
        self.coef_ = self.coef_ / temperature
        self.intercept_ = self.intercept_ / temperature
        self.temperature_ = getattr(self, "temperature_", 1.0) * temperature
        return temperature

    def decision_function(self, X: Any) -> np.ndarray:
        self._check_fitted()
        x = check_vectors(X, self.n_features_in_)
        return ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.decision_function(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        best = self.decision_function(X).argmax(axis=1)  # checks fitted and input first
        return self.classes_[best]

    def score(self, X: Any, y: Sequence[Any]) -> float:
        labels = self._check_labels(y)
        return float((self.predict(X) == labels).mean())

    def report(self, X: Any, y: Sequence[Any]) -> dict[str, Any]:
        """Accuracy, macro-F1 and the confusion matrix (rows: true class, columns: predicted)."""
        labels = self._check_labels(y)
        pred = self.predict(X)
        index = {c: i for i, c in enumerate(self.classes_)}
        t = np.array([index[c] for c in labels])
        p = np.array([index[c] for c in pred])
        return {
            "accuracy": float((t == p).mean()),
            "macro_f1": macro_f1(t, p, len(self.classes_)),
            "confusion_matrix": confusion_matrix(t, p, len(self.classes_)).tolist(),
            "classes": [str(c) for c in self.classes_],
            "n": int(len(t)),
        }

    def plot_confusion(self, X: Any, y: Sequence[Any], out: str | Path, normalise: bool = True) -> Path:
        """The confusion matrix as a PNG (needs matplotlib: ``pip install fever[plot]``)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rep = self.report(X, y)
        m = np.asarray(rep["confusion_matrix"], np.float64)
        if normalise:
            m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1 + 0.7 * len(m), 1 + 0.6 * len(m)))
        ax.imshow(m, cmap="Blues", vmin=0, vmax=m.max() or 1)
        ax.set_xticks(range(len(m)), rep["classes"], rotation=45, ha="right")
        ax.set_yticks(range(len(m)), rep["classes"])
        for i in range(len(m)):
            for j in range(len(m)):
                ax.text(j, i, f"{m[i, j]:.2f}" if normalise else int(m[i, j]), ha="center", va="center", fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"accuracy {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}")
        fig.tight_layout()
        fig.savefig(out, dpi=100)
        plt.close(fig)
        return Path(out)

    def _check_labels(self, y: Sequence[Any]) -> np.ndarray:
        self._check_fitted()
        labels = np.asarray(y)
        unseen = sorted(set(labels.tolist()) - set(self.classes_.tolist()), key=str)
        if unseen:
            raise ProbeError(
                f"labels {unseen} never appeared in training (the probe knows {self.classes_.tolist()}); "
                "it cannot predict them: drop those rows or refit with them"
            )
        return labels

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ProbeError("this probe is not fitted yet: call fit(vectors, labels) first")

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        return (
            {"coef": self.coef_, "intercept": self.intercept_, "mean": self.mean_, "scale": self.scale_},
            {
                "classes": self.classes_.tolist(),
                "n_features_in": int(self.n_features_in_),
                "temperature": float(getattr(self, "temperature_", 1.0)),
            },
        )

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        if not isinstance(extra.get("classes"), list) or not extra["classes"]:
            raise ProbeError(f"state 'classes' must be a list of class names, not {extra.get('classes')!r}")
        classes, dim = len(extra["classes"]), state_dim(extra, "n_features_in")
        want = {"coef": (classes, dim), "intercept": (classes,), "mean": (dim,), "scale": (dim,)}
        got = {k: getattr(arrays.get(k), "shape", None) for k in want}
        wrong = [
            f"{k} is {got[k]}, {classes} classes and {dim} features need {want[k]}" for k in want if got[k] != want[k]
        ]
        if wrong:
            raise ProbeError("the probe's arrays do not match its class list and dimension: " + "; ".join(wrong))
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.classes_ = np.asarray(extra["classes"])
        self.n_features_in_ = dim
        self.temperature_ = float(extra.get("temperature", 1.0))
