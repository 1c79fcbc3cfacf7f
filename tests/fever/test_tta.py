"""Test-time flips in the vector (issue 25): the mean of a face's vector and its mirror's."""

import numpy as np
import pytest
import torch

import fever
from fever.preprocess import PreprocessConfig


def test_flip_is_the_mean_of_the_face_and_its_mirror(extractor, fer_crops):
    flip = fever.Extractor(extractor.model, device="cpu", tta="flip")
    crops = torch.stack([torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(i)) for i in range(5)])
    plain = extractor.embed_crops(crops)
    mirrored = extractor.embed_crops(crops.flip(-1))
    np.testing.assert_allclose(flip.embed_crops(crops), (plain + mirrored) / 2, atol=1e-5)
    # a face and its mirror now get one vector, and any batch size gives it
    np.testing.assert_allclose(flip.embed_crops(crops), flip.embed_crops(crops.flip(-1)), atol=1e-5)
    np.testing.assert_allclose(flip.embed_crops(crops, batch_size=2), flip.embed_crops(crops), atol=1e-5)
    assert flip.extract(fer_crops).vectors.shape == (len(fer_crops), extractor.dim)


def test_a_model_can_ship_with_flips_on_and_old_configs_keep_their_hash(tmp_path, tiny_model_dir):
    model = fever.load(tiny_model_dir)
    before = model.config.config_hash()
    assert "tta" not in model.config.preprocess.to_dict()  # "none" is not written: hashes unchanged
    on = model.config.with_overrides(tta="flip")
    assert on.preprocess.tta == "flip" and on.config_hash() != before
    assert PreprocessConfig.from_dict(on.preprocess.to_dict()).tta == "flip"
    model.config = on
    folder = model.save_pretrained(tmp_path / "flipped")
    ex = fever.Extractor(folder, device="cpu")
    assert ex.tta == "flip" and fever.Extractor(folder, device="cpu", tta="none").tta == "none"
    with pytest.raises(fever.FeverError, match=r"tta must be one of \('none', 'flip'\), not 'rotate'"):
        fever.Extractor(folder, device="cpu", tta="rotate")


def test_fever_embed_takes_tta_and_records_it(tmp_path, tiny_model_dir, fer_crops):
    import json

    import pyarrow.parquet as pq

    from fever.cli.embed import main
    from fever.parquet import embeddings, read_metadata

    out = tmp_path / "v.parquet"
    args = [str(p) for p in fer_crops] + ["--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args + ["--tta", "flip"]) == 0
    flipped = fever.Extractor(tiny_model_dir, device="cpu", tta="flip").extract(fer_crops).vectors
    np.testing.assert_allclose(embeddings(pq.read_table(out)), flipped, atol=1e-5)
    assert json.loads(read_metadata(out)["fever.options"])["tta"] == "flip"
