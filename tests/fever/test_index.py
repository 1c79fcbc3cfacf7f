"""fever.Index: exact and compressed search, incremental add, safe save/load, clear errors."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from fever.cli.embed import main as embed_main
from fever.index import FeverIndexError, Index
from tests.helpers import SAMPLES


def test_exact_search_known_answers(clustered):
    x, labels = clustered
    index = Index.build(x, ids=[f"v{i}" for i in range(len(x))])
    res = index.search(x[[0, 150]], k=5)
    assert res.ids[0][0] == "v0" and res.ids[1][0] == "v150"
    assert res.scores[0][0] == pytest.approx(1.0, abs=1e-5)
    assert (np.diff(res.scores, axis=1) <= 1e-6).all()  # best first
    assert all(labels[int(i[1:])] == 0 for i in res.ids[0]) and all(labels[int(i[1:])] == 1 for i in res.ids[1])


@pytest.mark.parametrize("kind", ["ivfpq", "opq-ivfpq", "pca-ivfpq", "hnsw"])
def test_compressed_kinds_find_the_same_cluster(clustered, kind):
    x, labels = clustered
    index = Index.build(x, kind=kind, m=8, nlist=8, fit_to_size=False)
    res = index.search(x[::100], k=10)
    same = labels[res.rows] == labels[::100][:, None]
    assert same.mean() > 0.95
    # scores are cosine similarities whatever the metric inside (L2 for the IVF kinds)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosine = np.einsum("qd,qkd->qk", unit[::100], unit[res.rows])
    assert np.abs(res.scores - cosine).max() < 0.05 and res.scores.max() <= 1.05


def test_add_incrementally_and_round_trip(clustered, tmp_path):
    x, _ = clustered
    index = Index.build(x[:300], model="m", config_hash="abc")
    index.add(x[300:], ids=[f"late{i}" for i in range(300)])
    assert len(index) == 600 and index.ids.column("id").to_pylist()[300] == "late0"
    folder = index.save(tmp_path / "idx")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["count"] == 600 and manifest["dim"] == 32 and manifest["kind"] == "exact"
    assert set(manifest["checksums"]) == {"index.faiss", "ids.parquet"}
    loaded = Index.load(folder)
    a, b = index.search(x[:3], 4), loaded.search(x[:3], 4)
    assert a.ids == b.ids and np.allclose(a.scores, b.scores)
    index.add(x[:10])  # overwriting keeps one complete folder
    index.save(folder)
    assert Index.load(folder).manifest()["count"] == 610
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no temporary leftovers


def test_errors(clustered, tmp_path):
    x, _ = clustered
    index = Index.build(x[:50])
    with pytest.raises(FeverIndexError, match="k=51 must be between 1 and the number of vectors in the index \\(50\\)"):
        index.search(x[:1], k=51)
    with pytest.raises(FeverIndexError, match="queries have dimension 16, the index has 32"):
        index.search(np.ones((1, 16), np.float32), k=1)
    nan = x[:2].copy()
    nan[1, 3] = np.nan
    with pytest.raises(FeverIndexError, match="queries contain NaN or infinite values in 1 rows \\(first: row 1\\)"):
        index.search(nan, k=1)
    with pytest.raises(FeverIndexError, match="the index is empty"):
        Index(32).search(x[:1], k=1)
    with pytest.raises(FeverIndexError, match="needs at least 256 vectors to train"):
        Index.build(x[:100], kind="ivfpq", m=8, nlist=4, fit_to_size=False)
    with pytest.raises(FeverIndexError, match="kind must be one of"):
        Index(32, kind="lsh")
    with pytest.raises(FeverIndexError, match="2 ids for 3 vectors"):
        Index.build(x[:3], ids=["a", "b"])


def test_damaged_folders_never_load(clustered, tmp_path):
    x, _ = clustered
    folder = Index.build(x[:50]).save(tmp_path / "idx")
    data = (folder / "index.faiss").read_bytes()
    (folder / "index.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(FeverIndexError, match="index.faiss: checksum does not match"):
        Index.load(folder)
    (folder / "index.faiss").write_bytes(data)
    (folder / "ids.parquet").unlink()
    with pytest.raises(FeverIndexError, match="ids.parquet: missing"):
        Index.load(folder)
    with pytest.raises(FeverIndexError, match="no such index folder"):
        Index.load(tmp_path / "nothing")


def test_from_parquet_and_image_queries(tmp_path, tiny_model_dir, extractor):
    out = tmp_path / "v.parquet"
    assert embed_main([str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]) == 0
    index = Index.from_parquet([out])
    assert len(index) == 8 and index.model == "tiny-test-student" and len(index.config_hash) == 16
    query = next(SAMPLES.glob("ferplus_happiness_*.png"))
    res = index.search([str(query)], k=3, model=extractor)
    top = res.neighbours(0)[0]
    assert top["path"].endswith(query.name) and top["frame"] == -1 and top["score"] == pytest.approx(1.0, abs=1e-5)
    assert pq.read_table(out).num_rows == 9  # the skipped PROVENANCE.md row is not indexed


def test_queries_with_another_model_are_refused(tmp_path, tiny_model_dir):
    import fever

    other = fever.create_model("fever-student-resnet18", input_size=48, d_face=256, name="other").save_pretrained(
        tmp_path / "other"
    )
    index = Index.build(
        np.random.default_rng(0).normal(size=(20, 256)).astype(np.float32),
        model="tiny-test-student",
        config_hash=fever.load(tiny_model_dir).config.config_hash(),
    )
    with pytest.raises(
        FeverIndexError, match="built with model 'tiny-test-student'.*queries were embedded with 'other'"
    ):
        index.search([str(next(SAMPLES.glob("ferplus_*.png")))], k=1, model=str(other))


def test_cli_build_query_and_contact_sheet(tmp_path, tiny_model_dir, capsys):
    from PIL import Image

    from fever.cli.index import main as index_main

    out = tmp_path / "v.parquet"
    assert embed_main([str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]) == 0
    assert index_main(["build", str(out), "--out", str(tmp_path / "idx")]) == 0
    assert "8 vectors, kind exact" in capsys.readouterr().out
    sheet = tmp_path / "sheet.png"
    query = SAMPLES / "hamilton_two_faces.jpg"
    assert (
        index_main(
            [
                "query",
                str(tmp_path / "idx"),
                str(query),
                "-k",
                "3",
                "--model",
                str(tiny_model_dir),
                "--sheet",
                str(sheet),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert text.count("| 1 | 1.0000 | ") == 2 and "hamilton_two_faces.jpg#face1" in text  # each face finds itself
    img = Image.open(sheet)
    assert img.size == (4 * 112, 2 * (112 + 16))
    assert index_main(["query", str(tmp_path / "idx"), "--vectors", str(out), "-k", "2"]) == 0
    assert capsys.readouterr().out.count("| 1 | 1.0000 |") == 8  # every vector finds itself
    assert index_main(["query", str(tmp_path / "missing"), str(query)]) == 1
    assert "missing: no such index folder" in capsys.readouterr().err


def test_pca_ivfpq_keeps_8bit_coarse_centroids_through_save_and_load(clustered, tmp_path):
    import faiss

    x, _ = clustered
    index = Index.build(x, kind="pca-ivfpq", m=8, nlist=8, fit_to_size=False)
    ivf = faiss.extract_index_ivf(index.faiss_index)
    quantizer = faiss.downcast_index(ivf.quantizer)
    assert isinstance(quantizer, faiss.IndexScalarQuantizer) and quantizer.ntotal == 8
    assert ord(ivf.quantizer_trains_alone) == 2  # k-means on fp32 centroids, then stored in 8 bits
    loaded = Index.load(index.save(tmp_path / "pca"))
    a, b = index.search(x[:20], 5), loaded.search(x[:20], 5)
    assert loaded.factory == "PCAR16,IVF8(SQ8),PQ8" and a.ids == b.ids and np.array_equal(a.scores, b.scores)


def test_training_sample_grows_with_the_ivf_lists(tmp_path):
    """10 vectors per list: 1,000 lists train on 10,000 of 30,000 vectors, not on train_size=5,000."""
    x = np.random.default_rng(3).normal(size=(30_000, 8)).astype(np.float32)
    index = Index(8, "ivfpq", m=4, nlist=1000, fit_to_size=False)
    index.train(x, train_size=5_000)
    assert index.trained_on == 10_000
    small = Index(8, "ivfpq", m=4, nlist=16, fit_to_size=False)
    small.train(x, train_size=5_000)
    assert small.trained_on == 5_000
    small.add(x[:100])
    assert Index.load(small.save(tmp_path / "s")).manifest()["trained_on"] == 5_000


def test_opq_projects_to_four_dimensions_per_subquantiser():
    from fever.index import FeverIndexError, _factory

    assert _factory("opq-ivfpq", 256, 1_000_000, 1024, 52) == "OPQ52_208,IVF1024,PQ52"  # 52 B codes + 8 B ids
    assert _factory("ivfpq", 256, 10_000, None, 32) == "IVF256,PQ32"  # 4 sqrt(n) = 400, but 39 points per list
    assert _factory("pca-ivfpq", 256, 1_000_000, 16384, 48) == "PCAR96,IVF16384(SQ8),PQ48"  # 2 principal dims per byte
    with pytest.raises(FeverIndexError, match="needs 1 <= m <= dim/2 \\(128\\), not 129"):
        _factory("pca-ivfpq", 256, 1000, 16, 129)
    with pytest.raises(FeverIndexError, match="needs 1 <= m <= dim/4 \\(64\\), not 65"):
        _factory("opq-ivfpq", 256, 1000, 16, 65)
    with pytest.raises(FeverIndexError, match="multiple of m"):
        _factory("ivfpq", 256, 1000, 16, 52)


def test_sheet_of_video_queries_shows_faces_and_decodes_each_video_once(tmp_path, tiny_model_dir, videos, monkeypatch):
    from PIL import Image

    import fever.io.video as video_module
    from fever.cli.contact_sheet import TILE, Pictures
    from fever.cli.index import main as index_main

    out = tmp_path / "v.parquet"
    clip = videos / "single_face.mp4"
    assert embed_main([str(clip), "--out", str(out), "--model", str(tiny_model_dir), "--max-frames", "6"]) == 0
    assert index_main(["build", str(out), "--out", str(tmp_path / "idx")]) == 0
    calls = []
    real = video_module.iter_video_frames
    monkeypatch.setattr(video_module, "iter_video_frames", lambda *a, **k: calls.append(a) or real(*a, **k))
    sheet = tmp_path / "sheet.png"
    args = ["query", str(tmp_path / "idx"), "--vectors", str(out), "-k", "3", "--sheet", str(sheet), "--sheet-max", "2"]
    assert index_main(args) == 0
    assert len(calls) == 1  # one decode for every tile of the video
    img = Image.open(sheet)
    assert img.size == (4 * TILE, 2 * (TILE + 16))  # two of the six queries drawn
    row = pq.read_table(out).slice(0, 1).to_pylist()[0]
    face = Pictures([(row["path"], row["frame"])]).tile(row["path"], row["frame"], row["box"])
    query_tile = np.asarray(img.crop((0, 0, TILE, TILE)).convert("RGB"), int)
    assert np.abs(query_tile - np.asarray(face, int)).max() == 0  # the face, not the whole frame squeezed


def test_small_collections_get_exact_search_without_a_wall_of_warnings(capfd, caplog):
    """3,000 vectors cannot train 256-entry codebooks (faiss wants 9,984): exact search, one log line."""
    import logging

    x = np.random.default_rng(0).normal(size=(3000, 64)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="fever.index"):
        index = Index.build(x, kind="opq-ivfpq", m=16)
    assert index.kind == "exact" and index.factory == "Flat"
    assert "3000 vectors: too few to train opq-ivfpq (needs 9984); using exact search" in caplog.text
    assert "please provide at least" not in capfd.readouterr().err
    assert index.search(x[:2], k=1).rows[:, 0].tolist() == [0, 1]
    from fever.index import _default_lists

    assert _default_lists(12_000) == 307 and _default_lists(1_000_000) == 4000  # 39 points per list at most


def test_the_manifest_never_chooses_what_is_read(clustered, tmp_path):
    """Hostile manifests and files fail at once with FeverIndexError: no hang on /dev/zero, no file
    outside the folder, no skipped verification, no raw faiss error."""
    import hashlib

    x, _ = clustered
    good = Index.build(x[:50]).save(tmp_path / "good")

    def variant(name, change):
        folder = tmp_path / name
        shutil.copytree(good, folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        change(folder, manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        return folder

    cases = {
        "zero": (lambda f, m: m["checksums"].update({"/dev/zero": "0"}), "needs the checksums of exactly"),
        "outside": (lambda f, m: m["checksums"].update({"../../../../etc/hostname": "0"}), "needs the checksums"),
        "unchecked": (lambda f, m: m.pop("checksums"), "needs the checksums of exactly index.faiss and ids.parquet"),
        "damaged": (lambda f, m: m.pop("dim"), "damaged manifest"),
    }
    for name, (change, message) in cases.items():
        with pytest.raises(FeverIndexError, match=message):
            Index.load(variant(name, change))

    def truncate(folder, manifest):
        data = (folder / "index.faiss").read_bytes()[:100]
        (folder / "index.faiss").write_bytes(data)
        manifest["checksums"]["index.faiss"] = hashlib.sha256(data).hexdigest()  # a checksum that agrees

    with pytest.raises(FeverIndexError, match="cannot read the index files"):
        Index.load(variant("truncated", truncate))


def test_a_save_killed_between_its_renames_loses_nothing(tmp_path, clustered, caplog):
    """Index.save moves the old folder aside, then the new one in: killed in between, the target is
    missing. load() restores the previous index from its backup; the next save clears such leftovers."""
    import subprocess
    import sys

    x, _ = clustered
    index = Index.build(x)
    folder = index.save(tmp_path / "idx")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    backup = tmp_path / f".idx.old-{int(dead.stdout)}"
    shutil.move(folder, backup)  # the state a save killed between its two renames leaves
    with caplog.at_level("WARNING"):
        restored = Index.load(tmp_path / "idx")
    assert "a save that replaced it was interrupted; the previous index is restored" in caplog.text
    assert (tmp_path / "idx").is_dir() and not backup.exists() and len(restored) == len(x)
    shutil.copytree(tmp_path / "idx", backup)  # a leftover beside a whole index
    index.save(tmp_path / "idx")
    assert not backup.exists() and len(Index.load(tmp_path / "idx")) == len(x)
    with pytest.raises(FeverIndexError, match="no such index folder"):
        Index.load(tmp_path / "nothing")


def _variant(good, tmp_path, name, change):
    folder = tmp_path / name
    shutil.copytree(good, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    change(folder, manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f, m: m.update(ef_search=-1),
            "damaged manifest \\(ef_search must be a whole number of 1 or more, not -1\\)",
        ),
        (lambda f, m: m.update(ef_search="abc"), "ef_search must be a whole number of 1 or more, not 'abc'"),
        (lambda f, m: m.update(nprobe=0), "nprobe must be a whole number of 1 or more, not 0"),
        (lambda f, m: m.pop("count"), "damaged manifest \\(no 'count'\\)"),
    ],
)
def test_hand_edited_manifests_are_refused_with_the_field(clustered, tmp_path, change, message):
    """Issue 26.9 and 26.17: ef_search -1 returned empty neighbours; no count, ef_search "abc" tracebacks."""
    good = Index.build(clustered[0][:50], kind="hnsw").save(tmp_path / "good")
    with pytest.raises(FeverIndexError, match=message):
        Index.load(_variant(good, tmp_path, "bad", change))


def test_an_id_table_without_its_id_column_is_refused(clustered, tmp_path):
    import hashlib

    good = Index.build(clustered[0][:50]).save(tmp_path / "good")

    def drop_ids(folder, manifest):
        table = pq.read_table(folder / "ids.parquet")
        pq.write_table(table.drop(["id"]), folder / "ids.parquet")
        manifest["checksums"]["ids.parquet"] = hashlib.sha256((folder / "ids.parquet").read_bytes()).hexdigest()

    with pytest.raises(FeverIndexError, match="ids.parquet: has no 'id' column; build the index again"):
        Index.load(_variant(good, tmp_path, "noid", drop_ids))


def test_queries_are_vectors_by_type_and_huge_values_keep_their_direction(clustered):
    """Issue 26.9: 1e30-sized queries scored 0 against everything; a list or an int array was read as images."""
    x, labels = clustered
    index = Index.build(x)
    exact = index.search(x[:1], k=5)
    huge = index.search(x[:1].astype(np.float64) * 1e300, k=5)
    assert huge.ids == exact.ids and np.allclose(huge.scores, exact.scores, atol=1e-5)
    assert index.search(x[0].tolist(), k=5).ids == exact.ids  # a Python list is one vector
    assert index.search([x[0].tolist(), x[1].tolist()], k=5).ids[0] == exact.ids[0]
    ints = np.round(x[:2] * 1000).astype(np.int64)  # an int array of vectors
    assert [int(i) for i in index.search(ints, k=3).ids[0]] == [int(i) for i in exact.ids[0][:3]]
    with pytest.raises(FeverIndexError, match="queries have dimension 3, the index has 32"):
        index.search([1, 2, 3])


@pytest.mark.parametrize(
    "option, message",
    [
        (["--m", "0"], "m must be a whole number of 1 or more, not 0"),
        (["--m", "-8"], "m must be a whole number of 1 or more, not -8"),
        (["--nlist", "-5"], "nlist must be a whole number of 1 or more, not -5"),
        (["--nprobe", "0"], "nprobe must be a whole number of 1 or more, not 0"),
    ],
)
def test_build_refuses_settings_that_cannot_work(tmp_path, tiny_model_dir, capsys, option, message):
    """Issue 26.17: --m 0 gave a ZeroDivisionError, --m -8 / --nlist -5 faiss tracebacks, and
    --nprobe 0 saved an index whose every query failed."""
    from fever.cli.index import main as index_main

    out = tmp_path / "v.parquet"
    assert (
        embed_main([str(SAMPLES / "ferplus_anger_fer0032225.png"), "--out", str(out), "--model", str(tiny_model_dir)])
        == 0
    )
    assert index_main(["build", str(out), "--out", str(tmp_path / "idx"), "--kind", "ivfpq", *option]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "idx").exists()


def test_parquet_files_not_made_by_fever_are_refused(tmp_path, clustered, capsys):
    """Issue 26.17: a parquet not made by fever or a corrupt --vectors file gave KeyError / ArrowInvalid."""
    import pyarrow as pa

    from fever.cli.index import main as index_main

    foreign, corrupt = tmp_path / "theirs.parquet", tmp_path / "corrupt.parquet"
    pq.write_table(pa.table({"x": [1.0]}), foreign)
    corrupt.write_bytes(b"PAR1" + b"\0" * 50)
    with pytest.raises(FeverIndexError, match="theirs.parquet: was not written by fever-embed"):
        Index.from_parquet([foreign])
    index = Index.build(clustered[0][:50]).save(tmp_path / "idx")
    for bad, message in ((foreign, "was not written by fever-embed"), (corrupt, "cannot be read as a parquet file")):
        assert index_main(["query", str(index), "--vectors", str(bad)]) == 1
        err = capsys.readouterr().err
        assert f"{bad.name}: {message}" in err and "Traceback" not in err
