"""ONNX and int8 copies of a model: faithful to torch fp32, tied to the model they came from."""
import shutil

import numpy as np
import pytest

import fever
from fever.cli.export import main as export_main
from tests.conftest import cosine

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("exp") / "model"
    shutil.copytree(tiny_model_dir, folder)
    assert export_main(["onnx", str(folder), "--out", str(folder / "model.onnx"), "--int8", str(folder / "int8.onnx"),
                        "--data-root", "/nonexistent", "--faces", "64"]) == 0
    return folder


def test_onnx_backend_matches_torch(exported, fer_crops, two_face_photo):
    items = list(fer_crops) + [two_face_photo]
    ref = fever.Extractor(exported, device="cpu").extract(items, batch_size=3).vectors
    onnx = fever.Extractor(exported, device="cpu", backend="onnx").extract(items, batch_size=3).vectors
    assert np.abs(ref - onnx).max() < 1e-4 and cosine(ref, onnx).min() > 0.9999
    out = fever.extract(items[:2], model=str(exported), backend="onnx", device="cpu")
    assert out.vectors.shape == (2, 256)


def test_int8_copy_is_close(exported, fer_crops):
    ref = fever.Extractor(exported, device="cpu").extract(fer_crops).vectors
    q = fever.Extractor(exported, device="cpu", backend="onnx", onnx_file=exported / "int8.onnx").extract(fer_crops).vectors
    assert cosine(ref, q).min() > 0.99


def test_onnx_of_another_model_is_refused(exported, tmp_path):
    other = fever.create_model("fever-student-resnet18", input_size=48, name="other").save_pretrained(tmp_path / "other")
    with pytest.raises(fever.ModelLoadError, match="model.onnx: exported from config .* export this model again"):
        fever.Extractor(other, backend="onnx", onnx_file=exported / "model.onnx")
    with pytest.raises(fever.ModelLoadError, match="no ONNX export of other"):
        fever.Extractor(other, backend="onnx")


def test_probe_accuracy_change_scores_every_copy(exported, datasets, tmp_path):
    """The deployed situation on real FER+ rows: a probe fitted on torch fp32 train vectors, scored
    on the test vectors of torch and of each copy (here a 600/300-row subset, to stay fast)."""
    import pyarrow.parquet as pq

    from fever.export import probe_accuracy_change

    (tmp_path / "ferplus").mkdir()
    for split, rows in (("train", 600), ("test", 300)):
        pq.write_table(pq.read_table(datasets / "ferplus" / f"{split}.parquet").slice(0, rows),
                       tmp_path / "ferplus" / f"{split}.parquet")
    ex = fever.Extractor(exported, device="cpu")
    out = probe_accuracy_change(ex, {"onnx": exported / "model.onnx", "int8": exported / "int8.onnx"}, tmp_path)
    assert set(out) == {"torch_fp32", "onnx", "onnx_change_points", "int8", "int8_change_points"}
    assert 0.0 < out["torch_fp32"] <= 1.0
    assert abs(out["onnx_change_points"]) < 0.5            # fp32 ONNX gives the same vectors
    assert out["int8_change_points"] == pytest.approx(100 * (out["int8"] - out["torch_fp32"]))
