"""Exact-resume checkpoints: model, optimiser and progress in one safetensors file, written atomically.

The data order and augmentation of step ``k`` are a pure function of (seed, k), so the step number
plus model and optimiser state is all that is needed to resume exactly.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: dict[str, Any],
    ema: torch.nn.Module | None = None,
    extra: dict[str, torch.nn.Module] | None = None,
) -> None:
    """``ema``: the moving average of the weights (``torch.optim.swa_utils.AveragedModel``), if any;
    ``extra``: modules that only training has (auxiliary heads), saved as ``aux.<name>.*``."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().contiguous().cpu() for k, v in ema.state_dict().items()})
    for name, module in (extra or {}).items():
        tensors.update({f"aux.{name}.{k}": v.detach().contiguous().cpu() for k, v in module.state_dict().items()})
    for i, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        for key, value in optimizer.state.get(param, {}).items():
            if torch.is_tensor(value):
                tensors[f"optim.{i}.{key}"] = value.detach().contiguous().cpu()
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"progress": json.dumps(progress)})
    os.replace(tmp, path)


def read_progress(path: Path) -> dict[str, Any]:
    """The progress record (step, scores, time) stored in a checkpoint's header, without its tensors."""
    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {})["progress"])


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    ema: torch.nn.Module | None = None,
    extra: dict[str, torch.nn.Module] | None = None,
) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as handle:
        progress = json.loads((handle.metadata() or {})["progress"])
        keys = list(handle.keys())
        model.load_state_dict({k[6:]: handle.get_tensor(k) for k in keys if k.startswith("model.")})
        if ema is not None:
            state = {k[4:]: handle.get_tensor(k) for k in keys if k.startswith("ema.")}
            if not state:
                raise ValueError(
                    f"{path} holds no moving average of the weights, but the run keeps one (ema_decay > 0)"
                )
            ema.load_state_dict(state)
        for name, module in (extra or {}).items():
            prefix = f"aux.{name}."
            state = {k[len(prefix) :]: handle.get_tensor(k) for k in keys if k.startswith(prefix)}
            if not state:
                raise ValueError(f"{path} holds no weights for the training head {name!r} that the run has")
            module.load_state_dict(state)
        if optimizer is not None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            for k in keys:
                if k.startswith("optim."):
                    _, i, name = k.split(".", 2)
                    optimizer.state[params[int(i)]][name] = handle.get_tensor(k)
    return progress


def truncate_logs(folder: Path, names: tuple[str, ...], step: int) -> dict[str, list[dict[str, str]]]:
    """Drop the rows of the CSV logs ``names`` (each with a ``step`` column) written after a
    checkpoint's ``step``, so that a resumed run logs each step once.

    Returns:
        The rows kept, by file name (files that do not exist are left out).
    """
    kept = {}
    for name in names:
        path = Path(folder) / name
        if not path.exists():
            continue
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys()) if rows else None
        kept[name] = [r for r in rows if int(r["step"]) <= step]
        if fields:
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept[name])
    return kept
