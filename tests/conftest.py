"""Shared fixtures: small randomly initialised models saved through the real code path, sample
faces shipped in the package, and the shared datasets (skipped where they are absent)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import fever

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fever" / "samples"
DATASETS = Path(os.environ.get("FEVER_DATASETS", ROOT.parent / "shared" / "datasets"))
VIDEOS = DATASETS / "videos"

# OMP_NUM_THREADS=1 next to a training run: the suite must not take the run's cores
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 0)) or min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random ResNet-18 student at 48 px, saved with save_pretrained (as users' models are)."""
    torch.manual_seed(0)
    model = fever.create_model("fever-student-resnet18", input_size=48, name="tiny-test-student")
    return model.save_pretrained(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def extractor(tiny_model_dir) -> "fever.Extractor":
    return fever.Extractor(tiny_model_dir, device="cpu")


@pytest.fixture(scope="session")
def fer_crops() -> list[Path]:
    return sorted(SAMPLES.glob("ferplus_*.png"))


@pytest.fixture(scope="session")
def two_face_photo() -> Path:
    return SAMPLES / "hamilton_two_faces.jpg"


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not (DATASETS / "ferplus" / "train.parquet").exists():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


@pytest.fixture(scope="session")
def videos() -> Path:
    if not (VIDEOS / "single_face.mp4").exists():
        pytest.skip(f"shared videos not found at {VIDEOS}")
    return VIDEOS


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
