"""The ``fever-embed`` output format, and writing it so that a killed run loses nothing.

Rows go to ``OUT.parts/part-NNNNNN.parquet`` files, each holding whole inputs and each written to a
temporary name and then renamed, so a part is either complete or absent. When the run ends the
parts are merged into ``OUT`` the same way. ``--resume`` reads the parts, skips the inputs they
already hold and carries on: every input ends up exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import FeverError
from .inputs import source_key
from .io.images import file_kind
from .locks import OutputLock
from .result import STATUS_ERROR, STATUS_SKIPPED, Row, arrow_text, rows_to_table, schema  # noqa: F401

logger = logging.getLogger(__name__)


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


PART_NAME = re.compile(r"^part-(\d{6})\.parquet$")
MANIFEST_NAME, DAMAGED_DIR = "manifest.json", "damaged"


IDENTITY_COLUMNS = ("source_key", "source_size", "source_mtime_ns")


def row_keys(table: pa.Table) -> list[bytes]:
    """The input key of every row: its ``source_key``, or for rows written before fever recorded it
    (an older output finished with --resume), the key of its ``path`` text."""
    paths = table.column("path").to_pylist()
    keys = table.column("source_key").to_pylist() if "source_key" in table.column_names else [None] * len(paths)
    return [k if k is not None else source_key(p) for k, p in zip(keys, paths)]


def with_identity_columns(table: pa.Table) -> pa.Table:
    """A table of an older fever-embed output, with the identity columns it lacks as nulls."""
    for name, kind in (("source_key", pa.binary()), ("source_size", pa.int64()), ("source_mtime_ns", pa.int64())):
        if name not in table.column_names:
            table = table.append_column(pa.field(name, kind), pa.nulls(table.num_rows, kind))
    return table


class PartWriter:
    """Incremental, crash-safe writer for one output file.

    - One run at a time: ``OUT.lock`` (:mod:`fever.locks`, an flock) is taken before anything is
      looked at; a second run on the same output (with or without ``--resume`` / ``--overwrite``)
      is refused while the first lives, and the lock of a killed run is free.
    - Only fever's own files are added to or replaced: ``--resume`` / ``--overwrite`` onto a file
      fever-embed did not write, a FIFO or a device is refused.
    - The run's options and model are recorded in ``OUT.parts/manifest.json``; ``--resume`` with
      other options or another model is refused, so one file never mixes rows made two ways.
    - A part that cannot be read (truncated, empty, not parquet) is moved to ``OUT.parts/damaged/``
      with a warning naming it, and its inputs are done again; files that are not named like parts
      are ignored.
    - Inputs that failed are tried again on ``--resume``; the merged file keeps, for each input, the
      rows of the last part that holds it.
    """

    def __init__(self, out: Path, dim: int, metadata: dict[str, str], resume: bool, overwrite: bool) -> None:
        self.out = Path(out)
        if self.out.is_dir():
            raise FeverError(f"{self.out}: is a folder; --out names the parquet file to write")
        if self.out.exists() and not self.out.is_file():
            raise FeverError(
                f"{self.out}: is {file_kind(self.out.stat().st_mode)}, not a regular file; "
                "--out names the parquet file to write"
            )
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.dim = dim
        self.metadata = metadata
        # taken before anything is looked at or changed: two runs that start together cannot both pass
        self.lock = OutputLock(self.out).acquire()
        try:
            if self.parts.exists() and not resume:
                if not overwrite:
                    raise FeverError(
                        f"{self.parts}: an unfinished run is there; "
                        "pass --resume to finish it or --overwrite to start again"
                    )
                shutil.rmtree(self.parts)
            if self.out.exists():
                if not (resume or overwrite):
                    raise FeverError(
                        f"{self.out}: exists; pass --resume to add the missing inputs or --overwrite to replace it"
                    )
                self._check_ours(self.out, "--resume" if resume else "--overwrite")
            fresh = not self.parts.exists()
            self.parts.mkdir(parents=True, exist_ok=True)
            self._open(fresh, resume)
        except BaseException:
            self.close()
            raise

    def _check_ours(self, path: Path, option: str) -> None:
        """fever adds to and replaces only parquet files that fever-embed wrote."""
        try:
            meta = read_metadata(path)
        except (OSError, pa.ArrowException) as exc:
            raise FeverError(
                f"{path}: cannot be read as a parquet file ({exc}); {option} finishes or replaces only files "
                "that fever-embed wrote: move it away or choose another --out"
            ) from None
        if "fever.config_hash" not in meta:
            raise FeverError(
                f"{path}: was not written by fever-embed (no fever metadata); {option} finishes or replaces only "
                "files that fever-embed wrote: move it away or choose another --out"
            )

    def _open(self, fresh: bool, resume: bool) -> None:
        manifest = self.parts / MANIFEST_NAME
        if manifest.exists():
            saved = _read_manifest(manifest)
            self._check_same_run(saved, manifest)
        elif not fresh and self._part_files():
            raise FeverError(
                f"{manifest}: missing, so nothing says which model and options made the parts in {self.parts}; "
                "use --overwrite to start again"
            )
        else:
            manifest.write_text(json.dumps(self.metadata, indent=2))
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        if resume and self.out.exists() and not self._part_files():
            try:
                previous = pq.read_table(self.out)
            except (OSError, pa.ArrowException) as exc:
                raise FeverError(
                    f"{self.out}: damaged ({exc}); --resume cannot add to it: move it away or use --overwrite"
                ) from None
            self._check_compatible(previous.schema, self.out)
            previous = with_identity_columns(previous.replace_schema_metadata(None))
            _atomic_write(previous, self.parts / "part-000000.parquet")
        self._count = max((int(PART_NAME.match(p.name).group(1)) for p in self._part_files()), default=0)

    def close(self) -> None:
        """Give the output up (the parts stay for --resume); finish() does it too."""
        self.lock.release()

    # -- the same run ---------------------------------------------------------------------------------
    def _check_same_run(self, saved: dict[str, str], where: Path) -> None:
        if saved.get("fever.config_hash") != self.metadata.get("fever.config_hash"):
            raise FeverError(
                f"{self.parts}: was started with model {saved.get('fever.model')} "
                f"(config {saved.get('fever.config_hash')}), not {self.metadata.get('fever.model')} "
                f"({self.metadata.get('fever.config_hash')}); resume with the same model or use --overwrite"
            )
        before = _options_of(saved, where)
        now = json.loads(self.metadata.get("fever.options", "{}"))
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if changed:
            diffs = ", ".join(f"--{k.replace('_', '-')} {before.get(k)} -> {now.get(k)}" for k in changed)
            raise FeverError(
                f"{where}: the run was started with other options ({diffs}); resume with the same options "
                "so that every row is made the same way, or use --overwrite"
            )

    def _check_compatible(self, sch: pa.Schema, where: Path) -> None:
        meta = {k.decode(): v.decode() for k, v in (sch.metadata or {}).items()}
        if "fever.options" in meta:
            self._check_same_run(meta, where)
        if meta.get("fever.config_hash") not in (None, self.metadata.get("fever.config_hash")):
            raise FeverError(
                f"{where}: was written by model {meta.get('fever.model')} (config {meta.get('fever.config_hash')}); "
                "resume with the same model or use --overwrite"
            )

    # -- parts ----------------------------------------------------------------------------------------
    def _part_files(self) -> list[Path]:
        return sorted(p for p in self.parts.glob("part-*.parquet") if PART_NAME.match(p.name))

    def _read_parts(self, columns: list[str] | None = None) -> list[tuple[int, pa.Table]]:
        """Every readable part with its number; unreadable ones, and parts that are not this run's
        (other columns, vectors of another dimension), go to damaged/ with a warning."""
        out = []
        for part in self._part_files():
            try:
                problem = self._part_problem(pq.read_schema(part))
                table = None if problem else pq.read_table(part, columns=columns)
            except (OSError, pa.ArrowException) as exc:
                problem = str(exc)
            if problem:
                damaged = self.parts / DAMAGED_DIR
                damaged.mkdir(exist_ok=True)
                os.replace(part, damaged / part.name)
                logger.warning(
                    "%s: damaged part set aside in %s (%s); its inputs are done again", part, damaged, problem
                )
                continue
            out.append((int(PART_NAME.match(part.name).group(1)), table))
        return out

    def _part_problem(self, sch: pa.Schema) -> str | None:
        expected = schema(self.dim)
        missing = [f.name for f in expected if f.name not in sch.names]
        if missing:
            return f"no column {missing[0]!r}: not a part of fever-embed"
        kind = sch.field("embedding").type
        if not pa.types.is_fixed_size_list(kind) or kind.list_size != self.dim:
            return f"its vectors are {kind}, this run's are {self.dim}-d"
        return None

    def done_inputs(self) -> dict[bytes, tuple[int | None, int | None]]:
        """The inputs already done, by key (:func:`fever.inputs.source_key`), with the size and
        modification time they had when they were embedded (None when not recorded); inputs that
        failed are not done."""
        done: dict[bytes, tuple[int | None, int | None]] = {}
        for _, table in self._read_parts(columns=["path", "status", *IDENTITY_COLUMNS]):
            sizes, times = table.column("source_size").to_pylist(), table.column("source_mtime_ns").to_pylist()
            for key, status, size, mtime in zip(row_keys(table), table.column("status").to_pylist(), sizes, times):
                if status != STATUS_ERROR:
                    done[key] = (size, mtime)
        return done

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._count += 1
        _atomic_write(table.replace_schema_metadata(None), self.parts / f"part-{self._count:06d}.parquet")

    def finish(self, forget: set[bytes] | frozenset[bytes] = frozenset()) -> pa.Table:
        """Merge the parts into the output file (atomically) and remove the parts folder.

        An input retried on resume appears in several parts: only its last part's rows are kept.
        Parts are streamed into the output one at a time (memory holds one part, not the run).

        Args:
            forget: keys of inputs whose rows are dropped (files deleted since they were embedded).

        Returns:
            The summary columns (``path``, ``status``) of the written file.
        """
        last: dict[bytes, int] = {}
        for number, table in self._read_parts(columns=["path", "source_key"]):
            for key in row_keys(table):
                last[key] = number
        self._check_room_to_merge()
        sch = schema(self.dim, self.metadata)
        tmp = self.out.with_name(self.out.name + ".tmp")
        try:
            with pq.ParquetWriter(tmp, sch) as writer:
                for number, table in self._read_parts():
                    mask = [last[k] == number and k not in forget for k in row_keys(table)]
                    writer.write_table(table.filter(pa.array(mask, pa.bool_())).cast(sch))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:  # the disk filled up after all: the parts are whole, only the copy goes
            tmp.unlink(missing_ok=True)
            raise FeverError(f"{self.out}: cannot write the merged file ({exc}); {self._kept_parts()}") from None
        os.replace(tmp, self.out)
        shutil.rmtree(self.parts)
        return pq.read_table(self.out, columns=["path", "status"])

    def _kept_parts(self) -> str:
        return f"every finished row is kept in {self.parts}: make room and run again with --resume"

    def _check_room_to_merge(self) -> None:
        """The merge copies the parts into one file before it removes them: it needs their size free
        again (the copy is never larger; parts are removed only once the output is whole)."""
        need = sum(p.stat().st_size for p in self._part_files())
        free = shutil.disk_usage(self.out.parent).free
        if need > free:
            raise FeverError(
                f"{self.out}: merging the parts needs about {need / 2**20:.1f} MB free on its disk, "
                f"{free / 2**20:.1f} MB are; {self._kept_parts()}"
            )


def _read_manifest(manifest: Path) -> dict[str, str]:
    """The manifest of a run, or a FeverError that says it is damaged and what to do."""
    try:
        saved = json.loads(manifest.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeverError(f"{manifest}: damaged ({exc}); use --overwrite to start again") from None
    if not isinstance(saved, dict) or not all(isinstance(v, str) for v in saved.values()):
        raise FeverError(
            f"{manifest}: damaged (not an object of text settings, as fever-embed writes); "
            "use --overwrite to start again"
        )
    return saved


def _options_of(saved: dict[str, str], where: Path) -> dict[str, Any]:
    try:
        options = json.loads(saved.get("fever.options", "{}"))
    except ValueError as exc:
        raise FeverError(f"{where}: damaged fever.options ({exc}); use --overwrite to start again") from None
    if not isinstance(options, dict):
        raise FeverError(f"{where}: damaged fever.options (not an object); use --overwrite to start again")
    return options


# what a fever-embed output has, whichever version wrote it
OUTPUT_COLUMNS = ("path", "frame", "face", "box", "status", "embedding")


def read_output(path: str | Path) -> tuple[pa.Table, dict[str, Any]]:
    """A fever-embed parquet file and its metadata, checked: readable, written by fever-embed,
    with its columns (the one reader of the index and its query command).

    Raises:
        FeverError: naming the file and what is wrong with it.
    """
    try:
        meta = read_metadata(path)
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise FeverError(f"{path}: cannot be read as a parquet file ({exc})") from None
    if "fever.config_hash" not in meta:
        raise FeverError(f"{path}: was not written by fever-embed (no fever metadata)")
    missing = [c for c in OUTPUT_COLUMNS if c not in table.column_names]
    if missing:
        raise FeverError(f"{path}: has no column {missing[0]!r}; not a whole fever-embed output")
    if not pa.types.is_fixed_size_list(table.schema.field("embedding").type):
        raise FeverError(f"{path}: its embedding column is {table.schema.field('embedding').type}, not fever's vectors")
    return table, meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}
