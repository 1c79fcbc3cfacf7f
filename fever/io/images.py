"""Turn anything image-like into an RGB uint8 array, or an :class:`InputError` that says why not.

Handled, with a note: EXIF orientation (rotated, not rejected), CMYK, 16-bit, palette and alpha
images, animated images (first frame). Refused with a clear message: empty, truncated or non-image
files, unreadable files, images smaller than ``MIN_SIDE`` and decompression bombs.
"""

from __future__ import annotations

import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .. import limits

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".avif"}
)

MIN_SIDE = 16  # smaller images cannot hold a usable face

ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass
class LoadedImage:
    """An RGB uint8 (H, W, 3) image plus what was done to make it so."""

    array: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)
    # pixels of the original per pixel of ``array`` (a very large photo is decoded smaller, see
    # :data:`fever.limits.DECODE_PIXELS`); boxes and landmarks are given in the original's pixels
    scale: float = 1.0


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages ("a FIFO", "a character device")."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _error(source: str, problem: str) -> Exception:
    from ..errors import InputError

    return InputError(source, problem)


def _check_size(width: int, height: int, source: str) -> None:
    if width * height > limits.MAX_IMAGE_PIXELS:
        raise _error(
            source,
            f"image is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limits.MAX_IMAGE_PIXELS:,} (possible decompression bomb); raise "
            "fever.limits.MAX_IMAGE_PIXELS to allow it",
        )
    if min(width, height) < MIN_SIDE:
        raise _error(
            source, f"image is {width}x{height} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed to hold a face"
        )


# float pixels a little past 1 (rounding in someone's pipeline) are still read as [0, 1]
FLOAT_TOLERANCE = 1e-3


def _to_uint8(arr: np.ndarray, source: str, notes: list[str], sixteen_bit: bool = False) -> np.ndarray:
    """Numbers -> uint8 by the dtype's rule, never by guessing from the values (a [-1, 1] image
    without negative pixels looks like a [0, 1] one, a uint16 array of 8-bit values like a black
    16-bit image). The rules: uint8 as is; uint16 (and 16-bit image files) is 16-bit; other integer
    types hold 8-bit values; floats are in [0, 1]. Values that break their rule, and the one
    ambiguous case (a uint16 array with no value above 255), are refused with what to pass."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise _error(source, f"array dtype {arr.dtype} is not an image type (use uint8)")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise _error(source, "float image contains NaN or infinite values")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if lo < -FLOAT_TOLERANCE or hi > 1 + FLOAT_TOLERANCE:
            raise _error(
                source,
                f"float values from {lo:g} to {hi:g} are outside [0, 1], the range float images are read in; "
                "pass (x + 1) / 2 for a [-1, 1] image, x / 255 for a [0, 255] one",
            )
        notes.append("converted from float in [0, 1] to uint8")
        scaled = np.multiply(arr, 255.0, dtype=np.float32)  # float32 holds 0-255 steps exactly
        return np.clip(np.rint(scaled, out=scaled), 0, 255, out=scaled).astype(np.uint8)
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if lo < 0:
        raise _error(source, f"integer image has negative values (down to {lo}); pixels are 0 or more")
    if sixteen_bit or arr.dtype == np.uint16:
        if hi > 65535:
            raise _error(source, f"integer values up to {hi} are more than 16 bits; not an image")
        if not sixteen_bit and hi <= 255:
            raise _error(
                source,
                f"uint16 array whose values are all 255 or less (up to {hi}): 8-bit values in a 16-bit array, or "
                "a nearly black 16-bit image? pass arr.astype(np.uint8) for the first, arr / 65535 for the second",
            )
        notes.append("scaled from 16-bit to 8-bit")
        return (arr.astype(np.float64) / 257.0).round().astype(np.uint8)
    if hi > 255:
        raise _error(
            source,
            f"{arr.dtype} values up to {hi} are not 8-bit values; integer arrays other than uint16 hold 0-255 "
            "(a 16-bit image is a uint16 array)",
        )
    return arr.astype(np.uint8)


def _decode_within_budget(img: Image.Image, notes: list[str]) -> tuple[Image.Image, float]:
    """Decode an opened image, at 1/2, 1/4 or 1/8 of its size when it has more than
    :data:`fever.limits.DECODE_PIXELS`: a JPEG through its decoder's draft mode (the full-size
    pixels never exist), others reduced after decoding. Face detection on a 79 MP photo took
    4.6 GB at full size; the model's 48-112 px crops lose nothing from a 20 MP copy.

    Returns:
        The decoded image and its scale (original pixels per decoded pixel).
    """
    w, h = img.size
    factor = 1
    while factor < 8 and (w // factor) * (h // factor) > limits.DECODE_PIXELS:
        factor *= 2
    if factor == 1:
        img.load()
        return img, 1.0
    if img.format == "JPEG":
        img.draft(img.mode if img.mode in ("RGB", "L") else "RGB", (-(-w // factor), -(-h // factor)))
        img.load()
        how = "JPEG draft mode"
    else:
        img.load()
        img = img.reduce(factor)
        how = "reduced after decoding"
    scale = w / img.size[0]
    notes.append(
        f"{w}x{h} decoded at {img.size[0]}x{img.size[1]} ({how}) to keep memory near "
        f"{limits.DECODE_PIXELS // 1_000_000} MP; boxes are in the original's pixels"
    )
    return img, scale


def _pil_to_rgb(img: Image.Image, source: str, notes: list[str]) -> np.ndarray:
    n_frames = getattr(img, "n_frames", 1)
    if n_frames > 1:
        img.seek(0)
        notes.append(f"animated image with {n_frames} frames: used the first")
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block should not cost the image
        orientation = 1
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        img = ImageOps.exif_transpose(img)
        notes.append(f"rotated by EXIF orientation {orientation}")
    elif orientation not in (None, 1):
        notes.append(f"EXIF orientation {orientation} is not a valid value (1-8): ignored")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32 if mode == "F" else np.int64)
        gray = _to_uint8(arr, source, notes, sixteen_bit=mode != "F")  # the file says 16/32 bits
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append(f"{mode} image: transparency composited on white")
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode == "CMYK":
        notes.append("converted from CMYK")
    return np.asarray(img.convert("RGB"))


def _open_path(path: Path) -> LoadedImage:
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _error(source, "file not found") from None
    except PermissionError:
        raise _error(source, "cannot read the file: permission denied") from None
    except OSError as exc:  # a symlink loop (ELOOP), a name too long...
        raise _error(source, f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _error(source, "is a directory, not an image")
    if not stat.S_ISREG(info.st_mode):
        # reading a FIFO waits for a writer that may never come; a device may never end
        raise _error(source, f"is {file_kind(info.st_mode)}, not a regular file; only image files are read")
    if info.st_size == 0:
        raise _error(source, "empty file (0 bytes)")
    try:
        handle = path.open("rb")
    except PermissionError:
        raise _error(source, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise _error(source, f"cannot read the file: {exc.strerror or exc}") from None
    with handle:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(handle)
                _check_size(*img.size, source)
                notes: list[str] = []
                img, scale = _decode_within_budget(img, notes)
                return LoadedImage(_pil_to_rgb(img, source, notes), source, notes, scale)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _error(source, f"refused as a possible decompression bomb ({exc})") from None
        except UnidentifiedImageError:
            handle.seek(0)
            head = handle.read(16)
            raise _error(source, f"not an image file that can be decoded (starts with {head!r})") from None
        except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as exc:
            # RuntimeError: Pillow's AVIF and HEIF plug-ins report corrupt data so
            from ..errors import InputError

            if isinstance(exc, InputError):
                raise
            raise _error(source, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from None


def _from_array(arr: np.ndarray, source: str) -> LoadedImage:
    notes: list[str] = []
    if arr.ndim in (2, 3):
        # the size first, from the shape: converting a 400 MB float array over the limit cost 8 GB
        # before it was refused
        _check_size(arr.shape[1], arr.shape[0], source)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
        notes.append("alpha channel dropped")
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise _error(
            source, f"array of shape {arr.shape} is not an image; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    arr = _to_uint8(arr, source, notes)
    _check_size(arr.shape[1], arr.shape[0], source)
    return LoadedImage(np.ascontiguousarray(arr), source, notes)


def _plain_tensor(item: "torch.Tensor", label: str) -> "torch.Tensor":
    """A dense, CPU, non-quantised copy of a tensor, or an error naming what it is: meta tensors
    have no pixels, sparse ones are made dense only within the pixel limit."""
    import torch

    if item.is_meta:
        raise _error(label, "a meta tensor has a shape but no pixels")
    t = item.detach()
    if t.is_quantized:
        t = t.dequantize()
    if t.layout != torch.strided:
        if t.numel() > 4 * limits.MAX_IMAGE_PIXELS:
            raise _error(label, f"sparse tensor of shape {tuple(t.shape)} is over the pixel limit once made dense")
        try:
            t = t.to_dense()
        except RuntimeError as exc:
            raise _error(label, f"the {t.layout} tensor cannot be made dense ({exc})") from None
    if t.is_complex():
        raise _error(label, f"tensor dtype {t.dtype} is not an image type (use uint8)")
    return t.cpu()


def load_image(item: Any, source: str | None = None) -> LoadedImage:
    """Path, PIL image, numpy array (HxW or HxWxC) or torch tensor (CxHxW or HxWxC) -> RGB uint8."""
    if isinstance(item, (str, Path)):
        return _open_path(Path(item))
    label = source or f"<{type(item).__name__}>"
    if isinstance(item, Image.Image):
        _check_size(*item.size, label)
        notes: list[str] = []
        try:
            return LoadedImage(_pil_to_rgb(item, label, notes), label, notes)
        except (ValueError, OSError) as exc:  # e.g. a closed image: "Operation on closed image"
            raise _error(label, f"the PIL image cannot be read ({exc})") from None
    if isinstance(item, np.ndarray):
        return _from_array(item, label)
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(item, torch.Tensor):
        t = _plain_tensor(item, label)
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.float()  # bf16 and fp16 have no numpy twin
        if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[2] not in (1, 3, 4):
            t = t.permute(1, 2, 0)
        return _from_array(t.numpy(), label)
    if isinstance(item, (bytes, bytearray)):
        raise _error(label, "raw bytes are not accepted; pass a path, a PIL image or an array")
    raise _error(label, f"cannot use an object of type {type(item).__name__} as an image")
