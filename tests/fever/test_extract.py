"""fever.extract on crops, photos and in-memory images, with the model's own preprocessing."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fever
from fever.preprocess import PreprocessConfig, to_model_input
from fever.vectors import row_cosine as cosine
from tests.helpers import SAMPLES


def test_crops_give_one_row_each(extractor, fer_crops):
    out = extractor.extract(fer_crops)
    assert out.vectors.shape == (len(fer_crops), 256) and out.vectors.dtype == np.float32
    assert [r.source for r in out.rows] == [str(p) for p in fer_crops]
    assert all(r.status == "ok" and r.face == 0 and r.score == 1.0 for r in out.rows)
    assert out.rows[0].box.tolist() == [0, 0, 48, 48]
    assert out.model_name == "tiny-test-student" and len(out.config_hash) == 16


def test_photo_gives_every_face_with_box_and_landmarks(extractor, two_face_photo):
    out = extractor.extract(two_face_photo)
    assert len(out) == 2 and out.ok.all()
    assert [r.face for r in out.rows] == [0, 1]
    for r in out.rows:
        assert r.landmarks.shape == (5, 2) and r.score > 0.9
        x1, y1, x2, y2 = r.box
        assert 15 < x2 - x1 < 80 and 15 < y2 - y1 < 100
    centres = sorted((r.box[0] + r.box[2]) / 2 for r in out.rows)
    assert centres[0] < 150 and centres[1] > 450  # one face on the left, one on the right


def test_no_face_and_errors_are_rows_not_exceptions(extractor, fer_crops, tmp_path):
    blank = np.full((300, 400, 3), 127, np.uint8)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    out = extractor.extract([fer_crops[0], blank, bad, fer_crops[1]])
    assert [r.status for r in out.rows] == ["ok", "no_face", "error", "ok"]
    assert [r.input_index for r in out.rows] == [0, 1, 2, 3]
    assert np.isnan(out.vectors[1]).all() and np.isnan(out.vectors[2]).all()
    assert "bad.jpg: not an image file" in out.rows[2].error
    assert "no face found" in out.rows[1].error
    assert len(out.valid()) == 2 and np.isfinite(out.valid().vectors).all()


def test_same_vector_whatever_the_batch_size(extractor, fer_crops, two_face_photo):
    items = list(fer_crops) + [two_face_photo]
    one = extractor.extract(items, batch_size=1).vectors
    three = extractor.extract(items, batch_size=3).vectors
    all_ = extractor.extract(items, batch_size=64).vectors
    assert np.abs(one - three).max() < 1e-5 and np.abs(one - all_).max() < 1e-5


def test_inputs_of_every_kind_agree(extractor, fer_crops):
    path = fer_crops[0]
    pil = Image.open(path)
    arr = np.asarray(pil)
    rgb = np.repeat(arr[:, :, None], 3, axis=2)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)
    out = extractor.extract([path, pil, arr, rgb, tensor])
    assert np.abs(out.vectors - out.vectors[0]).max() < 1e-6


def test_normalize_and_faces_modes(extractor, fer_crops, two_face_photo):
    out = extractor.extract(fer_crops, normalize=True)
    assert np.allclose(np.linalg.norm(out.vectors, axis=1), 1, atol=1e-5)
    whole = extractor.extract(two_face_photo, faces="crop")
    assert len(whole) == 1 and whole.rows[0].box.tolist() == [0, 0, 640, 360]
    with pytest.raises(ValueError, match="faces must be one of"):
        extractor.extract(fer_crops, faces="everything")


def test_parallel_decoding_gives_the_same_rows(extractor, fer_crops, two_face_photo):
    items = list(fer_crops) + [two_face_photo]
    serial = extractor.extract(items)
    parallel = extractor.extract(items, num_workers=2)
    assert [r.source for r in serial.rows] == [r.source for r in parallel.rows]
    assert np.abs(serial.vectors - parallel.vectors).max() < 1e-6


def test_preprocessing_comes_from_the_model(tiny_model_dir):
    model = fever.load(tiny_model_dir)
    assert model.config.preprocess == PreprocessConfig(input_size=48, grayscale=True, margin=-0.05)
    x = to_model_input(torch.rand(2, 3, 100, 80), model.config.preprocess)
    assert x.shape == (2, 3, 48, 48)
    assert torch.equal(x[:, 0], x[:, 1])  # grayscale repeated


def test_module_level_extract_uses_given_model(tiny_model_dir, fer_crops):
    out = fever.extract(fer_crops[:2], model=str(tiny_model_dir), device="cpu")
    assert out.vectors.shape == (2, 256)


def test_bf16_is_close_to_fp32(tiny_model_dir, fer_crops):
    fp32 = fever.Extractor(tiny_model_dir, device="cpu").extract(fer_crops).vectors
    bf16 = fever.Extractor(tiny_model_dir, device="cpu", precision="bf16").extract(fer_crops).vectors
    assert cosine(fp32, bf16).min() > 0.99
    with pytest.raises(ValueError, match="precision must be one of"):
        fever.Extractor(tiny_model_dir, precision="int3")


def test_to_arrow_round_trip(extractor, fer_crops, two_face_photo):
    from fever.parquet import embeddings

    out = extractor.extract(list(fer_crops[:2]) + [two_face_photo, np.zeros((200, 200, 3), np.uint8)])
    table = out.to_arrow()
    assert table.num_rows == len(out) == 5
    assert table.column("status").to_pylist() == ["ok", "ok", "ok", "ok", "no_face"]
    back = embeddings(table)
    assert np.array_equal(back[:4], out.vectors[:4]) and np.isnan(back[4]).all()
    assert table.column("landmarks").to_pylist()[2] == pytest.approx(out.rows[2].landmarks.reshape(-1).tolist())


def test_bundled_default_model_and_probe(fer_crops):
    assert fever.DEFAULT_MODEL in fever.list_models(pretrained=True)
    model = fever.load(fever.DEFAULT_MODEL)
    assert model.origin.source == f"bundled:{fever.DEFAULT_MODEL}" and model.config.preprocess.margin == -0.05
    out = fever.extract(fer_crops, device="cpu")  # no model argument: the bundled default
    assert out.model_name == fever.DEFAULT_MODEL and out.vectors.shape == (len(fer_crops), 256)
    analysis = fever.analyze(fer_crops, device="cpu")
    assert analysis.classes == list(fever.models.EXPRESSION_CLASSES)  # the order of the model's own head
    # the shipped probe reads the clear-cut happy face (10 of 10 votes) as happiness
    happy = [i for i, p in enumerate(fer_crops) if "happiness" in p.name][0]
    assert analysis.expressions[happy] == "happiness"


def test_bundled_large_preset_loads_with_its_probe(fer_crops):
    """The large preset ships beside the default: its own weights, config and fitted probe."""
    name = "fever-teacher-resnet18-48"
    assert fever.list_models(pretrained=True) == sorted([fever.DEFAULT_MODEL, name])
    model = fever.load(name)
    assert model.origin.source == f"bundled:{name}" and model.config.backbone == "resnet18_fer"
    default = fever.load(fever.DEFAULT_MODEL)
    assert sum(p.numel() for p in model.parameters()) > 5 * sum(p.numel() for p in default.parameters())
    analysis = fever.analyze(fer_crops, model=name, device="cpu")
    assert analysis.extraction.vectors.shape == (len(fer_crops), 256)
    assert analysis.probabilities.shape == (len(fer_crops), 8)
    happy = [i for i, p in enumerate(fer_crops) if "happiness" in p.name][0]
    assert analysis.expressions[happy] == "happiness"


def test_bundled_default_is_faithful_in_bf16(fer_crops, two_face_photo):
    """bf16 autocast + channels_last is the fast path; the default model's vectors must not move."""
    items = list(fer_crops) + [two_face_photo]
    fp32 = fever.Extractor(device="cpu", precision="fp32").extract(items).vectors
    bf16 = fever.Extractor(device="cpu", precision="bf16").extract(items).vectors
    assert fp32.shape == bf16.shape and len(fp32) == len(fer_crops) + 2
    assert cosine(fp32, bf16).min() >= 0.999


def test_a_folder_gives_its_images_and_bytes_one_clear_row(extractor, tmp_path, fer_crops):
    import shutil

    for p in fer_crops[:2]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 10)
    out = extractor.extract(tmp_path)
    assert [Path(r.source).name for r in out.rows] == ["clip.mp4"] + [p.name for p in fer_crops[:2]]
    assert out.rows[0].status == "error" and "is a video: use fever.extract_video(path)" in out.rows[0].error
    assert [r.status for r in out.rows[1:]] == ["ok", "ok"]
    raw = extractor.extract(b"\x89PNG....")
    assert len(raw) == 1 and raw.rows[0].status == "error" and "raw bytes are not accepted" in raw.rows[0].error


def test_images_are_batched_by_pixels(tmp_path):
    """Sixteen 72 MP photos are read one at a time, not held together (7.3 GB before this)."""
    from types import SimpleNamespace

    from PIL import Image

    from fever.extractor import image_batches

    def spans(batches):
        return [(start, start + len(batch)) for start, batch in batches]

    small = [SimpleNamespace(shape=(48, 48)) for _ in range(100)]
    assert spans(image_batches(small, 64)) == [(0, 64), (64, 100)]
    assert spans(image_batches(iter(small), 64)) == [(0, 64), (64, 100)]  # an iterator alike
    huge = [SimpleNamespace(shape=(9000, 8000, 3)) for _ in range(3)]
    assert spans(image_batches(huge, 64)) == [(0, 1), (1, 2), (2, 3)]
    mixed = small[:2] + huge[:1] + small[:2]
    assert spans(image_batches(mixed, 64, max_pixels=50_000_000)) == [(0, 2), (2, 3), (3, 5)]
    big_file = tmp_path / "big.png"
    Image.new("L", (6000, 5000)).save(big_file)  # 30 MP: the header says so, no decoding
    assert spans(image_batches([big_file, big_file], 64, max_pixels=40_000_000)) == [(0, 1), (1, 2)]


def test_very_large_photos_are_decoded_smaller_with_boxes_in_original_pixels(tmp_path, extractor, monkeypatch):
    """Issue 26.20: a 79 MP JPEG just under the limit peaked at 4.7 GB; above DECODE_PIXELS a JPEG is
    decoded at 1/2-1/8 size by its decoder (draft mode) and the rows still speak the original's pixels."""
    from PIL import Image

    from fever import limits
    from fever.io.images import load_image

    photo = tmp_path / "big.jpg"
    Image.open(SAMPLES / "pexels_wolfganglanger_face.jpg").resize((1280, 720)).save(photo, quality=95)
    full = extractor.extract([photo], faces="detect")
    monkeypatch.setattr(limits, "DECODE_PIXELS", 300_000)  # 1280x720 = 921,600: decoded at 640x360
    loaded = load_image(photo)
    assert loaded.array.shape == (360, 640, 3) and loaded.scale == 2.0
    assert "1280x720 decoded at 640x360 (JPEG draft mode)" in loaded.notes[0]
    small = extractor.extract([photo], faces="detect")
    assert [r.status for r in small.rows] == ["ok"] and len(full.rows) == 1
    box_full, box_small = full.rows[0].box, small.rows[0].box
    assert np.abs(box_small - box_full).max() < 0.05 * (box_full[2] - box_full[0])  # same face, original pixels
    assert np.abs(small.rows[0].landmarks - full.rows[0].landmarks).max() < 0.05 * (box_full[2] - box_full[0])
    png = tmp_path / "big.png"
    Image.open(photo).save(png)
    assert load_image(png).array.shape == (360, 640, 3) and "reduced after decoding" in load_image(png).notes[0]
