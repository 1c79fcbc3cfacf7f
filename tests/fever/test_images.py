"""Every kind of bad or unusual image: read correctly, or refused with the file and the reason."""

import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fever.errors import InputError
from fever.io.images import load_image
from tests.helpers import SAMPLES

PHOTO = SAMPLES / "pexels_wolfganglanger_face.jpg"


def test_plain_jpeg_and_png():
    photo = load_image(PHOTO)
    assert photo.array.shape == (360, 640, 3) and photo.array.dtype == np.uint8 and photo.notes == []
    crop = load_image(next(SAMPLES.glob("ferplus_*.png")))
    assert crop.array.shape == (48, 48, 3)
    assert (crop.array[..., 0] == crop.array[..., 2]).all()  # gray repeated over RGB


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(p)


def test_truncated_jpeg(tmp_path):
    p = tmp_path / "cut.jpg"
    p.write_bytes(PHOTO.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"cut\.jpg: truncated or corrupt image data"):
        load_image(p)


def test_text_file_named_jpg(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image\n")
    with pytest.raises(InputError, match=r"notes\.jpg: not an image file that can be decoded \(starts with b'this is"):
        load_image(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"gone\.png: file not found"):
        load_image(tmp_path / "gone.png")


def test_cmyk_jpeg_is_converted(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.open(PHOTO).convert("CMYK").save(p)
    img = load_image(p)
    assert img.array.shape == (360, 640, 3) and "converted from CMYK" in img.notes
    # colours survive the round trip roughly
    assert np.abs(img.array.astype(int) - load_image(PHOTO).array.astype(int)).mean() < 20


def test_16bit_png_is_scaled(tmp_path):
    p = tmp_path / "deep.png"
    ramp = np.tile(np.array([0, 32896, 65535], np.uint16), (20, 10))
    Image.fromarray(ramp).save(p)
    img = load_image(p)
    assert set(np.unique(img.array)) == {0, 128, 255}
    assert any("16-bit" in n for n in img.notes)


def test_palette_and_rgba_png(tmp_path):
    palette = tmp_path / "palette.png"
    Image.open(PHOTO).convert("P").save(palette)
    assert load_image(palette).array.shape == (360, 640, 3)
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:10, :, 3] = 255  # top half opaque red, bottom half transparent
    p = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(p)
    img = load_image(p)
    assert tuple(img.array[0, 0]) == (255, 0, 0) and tuple(img.array[19, 0]) == (255, 255, 255)
    assert any("transparency" in n for n in img.notes)


def test_animated_gif_uses_first_frame(tmp_path):
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in [(200, 0, 0), (0, 200, 0), (0, 0, 200)]]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = load_image(p)
    assert img.array[0, 0, 0] > 150 and img.array[0, 0, 1] < 50
    assert "animated image with 3 frames: used the first" in img.notes


def test_exif_rotated_jpeg_is_rotated(tmp_path):
    p = tmp_path / "rotated.jpg"
    base = np.zeros((40, 60, 3), np.uint8)
    base[:, :30] = 255  # left half white
    img = Image.fromarray(base)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    img.save(p, exif=exif, quality=95)
    out = load_image(p)
    assert out.array.shape == (60, 40, 3)
    assert out.array[:25].mean() > 200 and out.array[35:].mean() < 50  # white half now on top
    assert "rotated by EXIF orientation 6" in out.notes


def test_tiny_image(tmp_path):
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(p)
    with pytest.raises(InputError, match=r"dot\.png: image is 1x1 pixels; at least 16x16"):
        load_image(p)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_without_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(100_000, 100_000))
    assert p.stat().st_size < 1000
    with pytest.raises(InputError, match=r"bomb\.png: .*decompression bomb"):
        load_image(p)


def test_directory_given_as_image(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        load_image(tmp_path)


def test_unreadable_file():
    folder = Path(tempfile.mkdtemp())
    os.chmod(folder, 0o755)
    p = folder / "secret.png"
    Image.new("RGB", (32, 32)).save(p)
    os.chmod(p, 0o000)
    try:
        if os.geteuid() != 0:
            with pytest.raises(InputError, match=r"secret\.png: cannot read the file: permission denied"):
                load_image(p)
            return
        # root reads everything: check in a forked child that gives up root first
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_end)
            try:
                os.setgid(65534)
                os.setuid(65534)
                load_image(p)
                message = "no error"
            except InputError as exc:
                message = str(exc)
            except BaseException as exc:  # report anything else to the parent
                message = f"unexpected {type(exc).__name__}: {exc}"
            os.write(write_end, message.encode())
            os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end) as fh:
            message = fh.read()
        assert message.endswith("secret.png: cannot read the file: permission denied"), message
    finally:
        os.chmod(p, 0o644)
        shutil.rmtree(folder)


def test_arrays_tensors_and_pil():
    gray = np.full((20, 30), 7, np.uint8)
    assert load_image(gray).array.shape == (20, 30, 3)
    rgb_float = np.full((20, 30, 3), 0.5, np.float32)
    assert load_image(rgb_float).array[0, 0, 0] == 128
    chw = torch.full((3, 20, 30), 255, dtype=torch.uint8)
    assert load_image(chw).array.shape == (20, 30, 3)
    assert load_image(Image.new("L", (30, 20), 9)).array.shape == (20, 30, 3)
    with pytest.raises(InputError, match=r"array of shape \(5, 5, 5, 5\) is not an image"):
        load_image(np.zeros((5, 5, 5, 5), np.uint8))
    with pytest.raises(InputError, match="NaN"):
        load_image(np.full((20, 20), np.nan, np.float32))
    with pytest.raises(InputError, match="cannot use an object of type dict"):
        load_image({})


@pytest.mark.parametrize(
    "array, expected, note",
    [
        (np.full((20, 20), 0.5, np.float16), 128, "converted from float in [0, 1] to uint8"),
        (np.full((20, 20), 1.0001, np.float32), 255, "converted from float in [0, 1] to uint8"),
        (np.full((20, 20), 40000, np.uint16), 156, "scaled from 16-bit to 8-bit"),
        (np.full((20, 20), 200, np.int64), 200, None),
        (np.full((20, 20), 7, np.uint32), 7, None),
    ],
)
def test_numeric_arrays_are_read_by_their_dtype(array, expected, note):
    loaded = load_image(array)
    assert int(loaded.array[0, 0, 0]) == expected
    assert (note in loaded.notes) if note else not loaded.notes


@pytest.mark.parametrize(
    "array, message",
    [
        (np.full((20, 20), -5, np.int32), "negative values \\(down to -5\\)"),
        (np.full((20, 20), 70000, np.int32), "int32 values up to 70000 are not 8-bit values"),
        (np.full((20, 20), 300.0, np.float32), "float values from 300 to 300 are outside \\[0, 1\\]"),
        # issue 26.10: the value-guessing cases, refused by the dtype's rule
        (np.full((20, 20), 128.0, np.float64), "pass \\(x \\+ 1\\) / 2 for a \\[-1, 1\\] image, x / 255"),
        (np.full((20, 20), -1.0, np.float32), "float values from -1 to -1 are outside \\[0, 1\\]"),
        (np.full((20, 20), 200, np.uint16), "uint16 array whose values are all 255 or less \\(up to 200\\)"),
        (np.array([[np.nan] * 20] * 20, np.float32), "NaN or infinite"),
    ],
)
def test_numbers_that_are_no_image_are_refused(array, message):
    with pytest.raises(InputError, match=message):
        load_image(array)


def test_float_tiff_with_nan_and_invalid_exif_orientation(tmp_path):
    from PIL import Image

    nan_tiff = tmp_path / "nan.tif"
    data = np.full((20, 20), 0.5, np.float32)
    data[3, 3] = np.nan
    Image.fromarray(data, mode="F").save(nan_tiff)
    with pytest.raises(InputError, match="nan.tif: float image contains NaN"):
        load_image(nan_tiff)
    odd = tmp_path / "odd.jpg"
    exif = Image.Exif()
    exif[0x0112] = 9
    Image.new("RGB", (40, 20), (200, 10, 10)).save(odd, exif=exif)
    loaded = load_image(odd)
    assert (
        loaded.array.shape == (20, 40, 3) and "EXIF orientation 9 is not a valid value (1-8): ignored" in loaded.notes
    )


def test_bf16_tensors_closed_images_and_avif(tmp_path, fer_crops):
    from fever.inputs import expand_inputs

    t = torch.rand(3, 20, 20).to(torch.bfloat16)
    assert load_image(t).array.shape == (20, 20, 3)
    closed = Image.open(fer_crops[0])
    closed.close()
    with pytest.raises(InputError, match="the PIL image cannot be read"):
        load_image(closed)
    Image.new("RGB", (32, 32), (10, 200, 10)).save(tmp_path / "face.avif")
    assert [e.kind for e in expand_inputs([str(tmp_path)])] == ["image"]  # found inside folders too
    assert load_image(tmp_path / "face.avif").array.shape == (32, 32, 3)


def test_a_gpu_that_is_not_there_is_a_usage_error():
    from fever.device import resolve_device
    from fever.errors import UsageError

    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="torch finds no CUDA GPU here"):
            resolve_device("cuda")
    with pytest.raises(UsageError, match="device must be"):
        resolve_device("tpu")


def test_tensors_of_every_layout_give_a_row_or_a_message(extractor):
    """Issue 26.18: a sparse, meta or quantized tensor lost the whole call."""
    import torch

    face = torch.from_numpy(np.array(Image.open(SAMPLES / "ferplus_anger_fer0032225.png").convert("L"))).float()
    dense = (face / 255).unsqueeze(0)
    sparse = dense.to_sparse()
    quantized = torch.quantize_per_tensor(dense, scale=1 / 255, zero_point=0, dtype=torch.quint8)
    meta = torch.empty(1, 48, 48, device="meta")
    out = extractor.extract([dense, sparse, quantized, meta], faces="crop")
    assert [r.status for r in out.rows] == ["ok", "ok", "ok", "error"]
    np.testing.assert_allclose(out.vectors[1], out.vectors[0], atol=1e-5)  # sparse: the same pixels
    np.testing.assert_allclose(out.vectors[2], out.vectors[0], atol=1e-5)  # 8-bit steps survive quantisation
    assert out.rows[3].error.endswith("a meta tensor has a shape but no pixels")


def test_an_array_over_the_pixel_limit_is_refused_before_any_copy(monkeypatch):
    """Issue 26.19: refusing a 400 MB float array first cost 8.2 GB of conversions."""
    import tracemalloc

    from fever import limits

    big = np.random.default_rng(0).random((3000, 3000), dtype=np.float32)  # 36 MB, 9 MP
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", 1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="image is 3000x3000 = 9,000,000 pixels, over the limit"):
            load_image(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # bytes: no copy of the array was made


def test_a_generator_is_read_a_batch_at_a_time(extractor):
    """Issue 26.19: a generator was read whole before the first batch, so an endless one never returned."""
    import itertools

    face = np.asarray(Image.open(SAMPLES / "ferplus_anger_fer0032225.png").convert("L"))
    pulled = []

    def camera():
        for i in itertools.count():
            pulled.append(i)
            yield face

    chunks = extractor.iter_extract(camera(), faces="crop", batch_size=4)
    first, second = next(chunks), next(chunks)
    assert [r.input_index for r in first.rows] == [0, 1, 2, 3] and [r.input_index for r in second.rows] == [4, 5, 6, 7]
    assert len(pulled) <= 9  # one batch ahead at most, never the whole (endless) stream
    chunks.close()


def test_a_corrupt_avif_is_its_own_error_row(tmp_path, extractor):
    """Issue 26.11: Pillow's AVIF plug-in raises RuntimeError on damaged data; it escaped and none of
    the good images of the call was written."""
    import io

    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "AVIF")
    data = bytearray(buf.getvalue())
    for i in range(len(data) - 50, len(data) - 20):
        data[i] ^= 0x5A  # damage the coded planes, not the header
    bad = tmp_path / "bad.avif"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad.avif: truncated or corrupt image data \(RuntimeError: Failed to decode"):
        load_image(bad)
    good = sorted(SAMPLES.glob("ferplus_*.png"))
    out = extractor.extract([*good[:3], bad, *good[3:]], faces="crop")
    assert [r.status for r in out.rows] == ["ok", "ok", "ok", "error", "ok", "ok"]
