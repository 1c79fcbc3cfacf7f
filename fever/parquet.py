"""The ``fever-embed`` output format, and writing it so that a killed run loses nothing.

Rows go to ``OUT.parts/part-NNNNNN.parquet`` files, each holding whole inputs and each written to a
temporary name and then renamed, so a part is either complete or absent. When the run ends the
parts are merged into ``OUT`` the same way. ``--resume`` reads the parts, skips the inputs they
already hold and carries on: every input ends up exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import FeverError
from .result import STATUS_SKIPPED, Row, rows_to_table, schema  # noqa: F401  (re-exported)


def embeddings(table: pa.Table) -> np.ndarray:
    """The embedding column as an (N, D) float32 array (NaN rows where there is no face)."""
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    out = np.full((len(col), dim), np.nan, np.float32)
    valid = col.is_valid().to_numpy(zero_copy_only=False)
    if valid.any():
        out[valid] = col.drop_null().flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return out


def _atomic_write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class PartWriter:
    """Incremental, crash-safe writer for one output file."""

    def __init__(self, out: Path, dim: int, metadata: dict[str, str], resume: bool, overwrite: bool) -> None:
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.dim = dim
        self.metadata = metadata
        manifest = self.parts / "manifest.json"
        if self.parts.exists() and not resume:
            if not overwrite:
                raise FeverError(
                    f"{self.parts}: an unfinished run is there; "
                    "pass --resume to finish it or --overwrite to start again"
                )
            shutil.rmtree(self.parts)
        if self.out.exists() and not (resume or overwrite):
            raise FeverError(
                f"{self.out}: exists; pass --resume to add the missing inputs or --overwrite to replace it"
            )
        self.parts.mkdir(parents=True, exist_ok=True)
        if manifest.exists():
            saved = json.loads(manifest.read_text())
            if saved.get("fever.config_hash") != metadata.get("fever.config_hash"):
                raise FeverError(
                    f"{self.parts}: was started with model {saved.get('fever.model')} "
                    f"(config {saved.get('fever.config_hash')}), not {metadata.get('fever.model')} "
                    f"({metadata.get('fever.config_hash')}); resume with the same model or use --overwrite"
                )
        else:
            manifest.write_text(json.dumps(metadata, indent=2))
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        if resume and self.out.exists() and not any(self.parts.glob("part-*.parquet")):
            previous = pq.read_table(self.out)
            self._check_compatible(previous.schema, self.out)
            _atomic_write(previous.replace_schema_metadata(None), self.parts / "part-000000.parquet")
        self._count = max([int(p.stem.split("-")[1]) for p in self.parts.glob("part-*.parquet")], default=0)

    def _check_compatible(self, sch: pa.Schema, where: Path) -> None:
        meta = {k.decode(): v.decode() for k, v in (sch.metadata or {}).items()}
        if meta.get("fever.config_hash") not in (None, self.metadata.get("fever.config_hash")):
            raise FeverError(
                f"{where}: was written by model {meta.get('fever.model')} (config {meta.get('fever.config_hash')}); "
                "resume with the same model or use --overwrite"
            )

    def done_paths(self) -> set[str]:
        done: set[str] = set()
        for part in sorted(self.parts.glob("part-*.parquet")):
            done.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())
        return done

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._count += 1
        _atomic_write(table.replace_schema_metadata(None), self.parts / f"part-{self._count:06d}.parquet")

    def finish(self) -> pa.Table:
        """Merge the parts into the output file (atomically) and remove the parts folder."""
        tables = [pq.read_table(p) for p in sorted(self.parts.glob("part-*.parquet"))]
        sch = schema(self.dim, self.metadata)
        table = pa.concat_tables([t.cast(sch) for t in tables]) if tables else sch.empty_table()
        table = table.replace_schema_metadata(sch.metadata)
        _atomic_write(table, self.out)
        shutil.rmtree(self.parts)
        return table


def read_metadata(path: str | Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}
