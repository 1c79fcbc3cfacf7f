"""``fever.analyze``: faces -> box, track, vector and expression probabilities, with nothing to train.

The default model ships with a ``logistic`` expression probe fitted on its own FER+ train vectors
(``<model folder>/probes/logistic``); any model folder with such a probe works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .extractor import Extractor, get_extractor
from .io.video import VIDEO_EXTENSIONS
from .models.hub import PROBES_DIR
from .result import STATUS_OK, Extraction

PROBE_SUBDIR = Path(PROBES_DIR) / "logistic"


@dataclass
class Analysis:
    """``extraction`` rows and vectors, plus per-row expression probabilities (NaN rows where no face)."""

    extraction: Extraction
    probabilities: np.ndarray
    classes: list[str]

    @property
    def expressions(self) -> list[str | None]:
        """Most probable expression per row (None where there is no face)."""
        return [None if not np.isfinite(p).all() else self.classes[int(p.argmax())] for p in self.probabilities]

    def faces(self) -> list[dict[str, Any]]:
        """The faces, one dict each (rows without a face are left out).

        Returns:
            Dicts with ``source``, ``frame``, ``timestamp``, ``face``, ``track``, ``box``,
            ``vector``, ``probabilities`` (class -> probability) and ``expression`` (the top class).
        """
        out = []
        for row, vec, prob, expr in zip(
            self.extraction.rows, self.extraction.vectors, self.probabilities, self.expressions
        ):
            if row.status != STATUS_OK:
                continue
            out.append(
                {
                    "source": row.source,
                    "frame": row.frame,
                    "timestamp": row.timestamp,
                    "face": row.face,
                    "track": row.track,
                    "box": row.box,
                    "vector": vec,
                    "probabilities": dict(zip(self.classes, prob.tolist())),
                    "expression": expr,
                }
            )
        return out


def probe_folder(extractor: Extractor) -> Path:
    origin = extractor.model.origin  # where fever.load found the weights
    folder = origin.folder / PROBE_SUBDIR if origin is not None else None
    if folder is None or not (folder / "probe.json").is_file():
        raise ModelLoadError(
            f"model {extractor.config.name!r} ships no expression probe ({PROBE_SUBDIR} in its folder); "
            "fit one with `fever-probe fit logistic ...` and pass probe=<folder>"
        )
    return folder


def analyze(inputs: Any, model: Any = None, probe: str | Path | None = None, **kwargs: Any) -> Analysis:
    """Expression vectors and probabilities of every face in images, or in one video file.

    Args:
        inputs: what :func:`fever.extract` takes, or the path of one video file.
        model: preset name, model folder, Hub repo id or an :class:`Extractor` (default: the
            bundled default model, which ships its expression probe).
        probe: a probe folder (default: the one shipped in the model's folder).
        **kwargs: ``device``, ``precision``, ``tta`` and ``detector`` (as for :class:`Extractor`),
            then the options of :meth:`Extractor.extract` or :meth:`Extractor.extract_video`.

    Returns:
        An :class:`Analysis`: the extraction and per-row class probabilities.

    >>> out = fever.analyze("interview.mp4", fps=5)          # doctest: +SKIP
    >>> out.faces()[0]["expression"], out.faces()[0]["track"]  # doctest: +SKIP
    """
    import probes

    options = {k: kwargs.pop(k) for k in ("tta", "detector") if k in kwargs}
    extractor = (
        model
        if isinstance(model, Extractor)
        else get_extractor(model, kwargs.pop("device", "auto"), kwargs.pop("precision", "fp32"), **options)
    )
    fitted = probes.load(probe or probe_folder(extractor))
    if isinstance(inputs, (str, Path)) and Path(inputs).suffix.lower() in VIDEO_EXTENSIONS:
        result = extractor.extract_video(inputs, **kwargs)
    else:
        result = extractor.extract(inputs, **kwargs)
    proba = np.full((len(result), len(fitted.classes_)), np.nan, np.float32)
    ok = result.ok
    if ok.any():
        proba[ok] = fitted.predict_proba(result.vectors[ok])
    return Analysis(result, proba, [str(c) for c in fitted.classes_])
