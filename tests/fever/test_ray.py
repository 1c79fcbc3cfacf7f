"""Extraction on a real local Ray instance gives the vectors fever.extract gives.

Part of the default run: CI installs the ``ray`` extra (about 30 s here). Without it
(``pip install "fever[ray]"``) the test is skipped.
"""

import numpy as np
import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_embed_dataset_matches_extract(local_ray, tiny_model_dir, extractor, fer_crops, two_face_photo):
    import fever.integrations.ray
    from fever.parquet import embeddings

    paths = [str(p) for p in fer_crops] + [str(two_face_photo)]
    ds = ray.data.from_items([{"path": p} for p in paths])
    table = fever.integrations.ray.embed_dataset(ds, model=str(tiny_model_dir), batch_size=3).to_arrow_refs()
    import pyarrow as pa

    out = pa.concat_tables(ray.get(table))
    got = {(r["path"], r["face"]): v for r, v in zip(out.select(["path", "face"]).to_pylist(), embeddings(out))}
    ref = extractor.extract(paths)
    assert len(got) == len(ref) == 7
    for row, vec in zip(ref.rows, ref.vectors):
        assert np.abs(got[(row.source, row.face)] - vec).max() < 1e-5

    blobs = ray.data.from_items(
        [{"path": p, "bytes": open(p, "rb").read()} for p in paths[:2]] + [{"path": "junk", "bytes": b"xx"}]
    )
    out2 = pa.concat_tables(
        ray.get(
            fever.integrations.ray.embed_dataset(blobs, model=str(tiny_model_dir), bytes_column="bytes").to_arrow_refs()
        )
    )
    rows = out2.select(["path", "status"]).to_pylist()
    assert [r["path"] for r in rows] == paths[:2] + ["junk"] and rows[2]["status"] == "error"
    assert np.abs(embeddings(out2)[0] - ref.vectors[0]).max() < 1e-5
