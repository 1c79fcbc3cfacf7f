"""ONNX and int8 copies of a model: faithful to torch fp32, tied to the model they came from."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import fever
from fever.vectors import row_cosine as cosine

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir, fer_crops):
    from fever.backend.onnx import export_onnx, quantize_int8
    from fever.preprocess import to_model_input

    folder = tmp_path_factory.mktemp("exp") / "model"
    shutil.copytree(tiny_model_dir, folder)
    model = fever.load(folder)
    export_onnx(model, folder / "model.onnx")
    crops = torch.stack([fever.preprocess.to_float_rgb(np.asarray(Image.open(p).convert("RGB"))) for p in fer_crops])
    quantize_int8(folder / "model.onnx", folder / "int8.onnx", to_model_input(crops, model.config.preprocess).numpy())
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
    q = (
        fever.Extractor(exported, device="cpu", backend="onnx", onnx_file=exported / "int8.onnx")
        .extract(fer_crops)
        .vectors
    )
    assert cosine(ref, q).min() > 0.99


def test_onnx_of_another_model_is_refused(exported, tmp_path):
    other = fever.create_model("fever-student-resnet18", input_size=48, name="other").save_pretrained(
        tmp_path / "other"
    )
    with pytest.raises(fever.ModelLoadError, match="model.onnx: exported from config .* export this model again"):
        fever.Extractor(other, backend="onnx", onnx_file=exported / "model.onnx")
    with pytest.raises(fever.ModelLoadError, match="no ONNX export of other"):
        fever.Extractor(other, backend="onnx")


def test_onnx_file_reaches_extract_and_a_missing_export_says_what_to_do(exported, tiny_model_dir, fer_crops):
    out = fever.extract(fer_crops[:1], model=str(tiny_model_dir), backend="onnx", onnx_file=exported / "model.onnx")
    assert out.vectors.shape == (1, 256)
    with pytest.raises(fever.ModelLoadError) as err:
        fever.extract(fer_crops[:1], model=str(tiny_model_dir), backend="onnx")
    message = str(err.value)
    assert "no ONNX export of tiny-test-student" in message and "--out tiny-test-student.onnx" in message
    assert "onnx_file='tiny-test-student.onnx' (to fever.extract" in message
