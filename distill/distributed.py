"""torchrun support: one process per worker, gloo on CPU and nccl on GPU."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def maybe_init_distributed() -> bool:
    """Join the process group that ``torchrun`` describes in the environment; no-op otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return True


def finish_distributed() -> None:
    """Leave the process group together: a rank that exits while its peer still talks to it makes
    gloo abort the peer (SIGABRT at exit), so every rank waits at a barrier, then closes the group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
