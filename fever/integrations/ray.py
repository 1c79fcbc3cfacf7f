"""Extraction on Ray Data: the same rows as ``fever-embed``, computed by a pool of actors that each
load the model once. Ray is an optional extra: ``pip install "fever[ray]"``.

Recipe::

    import ray, fever.integrations.ray
    ds = ray.data.read_binary_files("s3://bucket/faces/", include_paths=True)   # columns: bytes, path
    rows = fever.integrations.ray.embed_dataset(ds, bytes_column="bytes")   # the bundled default model
    rows.write_parquet("s3://bucket/vectors/")

Each output row is a face (or an input without one), with the columns of the ``fever-embed``
parquet format; ``embedding`` is a fixed-size list of float32.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa


class FeverEmbedder:
    """A Ray Data callable class: the model is loaded once per actor, in ``__init__``."""

    def __init__(
        self,
        model: str | None = None,
        faces: str = "auto",
        precision: str = "fp32",
        normalize: bool = False,
        path_column: str = "path",
        bytes_column: str | None = None,
        device: str = "cpu",
    ) -> None:
        from ..extractor import Extractor

        self.extractor = Extractor(model, device=device, precision=precision)
        self.faces, self.normalize = faces, normalize
        self.path_column, self.bytes_column = path_column, bytes_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        from PIL import Image

        from ..result import rows_to_table

        paths = batch.column(self.path_column).to_pylist() if self.path_column in batch.column_names else None
        if self.bytes_column:
            blobs = batch.column(self.bytes_column).to_pylist()
            items: list[Any] = []
            for i, blob in enumerate(blobs):
                try:
                    items.append(Image.open(io.BytesIO(blob)))
                except Exception:  # undecodable bytes still get their error row
                    items.append(np.zeros((0, 0), np.uint8))
        else:
            items = list(paths or [])
        result = self.extractor.extract(items, faces=self.faces, normalize=self.normalize, batch_size=len(items) or 1)
        if paths is not None:
            for row in result.rows:
                row.source = str(paths[row.input_index])
        return rows_to_table(result.rows, result.vectors)


def embed_dataset(
    ds: Any,
    model: str | None = None,
    *,
    batch_size: int = 64,
    concurrency: int = 1,
    faces: str = "auto",
    precision: str = "fp32",
    normalize: bool = False,
    path_column: str = "path",
    bytes_column: str | None = None,
    num_cpus: float = 1.0,
) -> Any:
    """A Ray dataset of image paths (``path_column``) or encoded bytes (``bytes_column``) -> face rows."""
    return ds.map_batches(
        FeverEmbedder,
        fn_constructor_kwargs={
            "model": model,
            "faces": faces,
            "precision": precision,
            "normalize": normalize,
            "path_column": path_column,
            "bytes_column": bytes_column,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=concurrency,
        num_cpus=num_cpus,
    )
