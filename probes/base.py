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


# a probe reads vectors of fever models (256-d); far above any, far below what exhausts memory
MAX_DIM = 65_536


def state_dim(extra: dict[str, Any], key: str = "dim") -> int:
    """The vector dimension a saved probe's state gives, checked: a whole number from 1 to MAX_DIM."""
    if key not in extra:
        raise ProbeError(f"state has no {key!r} (the vector dimension the probe was fitted on)")
    value = extra[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DIM:
        raise ProbeError(f"state {key!r} must be a whole number from 1 to {MAX_DIM:,}, not {value!r}")
    return value


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
    where = folder / PROBE_JSON
    try:
        meta = json.loads(where.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProbeError(f"{where}: not a saved probe ({exc})") from None
    if not isinstance(meta, dict):
        raise ProbeError(f"{where}: not a saved probe (not a JSON object)")
    for key, kind in (("probe", str), ("params", dict), ("state", dict)):
        if not isinstance(meta.get(key), kind):
            raise ProbeError(
                f"{where}: {key!r} must be {'a name' if kind is str else 'an object'}, not {meta.get(key)!r}"
            )
    name, params = meta["probe"], dict(meta["params"])
    for key, limit in PARAM_LIMITS.items():
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit):
            raise ProbeError(f"{where}: {key} must be a whole number from 1 to {limit:,}, not {value!r}")
    try:
        probe = create(name, **params)
    except TypeError as exc:  # sklearn's __init__ names the parameter it does not know
        raise ProbeError(f"{where}: the parameters do not fit probe {name!r} ({exc})") from None
    try:
        arrays = load_file(str(folder / PROBE_WEIGHTS))
    except Exception as exc:
        raise ProbeError(f"{folder / PROBE_WEIGHTS}: corrupt or truncated ({exc})") from None
    for key, array in arrays.items():
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise ProbeError(
                f"{folder / PROBE_WEIGHTS}: array {key!r} holds {bad} NaN or infinite values of {array.size}; "
                "the probe is damaged: fit or save it again"
            )
    try:
        probe._set_state(arrays, meta["state"])
    except ProbeError as exc:
        raise ProbeError(f"{folder}: {exc}") from None
    except KeyError as exc:
        raise ProbeError(f"{where}: state has no {exc} (saved by another version, or edited by hand)") from None
    return probe
