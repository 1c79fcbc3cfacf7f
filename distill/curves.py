"""Learning curves: one run's ``epochs.csv`` as ``curves.png`` next to it, or several runs on one axis."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fever.errors import UsageError

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


COMPARED = (
    ("val_accuracy", "FER+ valid accuracy, own head (kept weights)"),
    ("val_triplet_accuracy", "FER+ valid triplet accuracy, 32-d head"),
    ("val_fer2013_accuracy", "FER2013 valid accuracy, training head"),
)


def read_epochs(run: str | Path) -> list[dict[str, str]]:
    """Rows of ``epochs.csv``; ``run`` is a run folder or the CSV file itself (``[]`` when it is missing)."""
    path = Path(run)
    if path.is_dir() or not path.suffix:
        path = path / "epochs.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class CurveSource:
    """One run in a comparison: its ``epochs.csv`` and the epochs its network had trained before it started."""

    path: Path
    start_epoch: float = 0.0

    @property
    def label(self) -> str:
        """The run's name: its folder for ``RUN/epochs.csv``, else the file name without ``-epochs.csv``."""
        return self.path.parent.name if self.path.name == "epochs.csv" else self.path.stem.removesuffix("-epochs")

    @classmethod
    def parse(cls, text: str) -> "CurveSource":
        """``PATH`` or ``PATH@EPOCHS`` (a run started from a network already trained ``EPOCHS`` epochs)."""
        path, _, start = text.partition("@")
        try:
            return cls(Path(path), float(start) if start else 0.0)
        except ValueError:
            raise UsageError(f"{text}: the part after @ must be a number of epochs, not {start!r}") from None


def plot_curves(run: str | Path, out: str | Path | None = None) -> Path | None:
    """Write the run's learning curves as a PNG; returns its path, or None without matplotlib or rows."""
    rows = read_epochs(run)
    if not rows:
        return None
    try:
        plt = _pyplot()
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
    return _save(fig, Path(out) if out else Path(run) / "curves.png")


def plot_comparison(sources: Sequence[CurveSource], out: str | Path, from_epoch: float = 0.0) -> Path:
    """Plot several runs' validation curves against the epochs their network has trained since random weights.

    A run that continues another one (``init_from``) starts at that run's epoch count, so a plateau
    across runs shows as one flat line.

    Args:
        sources: the runs, each an ``epochs.csv`` (or run folder) with the epoch it starts from.
        out: PNG to write.
        from_epoch: leave out the points before this epoch (to read a plateau at its own scale).

    Returns:
        The PNG's path.

    Raises:
        FileNotFoundError: a source has no epoch rows.
        ImportError: matplotlib is not installed.
    """
    plt = _pyplot()
    runs = []
    for source in sources:
        rows = read_epochs(source.path)
        if not rows:
            raise FileNotFoundError(f"{source.path}: no epochs.csv rows to plot")
        runs.append((source, rows))
    fig, axes = plt.subplots(1, len(COMPARED), figsize=(5.2 * len(COMPARED), 4.0))
    for ax, (key, title) in zip(axes, COMPARED):
        for color, (source, rows) in enumerate(runs):
            epochs = [(source.start_epoch + float(r["epoch"]), r.get(key)) for r in rows]
            points = [(x, float(y)) for x, y in epochs if y and x >= from_epoch]
            if points:  # one colour per run in every panel, whichever runs a panel leaves out
                ax.plot(*zip(*points), marker=".", markersize=3, label=source.label, color=f"C{color % 10}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epochs of the network since random weights")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    return _save(fig, Path(out))


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (training runs headless); ImportError without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, target: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target
