"""One thread count for every pool a fever process runs: torch's, the BLAS/OpenMP ones and faiss's.

By default each library takes every core. That is right for one process on a machine of its own;
next to another busy process (a training run, a second job) two processes that each use every core
thrash instead of sharing (lbfgs went from 2 ms to 140 ms per iteration on 2 cores). Give each
process its share: ``fever.threads.set_num_threads(n)``, ``--threads N`` on the commands, or
``FEVER_NUM_THREADS``. The logistic probe always fits with one BLAS thread (its many small calls
gain nothing from more).
"""

from __future__ import annotations

import os

THREADS_ENV = "FEVER_NUM_THREADS"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_threads(text: str) -> int:
    """A thread count from text (``--threads``, ``$FEVER_NUM_THREADS``): a whole number >= 1.

    Raises:
        ValueError: naming the text and the rule (argparse turns it into a usage error).
    """
    try:
        n = int(str(text).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(
            f"{text!r} is not a thread count (a whole number of 1 or more; the default comes from ${THREADS_ENV})"
        )
    return n


def default_threads() -> str | None:
    """``$FEVER_NUM_THREADS`` as written, else None (each library's own default: every core). It is
    checked by :func:`parse_threads` only when a command runs, so a bad value never stops ``--help``."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return value or None


def set_num_threads(n: int) -> int:
    """Use ``n`` threads in torch (intra-op), the BLAS/OpenMP pools (threadpoolctl) and faiss.

    Args:
        n: threads per process, at least 1.

    Returns:
        ``n``.
    """
    from .errors import UsageError

    if n < 1:
        raise UsageError(f"threads must be 1 or more, not {n}")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:  # pragma: no cover - faiss is a dependency
        pass
    return n
