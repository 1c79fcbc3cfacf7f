"""Expression-similarity triplets made from FER+ vote histograms (the stand-in for Google FEC).

Rule: for three faces, the distance of a pair is the total-variation distance between their
8-class vote distributions. The most similar pair is the closest one; the triplet is kept only when
the closest distance beats the second closest by at least ``margin`` (ambiguous triplets, where the
crowd would not agree either, are dropped). The face outside the closest pair is the "odd one out".
Triplets are stored as (anchor, positive, negative) = (pair[0], pair[1], odd one).
"""

from __future__ import annotations

import numpy as np

DEFAULT_MARGIN = 0.3


def tv_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(p - q).sum(axis=-1)


def sample_triplets(
    distributions: np.ndarray,
    count: int,
    rng: np.random.Generator,
    margin: float = DEFAULT_MARGIN,
    eligible: np.ndarray | None = None,
    max_rounds: int | None = None,
) -> np.ndarray:
    """Draw ``count`` triplets (anchor, positive, negative) as an (count, 3) index array.

    ``max_rounds`` bounds the draws for small pools (the faces of one batch), which may hold fewer
    unambiguous triplets than asked: then fewer (possibly none) come back instead of a hang.
    """
    pool = np.flatnonzero(distributions.sum(axis=1) > 0) if eligible is None else eligible
    out: list[np.ndarray] = [np.zeros((0, 3), dtype=np.int64)]
    have = 0
    rounds = 0
    while have < count and len(pool) >= 3 and (max_rounds is None or rounds < max_rounds):
        rounds += 1
        need = max(2 * (count - have), 64)
        idx = pool[rng.integers(0, len(pool), size=(need, 3))]
        p = distributions[idx]  # (need, 3, 8)
        d = np.stack(
            [
                tv_distance(p[:, 0], p[:, 1]),  # pair (0,1), odd 2
                tv_distance(p[:, 0], p[:, 2]),  # pair (0,2), odd 1
                tv_distance(p[:, 1], p[:, 2]),
            ],
            axis=1,
        )  # pair (1,2), odd 0
        order = np.sort(d, axis=1)
        keep = (
            (order[:, 1] - order[:, 0] >= margin)
            & (idx[:, 0] != idx[:, 1])
            & (idx[:, 0] != idx[:, 2])
            & (idx[:, 1] != idx[:, 2])
        )
        best = d.argmin(axis=1)
        layout = np.array([[0, 1, 2], [0, 2, 1], [1, 2, 0]])[best]
        trip = np.take_along_axis(idx, layout, axis=1)[keep]
        out.append(trip)
        have += len(trip)
    return np.concatenate(out)[:count]
