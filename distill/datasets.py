"""Where the shared datasets are: ``$FEVER_DATASETS``, else ``../shared/datasets`` (from the project root)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DATA_ROOT_ENV = "FEVER_DATASETS"
DEFAULT_DATA_ROOT = "../shared/datasets"


def default_data_root() -> str:
    return os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--data-root`` option every command that reads the shared datasets has."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(default_data_root()),
        help=f"folder with ferplus/, utkface/, videos/ (${DATA_ROOT_ENV} sets the default)",
    )
