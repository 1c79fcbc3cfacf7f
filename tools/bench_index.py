"""Similarity-search benchmarks of expression vectors with faiss.

``quality``: precision@10 of same-class neighbours on FER+ test (majority labels) and triplet
accuracy on the frozen FER+ test triplets, for each index kind, with a model's real vectors.

``scale``: N vectors of dimension D made from real ones: the real vectors (FER+, UTKFace, every
frame of the shared videos, and any fever-embed parquet files given) are L2-normalised and the
collection is filled up to N with points between each real vector and one of its 10 nearest real
neighbours (see ``synthetic_collection``). For
each kind: build time, bytes per vector (size of the saved index file / N), latency p50/p99 of
single queries and per query in batches of 1000, and recall@10 against exact search; a plain
numpy brute force is timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from distill.datasets import add_data_root_argument
from fever.cli.app import Command, run
from fever.index import Index, unit_vectors


def ferplus_vectors(model: str | None, data_root: Path, split: str) -> tuple[np.ndarray, np.ndarray, Any]:
    from distill.evaluate import split_vectors
    from distill.ferplus import load_split
    from fever.extractor import get_extractor

    s = load_split(data_root / "ferplus", split)
    return split_vectors(get_extractor(model, device="cpu"), s)["embedding"], s.majority, s


def real_vectors(model: str | None, data_root: Path) -> dict[str, np.ndarray]:
    """Every real face vector the shared datasets give: FER+ (train, valid, test), UTKFace (its
    biggest detected face per photo) and every frame of the shared videos (every face; full detection every 5th
    frame)."""
    import fever

    from .probe_experiments import utkface_vectors

    out = {f"ferplus {s}": ferplus_vectors(model, data_root, s)[0] for s in ("train", "valid", "test")}
    out["utkface"] = utkface_vectors(model, data_root)[0]
    frames = []
    for video in sorted((data_root / "videos").glob("*")):
        v = fever.extract_video(video, model=model, device="cpu", detect_every=5, show_progress_bar=False).vectors
        frames.append(v[np.isfinite(v).all(axis=1)])
    out["video frames"] = np.concatenate(frames)
    return out


def stored_vectors(index: Index, x: np.ndarray) -> np.ndarray:
    """``x`` as the index holds it: decoded from its codes for the compressed kinds (the vectors
    its scores are computed from), unchanged for the kinds that keep full vectors."""
    if index.kind in ("exact", "hnsw"):
        return unit_vectors(x, None, "vectors")
    return index.faiss_index.sa_decode(index.faiss_index.sa_encode(unit_vectors(x, None, "vectors")))


def quality(model: str | None, data_root: Path, kinds: list[str]) -> list[dict[str, Any]]:
    """Per kind: the quantiser is trained on FER+ train vectors (other faces, as a sample of a
    collection would be), the index holds FER+ test; precision@10 of same-class neighbours and
    triplet accuracy on the frozen test triplets computed from the vectors as the index stores them."""
    from distill.evaluate import load_test_triplets
    from probes.metrics import triplet_accuracy

    train_vectors, _, _ = ferplus_vectors(model, data_root, "train")
    vectors, labels, split = ferplus_vectors(model, data_root, "test")
    keep = labels >= 0
    x, y = vectors[keep], labels[keep]
    triplets = load_test_triplets(split)
    rows = []
    for spec in kinds:
        kind, m, _ = _parse_kind(spec)
        index = Index(vectors.shape[1], kind, m=m, nlist=64, fit_to_size=False)  # measure the kind asked for
        index.train(train_vectors)
        index.add(x)
        neighbours = index.search(x, k=11).rows[:, 1:]  # drop the query itself
        rows.append(
            {
                "kind": spec,
                "factory": index.factory,
                "precision_at_10": float((y[neighbours] == y[:, None]).mean()),
                "triplet_accuracy": triplet_accuracy(stored_vectors(index, vectors), triplets),
                "n": int(len(x)),
                "n_train": int(len(train_vectors)),
            }
        )
    return rows


def synthetic_collection(real: np.ndarray, total: int, seed: int = 0, neighbours: int = 10) -> np.ndarray:
    """The real vectors first, then points on the segments between a real vector and one of its
    ``neighbours`` nearest real vectors (random position, renormalised) up to ``total``.

    Why not a fitted Gaussian mixture: samples of a diagonal mixture are isotropic noise around 64
    centres, on which neighbour search has nothing to find (measured on 200k such vectors: IVF1024,PQ32
    recall@10 0.12, against 0.58 on 200k interpolated ones). Interpolation keeps new points on
    the manifold of real expression vectors, as more real faces would.
    """
    import faiss

    real = unit_vectors(real, None, "real vectors")
    rng = np.random.default_rng(seed)
    flat = faiss.IndexFlatIP(real.shape[1])
    flat.add(real)
    k = min(neighbours, len(real) - 1)
    _, nn = flat.search(real, k + 1)
    count = max(0, total - len(real))
    a = rng.integers(0, len(real), count)
    b = nn[a, 1 + rng.integers(0, k, count)]
    lam = rng.random((count, 1)).astype(np.float32)
    extra = (1 - lam) * real[a] + lam * real[b]
    return np.concatenate([real, unit_vectors(extra, None, "interpolated vectors")])[:total]


def _timed(fn, repeat: int = 1) -> tuple[Any, float]:
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return out, (time.perf_counter() - start) / repeat


def _parse_kind(spec: str) -> tuple[str, int, int | None]:
    """``pca-ivfpq:48:16384`` -> (kind, m code bytes, IVF lists); ``m`` defaults to 32 and the
    lists to the index's own default (4 sqrt(n))."""
    kind, m, nlist = (spec.split(":") + ["", ""])[:3]
    return kind, int(m) if m else 32, int(nlist) if nlist else None


def _recalls(found: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float]:
    """recall@k as the overlap of the k found with the exact k (10-recall@10), and faiss's
    1-recall@k: the share of queries whose exact nearest neighbour is among the k found."""
    overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth)]))
    first = float(np.mean([t[0] in f for f, t in zip(found, truth)]))
    return overlap, first


def scale(
    collection: np.ndarray, queries: np.ndarray, kinds: list[str], k: int = 10, nprobes: tuple[int, ...] = (16, 64)
) -> list[dict[str, Any]]:
    import faiss

    exact = faiss.IndexFlatIP(collection.shape[1])
    exact.add(collection)
    _, truth = exact.search(queries, k)
    rows = []

    def numpy_search(q: np.ndarray) -> np.ndarray:
        scores = q @ collection.T
        return np.argpartition(-scores, k, axis=1)[:, :k]

    _, t_batch = _timed(lambda: numpy_search(queries[:100]))
    singles = [_timed(lambda i=i: numpy_search(queries[i : i + 1]))[1] for i in range(20)]
    rows.append(
        {
            "kind": "numpy brute force",
            "build_s": 0.0,
            "bytes_per_vector": collection.shape[1] * 4,
            "single_p50_ms": 1000 * statistics.median(singles),
            "single_p99_ms": 1000 * float(np.percentile(singles, 99)),
            "batched_ms_per_query": 1000 * t_batch / 100,
            "recall_at_10": 1.0,
            "1_recall_at_10": 1.0,
        }
    )
    for spec in kinds:
        kind, m, nlist = _parse_kind(spec)
        index = Index(collection.shape[1], kind, m=m, nlist=nlist, fit_to_size=False)
        _, build = _timed(lambda: (index.train(collection), index.faiss_index.add(collection)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.faiss"
            faiss.write_index(index.faiss_index, str(path))
            size = path.stat().st_size
        for nprobe in nprobes if "IVF" in index.factory else (None,):
            if nprobe is not None:
                index.set_search_params(nprobe=nprobe)
            (_, found), t_batch = _timed(lambda: index.faiss_index.search(queries, k))
            singles = [_timed(lambda i=i: index.faiss_index.search(queries[i : i + 1], k))[1] for i in range(200)]
            overlap, first = _recalls(found, truth, k)
            rows.append(
                {
                    "kind": f"{kind} ({index.factory}{f', nprobe {nprobe}' if nprobe else ''})",
                    "build_s": build,
                    "bytes_per_vector": size / len(collection),
                    "single_p50_ms": 1000 * statistics.median(singles),
                    "single_p99_ms": 1000 * float(np.percentile(singles, 99)),
                    "batched_ms_per_query": 1000 * t_batch / len(queries),
                    "recall_at_10": overlap,
                    "1_recall_at_10": first,
                }
            )
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class _IndexBench(Command):
    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        add_data_root_argument(p)
        p.add_argument(
            "--kinds",
            default="exact,ivfpq,opq-ivfpq,opq-ivfpq:52,pca-ivfpq:48:65536,hnsw",
            help="index kinds as kind[:m[:lists]]: pca-ivfpq:48:65536 is 48 code bytes and 65536 IVF lists; "
            "m defaults to 32, lists to 4 sqrt(n) (scale) and to 64 for the 3,376 test faces (quality)",
        )
        p.add_argument("--json", type=Path, help="also write the rows here")

    def rows(self, args: argparse.Namespace, kinds: list[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def run(self, args: argparse.Namespace) -> int:
        rows = self.rows(args, args.kinds.split(","))
        print(_table(rows))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0


class QualityCommand(_IndexBench):
    name = "quality"
    help = "precision@10 and triplet accuracy of each index kind on FER+ test (quantisers trained on FER+ train)"

    def rows(self, args: argparse.Namespace, kinds: list[str]) -> list[dict[str, Any]]:
        return quality(args.model, args.data_root, kinds)


class ScaleCommand(_IndexBench):
    name = "scale"
    help = "recall, bytes per vector and query time of each kind on a collection of --total vectors"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--nprobe", default="16,64", help="IVF lists searched, one row each")
        p.add_argument(
            "--vectors", nargs="*", type=Path, default=[], help="extra fever-embed parquet files of real vectors"
        )
        p.add_argument("--total", type=int, default=1_000_000, help="size of the collection")
        p.add_argument("--queries", type=int, default=1000, help="held-out query vectors")

    def rows(self, args: argparse.Namespace, kinds: list[str]) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        from fever.parquet import embeddings

        sources = real_vectors(args.model, args.data_root)
        print("real vectors: " + ", ".join(f"{name} {len(v)}" for name, v in sources.items()))
        real = list(sources.values())
        for f in args.vectors:
            v = embeddings(pq.read_table(f))
            real.append(v[np.isfinite(v).all(axis=1)])
        real_x = np.concatenate(real)
        rng = np.random.default_rng(1)
        collection = synthetic_collection(real_x, args.total + args.queries)
        order = rng.permutation(len(collection))
        queries, collection = collection[order[: args.queries]], collection[order[args.queries :]]
        print(f"{len(real_x)} real vectors, extended to {len(collection)} (+{len(queries)} held-out queries)")
        return scale(collection, queries, kinds, nprobes=tuple(int(n) for n in args.nprobe.split(",")))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-bench-index``: ``quality`` or ``scale``.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    return run("fever-bench-index", __doc__, [QualityCommand(), ScaleCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
