"""Shared fixtures: small randomly initialised models saved through the real code path, sample
faces shipped in the package, and the shared datasets (skipped where they are absent)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import fever
import probes
from tests.helpers import DATASETS, SAMPLES, VIDEOS

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


@pytest.fixture(scope="session")
def clustered():
    """600 unit vectors in 6 tight clusters of 100: neighbours of a point are its cluster."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 32))
    labels = np.repeat(np.arange(6), 100)
    x = centres[labels] + 0.05 * rng.normal(size=(600, 32))
    return x.astype(np.float32), labels


@pytest.fixture()
def model_with_probe(tmp_path, tiny_model_dir, extractor, fer_crops):
    """A copy of the tiny model with a logistic expression probe in probes/logistic, as shipped models have."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    vectors = extractor.extract(fer_crops).vectors
    labels = [p.name.split("_")[1] for p in fer_crops]
    probes.create("logistic", C=1.0).fit(vectors, labels).save(folder / "probes" / "logistic")
    return folder
