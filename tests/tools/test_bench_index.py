"""fever-bench-index: the pieces of the search benchmarks."""

import numpy as np

from fever.index import Index


def test_scale_benchmark_pieces():
    from tools.bench_index import scale, synthetic_collection

    rng = np.random.default_rng(0)
    real = (rng.normal(size=(500, 16)) + 3 * rng.normal(size=(1, 16))).astype(np.float32)
    col = synthetic_collection(real, 2000)
    assert col.shape == (2000, 16) and np.allclose(np.linalg.norm(col, axis=1), 1, atol=1e-5)
    assert np.allclose(col[:500], real / np.linalg.norm(real, axis=1, keepdims=True), atol=1e-6)  # the real ones first
    rows = scale(col[50:], col[:50], ["exact", "hnsw"])
    by_kind = {r["kind"].split(" (")[0]: r for r in rows}
    assert set(by_kind) == {"numpy brute force", "exact", "hnsw"}
    assert by_kind["exact"]["recall_at_10"] == 1.0 and by_kind["exact"]["bytes_per_vector"] >= 16 * 4
    assert by_kind["hnsw"]["recall_at_10"] > 0.8


def test_recall_measures_know_the_answer():
    from tools.bench_index import _parse_kind, _recalls

    truth = np.array([[0, 1, 2], [3, 4, 5]])
    found = np.array([[0, 2, 9], [9, 8, 4]])  # query 0: 2 of 3 and its nearest; query 1: 1 of 3, nearest missing
    assert _recalls(found, truth, 3) == (0.5, 0.5)
    assert _parse_kind("opq-ivfpq:52") == ("opq-ivfpq", 52, None) and _parse_kind("hnsw") == ("hnsw", 32, None)
    assert _parse_kind("pca-ivfpq:48:16384") == ("pca-ivfpq", 48, 16384)


def test_scale_benchmark_gives_a_row_per_nprobe():
    from tools.bench_index import scale, synthetic_collection

    rng = np.random.default_rng(0)
    col = synthetic_collection(rng.normal(size=(800, 16)).astype(np.float32), 3000)
    rows = scale(col[50:], col[:50], ["ivfpq:4"], nprobes=(1, 64))
    pq_rows = [r for r in rows if r["kind"].startswith("ivfpq")]
    assert [r["kind"].endswith(f"nprobe {n})") for n, r in zip((1, 64), pq_rows)] == [True, True]
    assert pq_rows[1]["recall_at_10"] >= pq_rows[0]["recall_at_10"] and pq_rows[0]["bytes_per_vector"] < 16 * 4


def test_stored_vectors_are_what_the_index_scores(clustered):
    """Triplet accuracy per kind is computed from the vectors as each index holds them."""
    from tools.bench_index import stored_vectors

    x, _ = clustered
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact, ivfpq = Index.build(x), Index.build(x, kind="ivfpq", m=4, nlist=8, fit_to_size=False)
    np.testing.assert_array_equal(stored_vectors(exact, x), exact.faiss_index.reconstruct_n(0, len(x)))
    np.testing.assert_allclose(stored_vectors(exact, x), unit, atol=1e-6)
    decoded = stored_vectors(ivfpq, x)
    assert decoded.shape == x.shape and not np.allclose(decoded, unit)
    # IVF kinds search by L2: their scores are 1 - |q - x|^2 / 2 with x decoded from the codes
    res = ivfpq.search(unit[:5], k=3)
    distances = ((unit[:5, None, :] - decoded[res.rows]) ** 2).sum(-1)
    assert np.allclose(res.scores, 1 - distances / 2, atol=1e-4)
