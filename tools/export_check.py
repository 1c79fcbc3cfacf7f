"""How much FER+ accuracy an exported copy loses: the deployed situation, a probe trained on the
torch model's vectors applied to the copy's vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distill.evaluate import fit_linear_probe, score_linear_probe, split_batches, split_vectors
from distill.ferplus import load_split
from fever.backend.onnx import OnnxEmbedder


def probe_accuracy_change(extractor: Any, copies: dict[str, str | Path], data_root: str | Path) -> dict[str, float]:
    """FER+ test accuracy of the evaluation's linear probe (distill.evaluate), fitted once on torch fp32 train
    vectors and
    scored on the test vectors of torch fp32 and of each exported copy (the deployed situation: a
    probe trained on the reference model, vectors from the copy)."""
    root = Path(data_root) / "ferplus"
    train, test = load_split(root, "train"), load_split(root, "test")
    clf = fit_linear_probe(split_vectors(extractor, train)["embedding"], train.majority)
    out = {
        "torch_fp32": score_linear_probe(clf, split_vectors(extractor, test)["embedding"], test.majority)["accuracy"]
    }
    for name, path in copies.items():
        embedder = OnnxEmbedder(path)
        vectors = np.concatenate([embedder(x).numpy() for x in split_batches(test, extractor.preprocess)])
        out[name] = score_linear_probe(clf, vectors, test.majority)["accuracy"]
        out[f"{name}_change_points"] = 100 * (out[name] - out["torch_fp32"])
    return out
