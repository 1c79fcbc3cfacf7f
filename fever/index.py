"""Expression similarity search with faiss: find the faces that show the same expression.

Vectors are L2-normalised, so scores are cosine similarities. Kinds: ``exact`` (flat) and ``hnsw``
(graph, uncompressed) search by inner product; ``ivfpq``, ``opq-ivfpq`` and ``pca-ivfpq``
(compressed, trained on a sample) search by L2 distance, which ranks unit vectors as cosine does
and is turned back into cosine (1 - d^2/2). Why L2 for IVF: on 1M expression vectors, faiss's coarse
k-means and residual codes under inner product gave 0.33-0.51 10-recall@10 (an earlier version of
``fever-bench-index scale``), under L2 0.87-0.96 (README, Similarity search). An index folder holds
``index.faiss``, ``ids.parquet`` and ``manifest.json`` (model, revision, dimension, kind, count,
checksums); it is written into a temporary folder and renamed into place, and loading verifies the
checksums, so a half-written or damaged index never loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import FeverError
from .processes import pid_alive
from .result import STATUS_OK

logger = logging.getLogger(__name__)

KINDS = ("exact", "ivfpq", "opq-ivfpq", "pca-ivfpq", "hnsw")
L2_KINDS = ("ivfpq", "opq-ivfpq", "pca-ivfpq")
INDEX_FILE, IDS_FILE, MANIFEST_FILE = "index.faiss", "ids.parquet", "manifest.json"
ID_COLUMNS = ("id", "path", "frame", "face", "box")
ID_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("frame", pa.int32()),
        ("face", pa.int32()),
        ("box", pa.list_(pa.float32(), 4)),
    ]
)


class FeverIndexError(FeverError):
    """An index that cannot be built, loaded or searched as asked."""


# k-means wants 39 points per centroid (faiss warns below); an 8-bit PQ codebook has 256 entries
POINTS_PER_CENTROID = 39
MIN_COMPRESSED = POINTS_PER_CENTROID * 256


def _check_whole(name: str, value: Any, low: int) -> None:
    """The one rule for an index setting: a whole number of at least ``low`` (a manifest or a
    command line can hold anything; -1 or 0 would give empty neighbours or a division by zero)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise FeverIndexError(f"{name} must be a whole number of {low} or more, not {value!r}")


def _default_lists(count: int) -> int:
    """4 sqrt(n) IVF lists, no more than the collection can train (39 points each), 16 to 65,536."""
    return int(min(65536, max(16, 4 * np.sqrt(max(count, 1))), max(16, count // POINTS_PER_CENTROID)))


def _factory(kind: str, dim: int, count: int, nlist: int | None, m: int) -> str:
    if kind == "exact":
        return "Flat"
    if kind == "hnsw":
        return "HNSW32"
    lists = nlist or _default_lists(count)
    if kind == "opq-ivfpq":
        # OPQ rotates and projects to 4 dimensions per sub-quantiser (faiss's OPQ{m}_{4m} recipe), so
        # any m up to dim/4 works; m sets the code size: m bytes + 8 bytes of id per vector.
        if not 1 <= m <= dim // 4:
            raise FeverIndexError(f"OPQ+IVF-PQ needs 1 <= m <= dim/4 ({dim // 4}), not {m}")
        return f"OPQ{m}_{4 * m},IVF{lists},PQ{m}"
    if kind == "pca-ivfpq":
        # Expression vectors have few strong directions (8 of 256 hold 92% of the variance): keep the
        # 2m principal ones, rotate them at random so each 2-D sub-quantiser gets an equal share
        # (faiss's PCAR), then IVF-PQ on the residuals: m bytes of code + 8 bytes of id. The coarse
        # centroids are kept as 8-bit scalars: a quarter of the bytes buys four times the lists, and
        # on 1M vectors more lists (smaller residuals to encode) raised recall more than any other
        # use of the bytes (README, Similarity search).
        if not 1 <= m <= dim // 2:
            raise FeverIndexError(f"PCA+IVF-PQ needs 1 <= m <= dim/2 ({dim // 2}), not {m}")
        return f"PCAR{2 * m},IVF{lists}(SQ8),PQ{m}"
    if dim % m:
        raise FeverIndexError(f"PQ needs the dimension ({dim}) to be a multiple of m ({m})")
    return f"IVF{lists},PQ{m}"


def unit_vectors(vectors: np.ndarray, dim: int | None, what: str) -> np.ndarray:
    """``vectors`` as float32 rows of length 1, refused with a message naming ``what`` when they
    have the wrong shape or dimension, NaN/inf, or all-zero rows (inner product = cosine)."""
    try:
        x = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeverIndexError(f"{what} must be numbers, not {type(vectors).__name__} ({exc})") from None
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise FeverIndexError(f"{what} must be a 2-D array (n, dim), not shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise FeverIndexError(f"{what} have dimension {x.shape[1]}, the index has {dim}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise FeverIndexError(
            f"{what} contain NaN or infinite values in {int(bad.sum())} rows (first: row {int(np.flatnonzero(bad)[0])})"
        )
    # scaled by each row's largest value first: the norm of huge finite values (1e30 in float32)
    # overflows to inf, and x / inf = 0 matches everything with score 0
    peak = np.abs(x).max(axis=1, keepdims=True)
    if (peak == 0).any():
        raise FeverIndexError(f"{what} contain all-zero rows, which have no direction to compare")
    x = x / peak
    return np.ascontiguousarray((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))


def _ids_table(ids: Sequence[Any] | pa.Table | None, start: int, count: int) -> pa.Table:
    if isinstance(ids, pa.Table):
        table = ids
    else:
        values = [str(i) for i in ids] if ids is not None else [str(start + i) for i in range(count)]
        table = pa.table({"id": values})
    if table.num_rows != count:
        raise FeverIndexError(f"{table.num_rows} ids for {count} vectors")
    for field in ID_SCHEMA:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(count, field.type))
    return table.select(list(ID_COLUMNS)).cast(ID_SCHEMA)


@dataclass
class SearchResult:
    """``ids[q]`` and ``scores[q]`` (cosine similarity, best first) for each query ``q``."""

    ids: list[list[str]]
    scores: np.ndarray
    rows: np.ndarray  # positions in the index's id table
    table: pa.Table

    def neighbours(self, q: int) -> list[dict[str, Any]]:
        return [
            {**self.table.slice(int(r), 1).to_pylist()[0], "score": float(s)}
            for r, s in zip(self.rows[q], self.scores[q])
        ]


class Index:
    """A faiss index of expression vectors plus the table that says whose each vector is.

    Args:
        dim: vector dimension.
        kind: ``exact``, ``ivfpq``, ``opq-ivfpq``, ``pca-ivfpq`` or ``hnsw``.
        model, config_hash, revision: the model whose vectors these are (queries must match).
        nlist: IVF lists (default 4 sqrt(n)); m: code bytes per vector of compressed kinds.
        nprobe: IVF lists visited per query; ef_search: HNSW search breadth.
        fit_to_size: a compressed kind asked for a collection too small to train it (fewer than
            9,984 vectors: 39 per entry of the 256-entry codebooks) becomes ``exact``, with one
            logged line: at that size exact search is faster, exact and small. False keeps the kind.
    """

    def __init__(
        self,
        dim: int,
        kind: str = "exact",
        *,
        model: str = "",
        config_hash: str = "",
        revision: str = "",
        nlist: int | None = None,
        m: int = 32,
        nprobe: int = 32,
        ef_search: int = 128,
        fit_to_size: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise FeverIndexError(f"kind must be one of {KINDS}, not {kind!r}")
        _check_whole("dim", dim, 1)
        _check_whole("m", m, 1)
        _check_whole("nprobe", nprobe, 1)
        _check_whole("ef_search", ef_search, 1)
        if nlist is not None:
            _check_whole("nlist", nlist, 1)
        self.dim, self.kind = dim, kind
        self.model, self.config_hash, self.revision = model, config_hash, revision
        self.nlist, self.m, self.nprobe, self.ef_search = nlist, m, nprobe, ef_search
        self.fit_to_size = fit_to_size
        self.faiss_index: Any = None
        self.factory = ""
        self.trained_on = 0  # vectors the quantisers were trained on (0: nothing to train)
        self.ids = _ids_table(None, 0, 0)

    # -- building -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        ids: Sequence[Any] | pa.Table | None = None,
        kind: str = "exact",
        train_size: int = 200_000,
        seed: int = 0,
        **kwargs: Any,
    ) -> "Index":
        """Index ``vectors``; compressed kinds train their quantiser on a sample first.

        Args:
            vectors: (n, dim) float array.
            ids: one id per vector, or a table with an ``id`` column (default: row numbers).
            kind: the index kind.
            train_size, seed: the training sample of compressed kinds.
            **kwargs: as for :class:`Index`.

        Returns:
            The filled index.
        """
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise FeverIndexError(f"cannot build an index from an array of shape {x.shape}: need (n > 0, dim)")
        index = cls(x.shape[1], kind, **kwargs)
        index.train(x, train_size=train_size, seed=seed)
        index.add(x, ids)
        return index

    @classmethod
    def from_parquet(cls, paths: Sequence[str | Path], kind: str = "exact", **kwargs: Any) -> "Index":
        """Build from ``fever-embed`` outputs: ids are ``path#frame#face``, rows without a face are left out.

        Args:
            paths: parquet files written by ``fever-embed`` with one model.
            kind: the index kind.
            **kwargs: as for :meth:`build`.

        Returns:
            The filled index, tied to the files' model.
        """
        from .parquet import embeddings, read_output

        tables, metas = [], []
        for p in paths:
            try:
                table, meta = read_output(p)
            except FeverError as exc:
                raise FeverIndexError(str(exc)) from None
            tables.append(table)
            metas.append(meta)
        hashes = {m.get("fever.config_hash") for m in metas}
        if len(hashes) > 1:
            raise FeverIndexError(
                f"the parquet files come from different models (config hashes {sorted(map(str, hashes))})"
            )
        table = pa.concat_tables(tables)
        table = table.filter(pa.compute.equal(table.column("status"), STATUS_OK))
        if table.num_rows == 0:
            raise FeverIndexError(f"no face vectors in {', '.join(map(str, paths))}")
        ids = pa.table(
            {
                "id": [
                    f"{p}#{f}#{c}"
                    for p, f, c in zip(
                        table.column("path").to_pylist(),
                        table.column("frame").to_pylist(),
                        table.column("face").to_pylist(),
                    )
                ],
                "path": table.column("path"),
                "frame": table.column("frame"),
                "face": table.column("face"),
                "box": table.column("box"),
            }
        )
        meta = metas[0]
        kwargs.setdefault("model", meta.get("fever.model", ""))
        kwargs.setdefault("config_hash", meta.get("fever.config_hash", ""))
        kwargs.setdefault("revision", meta.get("fever.revision", ""))
        return cls.build(embeddings(table), ids, kind=kind, **kwargs)

    def train(self, vectors: np.ndarray, train_size: int = 200_000, seed: int = 0) -> None:
        """Train the quantisers on a sample of ``vectors``: ``train_size`` of them, or 10 per IVF
        list when that is more (k-means needs several points per centroid).

        Args:
            vectors: (n, dim) float array.
            train_size: the sample size.
            seed: the sample's seed.
        """
        import faiss

        x = unit_vectors(vectors, self.dim, "training vectors")
        if self.fit_to_size and self.kind in L2_KINDS and len(x) < MIN_COMPRESSED:
            logger.warning(
                "%d vectors: too few to train %s (needs %d); using exact search, which is faster and exact at this "
                "size (Index(..., fit_to_size=False) keeps the kind)",
                len(x),
                self.kind,
                MIN_COMPRESSED,
            )
            self.kind = "exact"
        self.factory = _factory(self.kind, self.dim, len(vectors), self.nlist, self.m)
        metric = faiss.METRIC_L2 if self.kind in L2_KINDS else faiss.METRIC_INNER_PRODUCT
        index = faiss.index_factory(self.dim, self.factory, metric)
        ivf = faiss.try_extract_index_ivf(index)
        lists = ivf.nlist if ivf is not None else 0
        if ivf is not None and not isinstance(faiss.downcast_index(ivf.quantizer), faiss.IndexFlat):
            # k-means on exact fp32 centroids (BLAS), then stored in the compressed coarse quantiser
            ivf.quantizer_trains_alone = 2
        sample = max(train_size, 10 * lists)
        if len(x) > sample:
            x = x[np.random.default_rng(seed).choice(len(x), sample, replace=False)]
        if not index.is_trained:
            need = max(lists, 256)  # k-means of the coarse quantiser and of the 256-entry PQ codebooks
            if len(x) < need:
                raise FeverIndexError(
                    f"kind {self.kind!r} ({self.factory}) needs at least {need} vectors to train its "
                    f"quantiser; got {len(x)}. Use kind='exact' for small collections."
                )
            index.train(x)
            self.trained_on = len(x)
        self.faiss_index = index
        self._apply_search_params()

    def set_search_params(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Change how much of the index a search visits.

        Args:
            nprobe: IVF lists visited per query (IVF kinds).
            ef_search: HNSW search breadth.
        """
        if nprobe is not None:
            _check_whole("nprobe", nprobe, 1)
            self.nprobe = nprobe
        if ef_search is not None:
            _check_whole("ef_search", ef_search, 1)
            self.ef_search = ef_search
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        import faiss

        ps = faiss.ParameterSpace()
        if "IVF" in self.factory:
            ps.set_index_parameter(self.faiss_index, "nprobe", self.nprobe)
        if self.factory.startswith("HNSW"):
            ps.set_index_parameter(self.faiss_index, "efSearch", self.ef_search)

    def add(self, vectors: np.ndarray, ids: Sequence[Any] | pa.Table | None = None) -> None:
        """Add vectors (and their ids) to a trained index; can be called again later.

        Args:
            vectors: (n, dim) float array.
            ids: one id per vector, or a table with an ``id`` column (default: running numbers).
        """
        if self.faiss_index is None:
            self.train(vectors)
        x = unit_vectors(vectors, self.dim, "vectors to add")
        table = _ids_table(ids, len(self), len(x))
        self.faiss_index.add(x)
        self.ids = pa.concat_tables([self.ids, table])

    def __len__(self) -> int:
        return 0 if self.faiss_index is None else int(self.faiss_index.ntotal)

    # -- searching ------------------------------------------------------------------------------------
    def search(self, queries: Any, k: int = 10, model: Any = None) -> SearchResult:
        """Nearest neighbours of query vectors, or of images embedded with the index's model.

        Args:
            queries: a 1-D or 2-D float array of vectors, or images (paths, PIL images, uint8
                arrays; :meth:`search_images` is the explicit form).
            k: neighbours per query.
            model: the index's model, when it cannot be found by its name.

        Returns:
            A :class:`SearchResult`: cosine scores, row numbers and the id table.
        """
        if len(self) == 0:
            raise FeverIndexError("the index is empty: add vectors before searching")
        if not 1 <= k <= len(self):
            raise FeverIndexError(f"k={k} must be between 1 and the number of vectors in the index ({len(self)})")
        import faiss

        vectors = queries if _is_vector_array(queries) else self.embed_queries(queries, model)
        x = unit_vectors(vectors, self.dim, "queries")
        scores, rows = self.faiss_index.search(x, k)
        if self.faiss_index.metric_type == faiss.METRIC_L2:
            scores = 1 - scores / 2  # squared L2 between unit vectors -> cosine
        scores[rows < 0] = -np.inf  # fewer than k found in the lists searched
        flat = self.ids.column("id").to_pylist()
        return SearchResult([[flat[r] if r >= 0 else "" for r in row] for row in rows], scores, rows, self.ids)

    def search_images(self, images: Any, k: int = 10, model: Any = None) -> SearchResult:
        """Nearest neighbours of the faces in query images, embedded with the index's model.

        Args:
            images: what :func:`fever.extract` takes.
            k: neighbours per query face.
            model: the index's model, when it cannot be found by its name.

        Returns:
            A :class:`SearchResult`, one query per face found.
        """
        return self.search(self.embed_queries(images, model), k)

    def embed_queries(self, images: Any, model: Any = None) -> np.ndarray:
        """Embed query images with the index's own model (refusing another).

        Args:
            images: what :func:`fever.extract` takes.
            model: the index's model, when it cannot be found by its name.

        Returns:
            (n_faces, dim) vectors.
        """
        from .extractor import Extractor

        extractor = model if isinstance(model, Extractor) else Extractor(model or self.model)
        self.check_model(extractor)  # before spending time on extraction
        return self.embed_queries_from(extractor.extract(images), extractor)

    def check_model(self, extractor: Any) -> None:
        """Refuse an extractor whose model is not the one the index was built with.

        Args:
            extractor: a :class:`fever.Extractor`.
        """
        got = extractor.config.config_hash()
        if self.config_hash and got != self.config_hash:
            raise FeverIndexError(
                f"the index was built with model {self.model!r} (config {self.config_hash}); "
                f"queries were embedded with {extractor.config.name!r} (config {got}). "
                "Use the index's model for queries."
            )

    def embed_queries_from(self, result: Any, extractor: Any) -> np.ndarray:
        """The face vectors of an extraction, after checking its model is the index's.

        Args:
            result: a :class:`fever.Extraction`.
            extractor: the extractor that made it.

        Returns:
            (n_faces, dim) vectors.
        """
        self.check_model(extractor)
        if not result.ok.any():
            raise FeverIndexError("no face found in the query images: " + "; ".join(r.error or "" for r in result.rows))
        return result.vectors[result.ok]

    # -- persistence ----------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` holds (without the checksums, which :meth:`save` adds).

        Returns:
            Format, model, revision, config hash, dimension, kind, settings and count.
        """
        from . import __version__

        return {
            "format": "fever-index",
            "version": 1,
            "fever_version": __version__,
            "model": self.model,
            "revision": self.revision,
            "config_hash": self.config_hash,
            "dim": self.dim,
            "kind": self.kind,
            "factory": self.factory,
            "count": len(self),
            "nprobe": self.nprobe,
            "ef_search": self.ef_search,
            "m": self.m,
            "nlist": self.nlist,
            "trained_on": self.trained_on,
        }

    def save(self, folder: str | Path) -> Path:
        """Write the folder atomically: a reader sees the old index or the new one, never a mix.

        Args:
            folder: the index folder to write.

        Returns:
            The folder.
        """
        import faiss

        if self.faiss_index is None:
            raise FeverIndexError("nothing to save: the index was never trained or filled")
        target = Path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        # os.mkdir follows the umask (mkdtemp would make the folder 0700)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.mkdir(tmp)
        faiss.write_index(self.faiss_index, str(tmp / INDEX_FILE))
        pq.write_table(self.ids, tmp / IDS_FILE)
        manifest = self.manifest()
        manifest["checksums"] = {name: _sha256(tmp / name) for name in (INDEX_FILE, IDS_FILE)}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)  # killed just before this, the previous index waits in `old`: load() restores it
        if old is not None:
            shutil.rmtree(old)
        for stale in _interrupted_saves(target):  # earlier saves killed between the renames
            shutil.rmtree(stale, ignore_errors=True)
        return target

    @classmethod
    def load(cls, folder: str | Path) -> "Index":
        """Read an index folder, verifying every file against the manifest's checksums.

        Args:
            folder: a folder written by :meth:`save`.

        Returns:
            The index.
        """
        import faiss

        folder = Path(folder)
        if not folder.is_dir():
            left = _interrupted_saves(folder)
            if not left:
                raise FeverIndexError(f"{folder}: no such index folder")
            # a save was killed between its two renames: the previous index is whole in its backup
            os.replace(left[-1], folder)
            logger.warning("%s: a save that replaced it was interrupted; the previous index is restored", folder)
        for name in (MANIFEST_FILE, INDEX_FILE, IDS_FILE):
            if not (folder / name).is_file():
                raise FeverIndexError(f"{folder / name}: missing; the index folder is incomplete (build it again)")
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except json.JSONDecodeError as exc:
            raise FeverIndexError(f"{folder / MANIFEST_FILE}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != "fever-index":
            raise FeverIndexError(f"{folder / MANIFEST_FILE}: not a fever index manifest")
        # the two files of an index, by their fixed names: the manifest never chooses what is read
        checksums = manifest.get("checksums")
        if not isinstance(checksums, dict) or set(checksums) != {INDEX_FILE, IDS_FILE}:
            raise FeverIndexError(
                f"{folder / MANIFEST_FILE}: needs the checksums of exactly {INDEX_FILE} and {IDS_FILE}, "
                f"has {sorted(checksums) if isinstance(checksums, dict) else checksums!r}; build the index again"
            )
        for name in (INDEX_FILE, IDS_FILE):
            if _sha256(folder / name) != checksums[name]:
                raise FeverIndexError(
                    f"{folder / name}: checksum does not match the manifest (corrupt or changed file)"
                )
        try:
            index = cls._from_manifest(manifest)
        except KeyError as exc:
            raise FeverIndexError(f"{folder / MANIFEST_FILE}: damaged manifest (no {exc})") from None
        except FeverIndexError as exc:
            raise FeverIndexError(f"{folder / MANIFEST_FILE}: damaged manifest ({exc})") from None
        except (TypeError, ValueError) as exc:
            raise FeverIndexError(f"{folder / MANIFEST_FILE}: damaged manifest ({type(exc).__name__}: {exc})") from None
        count = manifest["count"]
        try:
            index.faiss_index = faiss.read_index(str(folder / INDEX_FILE))
            index.ids = pq.read_table(folder / IDS_FILE)
        except (RuntimeError, OSError, pa.ArrowException) as exc:
            raise FeverIndexError(f"{folder}: cannot read the index files ({type(exc).__name__}: {exc})") from None
        missing = [c for c in ID_COLUMNS if c not in index.ids.column_names]
        if missing:
            raise FeverIndexError(f"{folder / IDS_FILE}: has no {missing[0]!r} column; build the index again")
        if len(index) != count or index.ids.num_rows != count or index.faiss_index.d != index.dim:
            raise FeverIndexError(f"{folder}: the index, the id table and the manifest disagree on size or dimension")
        index._apply_search_params()
        return index

    @classmethod
    def _from_manifest(cls, manifest: dict[str, Any]) -> "Index":
        index = cls(
            manifest["dim"],
            manifest["kind"],
            model=manifest["model"],
            config_hash=manifest["config_hash"],
            revision=manifest["revision"],
            nlist=manifest["nlist"],
            m=manifest["m"],
            nprobe=manifest["nprobe"],
            ef_search=manifest["ef_search"],
        )
        index.factory, index.trained_on = manifest["factory"], manifest.get("trained_on", 0)
        _check_whole("count", manifest["count"], 0)
        return index


def _is_vector_array(queries: Any) -> bool:
    """Which queries are vectors (their dimension is then checked), by type, not by size:

    - numpy arrays: float arrays of 1 or 2 dimensions, and 1-D or signed 2-D integer arrays
      (images are uint8/uint16, or 3-D);
    - lists and tuples of numbers (one vector) or of such lists or 1-D arrays (several);
    - anything else (paths, PIL images, uint8 arrays, lists of those) is images.
    """
    if isinstance(queries, np.ndarray):
        kind = queries.dtype.kind
        return (
            (kind == "f" and queries.ndim in (1, 2))
            or (kind in "iu" and queries.ndim == 1)
            or (kind == "i" and queries.ndim == 2)
        )
    if isinstance(queries, (list, tuple)) and queries:
        if all(_is_number(v) for v in queries):
            return True
        return all(
            (isinstance(v, (list, tuple)) and v and all(_is_number(e) for e in v))
            or (isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "fiu")
            for v in queries
        )
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _interrupted_saves(target: Path) -> list[Path]:
    """Backups that :meth:`Index.save` left when its process died between its two renames, oldest first.

    A backup whose process is still alive belongs to a save in progress and is not listed.
    """
    found = []
    for path in target.parent.glob(f".{target.name}.old-*"):
        pid = path.name.rsplit("-", 1)[-1]
        # this process is not saving while it loads
        if path.is_dir() and pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
            found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _sha256(path: Path) -> str:
    if not path.is_file():  # a FIFO or a device would never end: only regular files are read
        raise FeverIndexError(f"{path}: not a regular file")
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
