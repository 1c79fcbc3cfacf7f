"""What several test modules share: where the repository, the sample faces and the datasets are."""

from __future__ import annotations

import os
from pathlib import Path

from distill.datasets import DATA_ROOT_ENV

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fever" / "samples"
# the shared datasets beside the repository, unless FEVER_DATASETS says otherwise
DATASETS = Path(os.environ.get(DATA_ROOT_ENV) or ROOT.parent / "shared" / "datasets")
VIDEOS = DATASETS / "videos"
