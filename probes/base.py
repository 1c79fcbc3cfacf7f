"""The interface every probe shares: scikit-learn estimator + safetensors/JSON persistence.

A probe learns from frozen expression vectors. Subclasses implement ``fit``, ``predict`` (and
``predict_proba`` where it applies), ``_get_state`` / ``_set_state`` (arrays and JSON-able extras);
``save(dir)`` writes ``probe.json`` + ``probe.safetensors`` and :func:`probes.load` reads them
back without unpickling anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from .errors import ProbeError

PROBE_JSON, PROBE_WEIGHTS = "probe.json", "probe.safetensors"
# sizes a saved probe may ask for before anything is built (a probe.json with hidden 300000 would
# allocate gigabytes): far above the papers' probes (hidden 128, 2 layers, 8-frame clips)
PARAM_LIMITS = {"hidden": 4096, "layers": 16, "clip": 10_000, "window": 100_000}


def check_vectors(x: Any, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ProbeError(f"{what} must be a 2-D array (n, dim), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ProbeError(
            f"{what} have dimension {arr.shape[1]} but the probe was fitted on dimension {dim}; "
            "use vectors from the same fever model"
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ProbeError(
            f"{what} contain NaN or infinite values in {int(bad.sum())} rows "
            f"(first: row {int(np.flatnonzero(bad)[0])}); "
            "drop rows without a face (status != 'ok') first"
        )
    return arr


class Probe(BaseEstimator):
    """Base class; ``name`` is the registry name."""

    name: str = ""

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        raise NotImplementedError

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        raise NotImplementedError

    def save(self, folder: str | Path) -> Path:
        from safetensors.numpy import save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, extra = self._get_state()
        # bytes through open(), so the file follows the umask (save_file would make it 0600)
        (folder / PROBE_WEIGHTS).write_bytes(save({k: np.ascontiguousarray(v) for k, v in arrays.items()}))
        meta = {"probe": self.name, "params": self.get_params(deep=False), "state": extra}
        (folder / PROBE_JSON).write_text(json.dumps(meta, indent=2, default=_jsonable) + "\n")
        return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in probe.json")


def load(folder: str | Path) -> Probe:
    """Rebuild a saved probe (any registered kind) from its folder; nothing is unpickled.

    Args:
        folder: a folder written by ``Probe.save`` (``probe.json`` + ``probe.safetensors``).

    Returns:
        The fitted probe.
    """
    from safetensors.numpy import load_file

    from .registry import create

    folder = Path(folder)
    for name in (PROBE_JSON, PROBE_WEIGHTS):
        if not (folder / name).is_file():
            raise ProbeError(f"{folder / name}: missing; not a saved probe folder")
    try:
        meta = json.loads((folder / PROBE_JSON).read_text())
        name, params = meta["probe"], dict(meta["params"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProbeError(f"{folder / PROBE_JSON}: not a saved probe ({exc})") from None
    for key, limit in PARAM_LIMITS.items():
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit):
            raise ProbeError(f"{folder / PROBE_JSON}: {key} must be a whole number from 1 to {limit:,}, not {value!r}")
    probe = create(name, **params)
    try:
        arrays = load_file(str(folder / PROBE_WEIGHTS))
    except Exception as exc:
        raise ProbeError(f"{folder / PROBE_WEIGHTS}: corrupt or truncated ({exc})") from None
    try:
        probe._set_state(arrays, meta["state"])
    except ProbeError as exc:
        raise ProbeError(f"{folder}: {exc}") from None
    return probe
