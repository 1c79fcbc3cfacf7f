"""Learning curves of a run (``epochs.csv``) as ``curves.png`` next to it."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

PANELS = (
    ("FER+ valid accuracy, expression head", ("val_accuracy", "val_accuracy_raw", "val_fer2013_accuracy")),
    ("FER+ valid triplet accuracy, 32-d head", ("val_triplet_accuracy", "val_triplet_accuracy_raw")),
    ("training loss (epoch mean)", ("train_loss",)),
    ("learning rate (end of epoch)", ("lr",)),
)
LEGEND = {
    "val_accuracy": "EMA weights (kept)",
    "val_triplet_accuracy": "EMA weights (kept)",
    "val_accuracy_raw": "raw weights",
    "val_triplet_accuracy_raw": "raw weights",
    "val_fer2013_accuracy": "FER2013 labels, training head",
}


def read_epochs(run: str | Path) -> list[dict[str, str]]:
    path = Path(run) / "epochs.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def plot_curves(run: str | Path, out: str | Path | None = None) -> Path | None:
    """Write the run's learning curves as a PNG; returns its path, or None without matplotlib or rows."""
    rows = read_epochs(run)
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib is not installed: no curves.png (pip install 'fever[plot]')")
        return None
    epochs = [float(r["epoch"]) for r in rows]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            values = [(e, float(r[key])) for e, r in zip(epochs, rows) if r.get(key) not in (None, "")]
            if values:
                ax.plot(*zip(*values), marker=".", label=LEGEND.get(key, key))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(keys) > 1 and ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(Path(run).resolve().name, fontsize=10)
    fig.tight_layout()
    target = Path(out) if out else Path(run) / "curves.png"
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target
