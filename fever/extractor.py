"""From images, photos and videos to expression vectors: decode, detect, align, embed."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import limits
from .align import crop_face
from .appearance import MIN_SIMILARITY, appearance
from .detect import FaceFollower, clip_box
from .device import autocast_for, resolve_device
from .errors import FeverError, InputError, UsageError
from .inputs import expand_inputs
from .io.images import LoadedImage, load_image
from .io.video import VIDEO_EXTENSIONS, VideoFrame, iter_video_frames
from .models import FeverModel, load
from .preprocess import to_float_rgb, to_model_input
from .result import STATUS_ERROR, STATUS_NO_FACE, Extraction, Row
from .shots import ShotDetector
from .track import IoUTracker

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "fever-student-vgg-s48"
FACE_MODES = ("auto", "detect", "crop")
# faces="auto": an image whose longer side is at most this many pixels is taken as a face crop
# (FER-style datasets: 48-128 px); larger images are searched for faces with MTCNN.
MIN_TRACK_FRAMES = 5  # shortest video track kept (see Extractor.extract_video)
AUTO_CROP_MAX_SIDE = 128


def _iter_items(images: Any) -> Sequence[Any] | Iterator[Any]:
    """One image or an iterable of images -> a list, or for generators and other one-pass
    iterables an iterator that is read a batch at a time (an endless camera generator streams).
    A folder gives its image and video files (as ``fever-embed`` reads it; a video then gets an
    error row that says to use ``extract_video``)."""
    if isinstance(images, (str, Path)) and Path(images).is_dir():
        return [e.path for e in expand_inputs([str(images)]) if e.kind in ("image", "video")]
    if isinstance(images, (bytes, bytearray)):
        return [images]  # one (refused) item with a message, not one row per byte
    if isinstance(images, (str, Path, np.ndarray, torch.Tensor)) or hasattr(images, "getpixel"):
        if isinstance(images, torch.Tensor) and images.ndim == 4:
            return list(images)
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return list(images)
        return [images]
    if isinstance(images, (list, tuple)):
        return list(images)
    try:
        return iter(images)
    except TypeError:
        raise TypeError(f"images must be an image or an iterable of images, not {type(images).__name__}") from None


def _source_of(item: Any, index: int) -> str:
    return str(item) if isinstance(item, (str, Path)) else f"<input {index}: {type(item).__name__}>"


class Extractor:
    """A loaded model plus its face detector; reuse one for many calls.

    Args:
        model: preset name, model folder, Hub repo id or a :class:`FeverModel` (default: the
            bundled default model).
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        precision: ``"fp32"`` or ``"bf16"`` (autocast; vectors stay within cosine 0.999).
        min_face_size: smallest face MTCNN looks for, in pixels.
        detection_threshold: detections scoring below this are dropped.
        revision, local_files_only: Hub options of :func:`fever.load`.
        backend: ``"torch"`` or ``"onnx"`` (an export made with ``fever-export onnx``).
        onnx_file: the ONNX file for ``backend="onnx"`` (default: ``model.onnx`` in the model folder).
        tta: ``"flip"`` averages the vectors of each face and its mirror image, ``"none"`` does not;
            None (default) follows the model's config (``preprocess.tta``), so a model can ship with it on.
        detector: ``"mtcnn"`` (default), ``"onepass"`` (the bundled one-pass face + expression
            detector, paper 004) or a one-pass detector folder; its boxes feed the same crops, and
            its own expression logits come with each row (``expression_onepass``).

    >>> ex = Extractor()                                   # bundled default model
    >>> out = ex.extract(["photo.jpg", "face48.png"])      # doctest: +SKIP
    >>> out.vectors.shape                                   # doctest: +SKIP
    (3, 256)
    """

    def __init__(
        self,
        model: str | Path | FeverModel | None = None,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        min_face_size: int = 20,
        detection_threshold: float = 0.9,
        revision: str | None = None,
        local_files_only: bool | None = None,
        backend: str = "torch",
        onnx_file: str | Path | None = None,
        tta: str | None = None,
        detector: str | Path = "mtcnn",
    ) -> None:
        self.device = resolve_device(device)
        autocast_for(self.device, precision)  # validates precision
        self.precision = precision
        if isinstance(model, FeverModel):
            self.model = model.to(self.device).eval()
        else:
            self.model = load(
                DEFAULT_MODEL if model is None else model,
                revision=revision,
                local_files_only=local_files_only,
                device=self.device,
            )
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.config = self.model.config
        self.preprocess = self.config.preprocess
        if tta is not None:
            from dataclasses import replace

            try:
                self.preprocess = replace(self.preprocess, tta=tta)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        self.tta = self.preprocess.tta
        self.min_face_size = min_face_size
        self.detection_threshold = detection_threshold
        self.detector_name = str(detector)
        self._detector = None
        if self.detector_name != "mtcnn":
            from .onepass.detector import OnePassFaceDetector, load_detector, resolve_detector

            self._detector = OnePassFaceDetector(load_detector(resolve_detector(detector), precision))
        self.backend = backend
        self.onnx = self._load_onnx(onnx_file) if backend == "onnx" else None
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', not {backend!r}")

    def _load_onnx(self, onnx_file: str | Path | None):
        """The exported graph of this very model (the config hash in its metadata must match)."""
        from .backend.onnx import ONNX_NAME, OnnxEmbedder
        from .errors import ModelLoadError

        origin = self.model.origin
        path = Path(onnx_file) if onnx_file else (origin.folder / ONNX_NAME if origin is not None else None)
        if path is None or not path.is_file():
            where = f"{path}: no" if path is not None else "no"
            raise ModelLoadError(
                f"{where} ONNX export of {self.config.name}; write one where you can, e.g. "
                f"`fever-export onnx {self.config.name} --out {self.config.name}.onnx`, and pass "
                f"onnx_file='{self.config.name}.onnx' (to fever.extract, fever.Extractor or get_extractor)"
            )
        embedder = OnnxEmbedder(path)
        if embedder.config_hash and embedder.config_hash != self.config.config_hash():
            raise ModelLoadError(
                f"{path}: exported from config {embedder.config_hash}, the model has "
                f"{self.config.config_hash()}; export this model again"
            )
        return embedder

    @property
    def dim(self) -> int:
        return self.config.d_face

    @property
    def detector(self):
        if self._detector is None:
            from .detect import FaceDetector

            self._detector = FaceDetector(
                min_face_size=self.min_face_size, min_score=self.detection_threshold, device=self.device
            )
        return self._detector

    # -- the model ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def embed_crops(self, crops: torch.Tensor, batch_size: int = 64, normalize: bool = False) -> np.ndarray:
        """Vectors of face crops that are already cut out (no detection, no alignment).

        Args:
            crops: float RGB crops (N, 3, H, W) in [0, 1], any H and W.
            batch_size: crops per forward pass.
            normalize: L2-normalise the vectors.

        Returns:
            (N, D) float32 vectors.
        """
        out = []
        for start in range(0, len(crops), batch_size):
            x = to_model_input(crops[start : start + batch_size], self.preprocess).to(self.device)
            if self.onnx is not None:
                v = self.with_flips(x, self.onnx)
            else:
                v = self.with_flips(x, self.model.embed)
            if normalize:
                v = F.normalize(v, dim=1)
            out.append(v.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    @torch.inference_mode()
    def with_flips(self, x: torch.Tensor, fn: Callable[[torch.Tensor], Any]) -> Any:
        """``fn`` (a network's forward) on normalised model input, the one place the test-time
        flips and the precision are applied: with ``tta="flip"`` the mirrors go through in a second
        pass of the same size (one pass of twice the batch was 23% slower per crop here: the
        default gave 1,180 crops/s bf16 at batch 128 against 1,512 at 64) and every output tensor
        is the mean of the two.

        Args:
            x: model input (N, 3, S, S), as :func:`fever.preprocess.to_model_input` makes it.
            fn: the forward to run (``model.embed``, ``model``, an ONNX session).

        Returns:
            ``fn``'s output for the N faces (a tensor, or an output object whose tensors are averaged), in fp32.
        """

        def run(batch: torch.Tensor) -> Any:
            if self.device.type == "cpu":
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast_for(self.device, self.precision):
                return fn(batch)

        out = run(x)
        mirror = run(x.flip(-1)) if self.tta == "flip" else None

        def merge(t: Any, m: Any) -> Any:
            if not isinstance(t, torch.Tensor):
                return t
            return t.float() if m is None else (t.float() + m.float()) / 2

        if isinstance(out, torch.Tensor):
            return merge(out, mirror)
        from dataclasses import fields, replace

        mirrored = {f.name: None if mirror is None else getattr(mirror, f.name) for f in fields(out)}
        return replace(out, **{name: merge(getattr(out, name), m) for name, m in mirrored.items()})

    # -- images ------------------------------------------------------------------------------------------
    def _decode(
        self, items: Sequence[Any], offset: int, pool: ThreadPoolExecutor | None
    ) -> list[LoadedImage | InputError]:
        def one(pair: tuple[int, Any]) -> LoadedImage | InputError:
            i, item = pair
            if isinstance(item, (str, Path)) and Path(item).suffix.lower() in VIDEO_EXTENSIONS:
                return InputError(item, "is a video: use fever.extract_video(path), or fever-embed, which reads both")
            try:
                return load_image(item, source=_source_of(item, offset + i))
            except InputError as exc:
                return exc

        pairs = list(enumerate(items))
        return list(pool.map(one, pairs)) if pool else [one(p) for p in pairs]

    def _faces_of(self, loaded: list[LoadedImage], mode: str) -> list[list[tuple[Any, Any, float, Any]]]:
        """Per image: list of (box, landmarks, score, expression logits or None); crops give one
        whole-image entry."""
        take_whole = [
            mode == "crop" or (mode == "auto" and max(im.array.shape[:2]) <= AUTO_CROP_MAX_SIDE) for im in loaded
        ]
        faces: list[list[tuple[Any, Any, float, Any]]] = [[] for _ in loaded]
        to_detect = [i for i, whole in enumerate(take_whole) if not whole]
        if to_detect:
            found = self.detector.detect([loaded[i].array for i in to_detect])
            for i, dets in zip(to_detect, found):
                faces[i] = [(d.box, d.landmarks, d.score, d.expression) for d in dets]
        for i, whole in enumerate(take_whole):
            if whole:
                faces[i] = [(None, None, 1.0, None)]  # the whole image is the face; its box is set in _extract_chunk
        return faces

    def _crop_all(self, loaded: list[LoadedImage], faces: list[list[tuple[Any, Any, float, Any]]]) -> torch.Tensor:
        size = self.preprocess.input_size
        crops = []
        for im, entries in zip(loaded, faces):
            for box, landmarks, *_ in entries:
                if box is None:
                    t = to_float_rgb(im.array).unsqueeze(0)
                    crops.append(
                        F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
                        if t.shape[-2:] != (size, size)
                        else t[0]
                    )
                else:
                    crops.append(crop_face(im.array, box, landmarks, self.preprocess))
        return torch.stack(crops) if crops else torch.zeros(0, 3, size, size)

    def extract(
        self,
        images: Any,
        faces: str = "auto",
        batch_size: int = 64,
        num_workers: int = 0,
        show_progress_bar: bool | None = None,
        normalize: bool = False,
        on_chunk: Callable[[Extraction], None] | None = None,
    ) -> Extraction:
        """Embed every face of every image.

        An input with no face, or that cannot be read, gives one row with ``status`` ``"no_face"`` /
        ``"error"`` and a NaN vector: never an exception in the middle of a batch.

        Args:
            images: a path, PIL image, numpy array (HxW gray or HxWx3 RGB, uint8), torch tensor, or
                an iterable of these.
            faces: ``"detect"`` finds every face with MTCNN (one row per face); ``"crop"`` takes each
                image as one face crop; ``"auto"`` takes images whose longer side is at most 128 px
                as crops and detects in larger ones.
            batch_size: images decoded and faces embedded per step.
            num_workers: threads that decode images in parallel (the vectors do not change).
            show_progress_bar: a tqdm bar.
            normalize: L2-normalise the vectors.
            on_chunk: called with each finished chunk of rows (what ``fever-embed`` writes as it goes).

        Returns:
            An :class:`Extraction`: one row per face (or per failed input) and the (N, D) vectors.
        """
        if faces not in FACE_MODES:
            raise ValueError(f"faces must be one of {FACE_MODES}, not {faces!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        parts: list[Extraction] = []
        for chunk in self.iter_extract(images, faces, batch_size, num_workers, show_progress_bar, normalize):
            if on_chunk is not None:
                on_chunk(chunk)
            parts.append(chunk)
        return self._finish(Extraction.concat(parts, self.dim))

    def iter_extract(
        self,
        images: Any,
        faces: str = "auto",
        batch_size: int = 64,
        num_workers: int = 0,
        show_progress_bar: bool | None = None,
        normalize: bool = False,
    ) -> Iterator[Extraction]:
        """:meth:`extract`, a batch of inputs at a time: each chunk's rows as soon as they are
        done. A generator of images (a camera, a crawler) is read one batch ahead, never whole.

        Args:
            images, faces, batch_size, num_workers, show_progress_bar, normalize: as in :meth:`extract`.

        Yields:
            An :class:`Extraction` per batch; ``input_index`` counts from the first input.
        """
        if faces not in FACE_MODES:
            raise ValueError(f"faces must be one of {FACE_MODES}, not {faces!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        items = _iter_items(images)
        progress = _progress(len(items) if isinstance(items, Sequence) else None, "images", show_progress_bar)
        pool = ThreadPoolExecutor(num_workers) if num_workers > 0 else None
        try:
            for start, batch in image_batches(items, batch_size):
                chunk = self._extract_chunk(batch, start, faces, batch_size, normalize, pool)
                progress.update(len(batch))
                yield self._finish(chunk)
        finally:
            progress.close()
            if pool:
                pool.shutdown()

    def _finish(self, result: Extraction) -> Extraction:
        result.model_name = self.config.name
        result.config_hash = self.config.config_hash()
        return result

    def _extract_chunk(
        self,
        items: Sequence[Any],
        offset: int,
        mode: str,
        batch_size: int,
        normalize: bool,
        pool: ThreadPoolExecutor | None,
    ) -> Extraction:
        decoded = self._decode(items, offset, pool)
        good = [(offset + i, d) for i, d in enumerate(decoded) if isinstance(d, LoadedImage)]
        faces = self._faces_of([d for _, d in good], mode) if good else []
        crops = self._crop_all([d for _, d in good], faces) if good else torch.zeros(0)
        vectors = self.embed_crops(crops, batch_size, normalize) if len(crops) else np.zeros((0, self.dim), np.float32)
        by_input: dict[int, list[tuple[Row, np.ndarray]]] = {}
        k = 0
        for (index, im), entries in zip(good, faces):
            note = "; ".join(im.notes) or None
            if not entries:
                by_input[index] = [
                    (
                        Row(index, im.source, STATUS_NO_FACE, note=note, error=f"{im.source}: no face found"),
                        _nan(self.dim),
                    )
                ]
                continue
            rows = []
            for face_no, (box, landmarks, score, expression) in enumerate(entries):
                h, w = im.array.shape[:2]
                if box is None:
                    box = np.array([0, 0, w, h], np.float32)
                # in the original's pixels when a very large photo was decoded smaller
                original = (round(h * im.scale), round(w * im.scale))
                rows.append(
                    (
                        Row(
                            index,
                            im.source,
                            face=face_no,
                            box=clip_box(np.asarray(box, np.float32) * im.scale, original),
                            landmarks=None if landmarks is None else np.asarray(landmarks, np.float32) * im.scale,
                            score=float(score),
                            note=note,
                            expression_onepass=expression,
                        ),
                        vectors[k],
                    )
                )
                k += 1
            by_input[index] = rows
        for i, d in enumerate(decoded):
            if isinstance(d, InputError):
                logger.warning("%s", d)
                by_input[offset + i] = [(Row(offset + i, d.source, STATUS_ERROR, error=str(d)), _nan(self.dim))]
        ordered = [pair for index in sorted(by_input) for pair in by_input[index]]
        return Extraction(
            np.stack([v for _, v in ordered]).astype(np.float32) if ordered else np.zeros((0, self.dim), np.float32),
            [r for r, _ in ordered],
        )

    # -- video -------------------------------------------------------------------------------------------
    def extract_video(
        self,
        path: str | Path,
        every: int = 1,
        fps: float | None = None,
        max_frames: int | None = None,
        batch_size: int = 64,
        normalize: bool = False,
        track_iou: float = 0.3,
        max_gap: int = 10,
        track_similarity: float = MIN_SIMILARITY,
        show_progress_bar: bool | None = None,
        input_index: int = 0,
        detect_every: int = 1,
        min_track_frames: int = MIN_TRACK_FRAMES,
    ) -> Extraction:
        """Per-frame, per-face rows of a video, with frame index, timestamp and a track id.

        Tracks end at shot changes, and a face joins a track only if it also looks like the track's
        last face (:mod:`fever.appearance`); tracks seen on fewer than ``min_track_frames`` sampled frames
        are dropped: on the shared videos every such track was a false face (hair, a hand, a dark
        background scoring 0.90-0.96) and every real face was tracked for 20 frames or more.

        ``detect_every=k`` runs the full MTCNN detector on every k-th processed frame only and
        follows the faces it found through the frames in between with MTCNN's last stage
        (:meth:`FaceDetector.refine`): several times faster, and a face that enters the picture is
        found at the next detection frame, at most k - 1 frames late. ``1`` detects on every frame.

        A video with no face gives one ``no_face`` row; a file that cannot be decoded gives one
        ``error`` row (frames decoded before a failure are kept).

        Args:
            path: the video file.
            every: keep every n-th frame.
            fps: sample this many frames per second instead.
            max_frames: stop after this many sampled frames.
            batch_size: frames detected and faces embedded per step.
            normalize: L2-normalise the vectors.
            track_iou, max_gap: the tracker's overlap threshold and how many frames a track may miss.
            track_similarity: how alike (colour histograms, 0-1) a face must look to join a track; 0 = IoU alone.
            show_progress_bar: a tqdm bar.
            input_index: the ``input_index`` the rows carry.
            detect_every: full detection on every k-th sampled frame.
            min_track_frames: shortest track kept, in sampled frames (1 keeps every detection).

        Returns:
            An :class:`Extraction`, one row per face per frame.
        """
        source = str(path)
        parts: list[Extraction] = []
        frames_seen = 0
        progress = _progress(None, "frames", show_progress_bar, desc=Path(source).name)
        error: InputError | None = None
        frames = iter_video_frames(path, every=every, fps=fps, max_frames=max_frames)
        try:
            for chunk, part in self.iter_video(
                frames,
                source,
                batch_size=batch_size,
                detect_every=detect_every,
                track_iou=track_iou,
                max_gap=max_gap,
                track_similarity=track_similarity,
                input_index=input_index,
                normalize=normalize,
            ):
                frames_seen += len(chunk)
                parts.append(part)
                progress.update(len(chunk))
        except InputError as exc:
            error = exc
            logger.warning("%s", exc)
        finally:
            progress.close()
        result, dropped = _drop_short_tracks(Extraction.concat(parts, self.dim), min_track_frames)
        tail = []
        if error is not None:
            tail.append(Row(input_index, source, STATUS_ERROR, error=str(error)))
        elif not len(result):
            short = f" ({dropped} tracks shorter than {min_track_frames} frames left out)" if dropped else ""
            tail.append(
                Row(
                    input_index,
                    source,
                    STATUS_NO_FACE,
                    error=f"{source}: no face in {frames_seen} sampled frames{short}",
                )
            )
        if tail:
            extra = Extraction(np.stack([_nan(self.dim)] * len(tail)), tail)
            result = Extraction.concat([result, extra], self.dim)
        return self._finish(result)

    def iter_video(
        self,
        frames: Iterable["VideoFrame"],
        source: str,
        *,
        batch_size: int = 64,
        detect_every: int = 1,
        track_iou: float = 0.3,
        max_gap: int = 10,
        track_similarity: float = MIN_SIMILARITY,
        input_index: int = 0,
        normalize: bool = False,
    ) -> Iterator[tuple[list["VideoFrame"], Extraction]]:
        """Stream decoded frames in chunks of ``batch_size``: each chunk with the rows of its faces.

        Tracks end at shot changes (:mod:`fever.shots`), where the follower detects afresh.
        The tracker and the key-frame follower carry over from chunk to chunk, so a live source
        (``fever-live``) gets the same tracks as :meth:`extract_video`, which is built on this.

        Args:
            frames: decoded frames (``fever.io.video.iter_video_frames``).
            source: the name the rows carry.
            batch_size, detect_every, track_iou, max_gap, track_similarity, input_index, normalize: as in
                :meth:`extract_video`.

        Yields:
            ``(chunk, extraction)``: the frames of the chunk and the faces found in them.
        """
        tracker = IoUTracker(min_iou=track_iou, max_gap=max_gap, min_similarity=track_similarity)
        follow = FaceFollower(self.detector, detect_every)
        shots = ShotDetector()
        for chunk in frame_batches(frames, batch_size):
            cuts = [shots.is_cut(f.array) for f in chunk]
            found = follow.faces([f.array for f in chunk], cuts)
            crops, rows = [], []
            for frame, dets, cut in zip(chunk, found, cuts):
                if cut:  # a new shot: no track carries over (one track = one person)
                    tracker.cut()
                faces = [crop_face(frame.array, d.box, d.landmarks, self.preprocess) for d in dets]
                boxes = np.stack([d.box for d in dets]) if dets else np.zeros((0, 4), np.float32)
                ids = tracker.update(boxes, [appearance(c) for c in faces])
                crops += faces
                for face_no, (det, track) in enumerate(zip(dets, ids)):
                    rows.append(
                        Row(
                            input_index,
                            source,
                            face=face_no,
                            box=clip_box(det.box, frame.array.shape),
                            landmarks=det.landmarks,
                            score=det.score,
                            frame=frame.index,
                            timestamp=frame.timestamp,
                            track=track,
                            note=rotation_note(frame.rotation),
                            expression_onepass=det.expression,
                        )
                    )
            if not crops:
                yield chunk, Extraction(np.zeros((0, self.dim), np.float32), [])
            else:
                yield chunk, Extraction(self.embed_crops(torch.stack(crops), batch_size, normalize), rows)


def rotation_note(degrees: int) -> str | None:
    """The note a row of a turned video frame carries (None for an upright stream)."""
    if not degrees:
        return None
    return f"frame turned {degrees} degrees counter-clockwise, as the video's display matrix asks"


def _drop_short_tracks(result: Extraction, min_frames: int) -> tuple[Extraction, int]:
    """Rows of tracks seen on at least ``min_frames`` frames; and how many tracks went."""
    if min_frames <= 1 or not len(result):
        return result, 0
    counts: dict[int, int] = {}
    for row in result.rows:
        counts[row.track] = counts.get(row.track, 0) + 1
    keep = [i for i, row in enumerate(result.rows) if counts[row.track] >= min_frames]
    dropped = sum(1 for c in counts.values() if c < min_frames)
    return Extraction(result.vectors[keep], [result.rows[i] for i in keep]), dropped


def _nan(dim: int) -> np.ndarray:
    return np.full(dim, np.nan, np.float32)


def _pixels_of(item: Any) -> int:
    """An input's pixel count before decoding (file headers only); 0 when it cannot be told (the
    decoder then reports what is wrong)."""
    try:
        if isinstance(item, (str, Path)):
            import stat

            from PIL import Image

            if not stat.S_ISREG(os.stat(item).st_mode):  # a FIFO would block the open; the loader says why
                return 0
            with Image.open(item) as img:
                return int(img.size[0]) * int(img.size[1])
        if hasattr(item, "size") and isinstance(getattr(item, "size"), tuple):  # PIL image
            return int(item.size[0]) * int(item.size[1])
        shape = getattr(item, "shape", None)
        if shape is not None and len(shape) >= 2:
            hw = shape[-2:] if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4) else shape[:2]
            return int(hw[0]) * int(hw[1])
    except Exception:
        return 0
    return 0


def image_batches(items: Iterable[Any], size: int, max_pixels: int | None = None) -> Iterator[tuple[int, list[Any]]]:
    """``(start, batch)``: consecutive inputs, at most ``size`` and at most ``max_pixels`` (default
    :data:`fever.limits.IMAGE_BATCH_PIXELS`, decoded images in flight) together; a larger image goes
    alone. ``items`` may be an iterator: it is read one batch ahead."""
    budget = limits.IMAGE_BATCH_PIXELS if max_pixels is None else max_pixels
    start, pixels, batch = 0, 0, []
    for item in items:
        n = _pixels_of(item)
        if batch and (len(batch) == size or pixels + n > budget):
            yield start, batch
            start, pixels, batch = start + len(batch), 0, []
        batch.append(item)
        pixels += n
    if batch:
        yield start, batch


def frame_batches(frames: Iterable["VideoFrame"], size: int, max_pixels: int | None = None) -> Iterator[list[Any]]:
    """Consecutive frames, at most ``size`` of them and at most ``max_pixels`` (default
    :data:`fever.limits.BATCH_PIXELS`) together, so that large frames never pile up in memory
    (a frame larger than the budget goes alone)."""
    budget = limits.BATCH_PIXELS if max_pixels is None else max_pixels
    batch: list[Any] = []
    pixels = 0
    for frame in frames:
        n = int(frame.array.shape[0]) * int(frame.array.shape[1])
        if batch and (len(batch) == size or pixels + n > budget):
            yield batch
            batch, pixels = [], 0
        batch.append(frame)
        pixels += n
    if batch:
        yield batch


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int | None, unit: str, show: bool | None, desc: str = "fever"):
    """A tqdm bar (``desc`` names what it counts: the video's file name for videos)."""
    if not show:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=f" {unit}", desc=desc, dynamic_ncols=True)


_CACHE: dict[tuple[Any, ...], Extractor] = {}


def get_extractor(
    model: str | Path | FeverModel | None = None, device: str = "auto", precision: str = "fp32", **kwargs: Any
) -> Extractor:
    """An :class:`Extractor`, cached per (model, device, precision) so repeated calls do not reload.

    Args:
        model: preset name, model folder, Hub repo id or a :class:`FeverModel` (not cached).
        device, precision, **kwargs: as for :class:`Extractor`.

    Returns:
        The extractor.
    """
    if isinstance(model, FeverModel):
        return Extractor(model, device=device, precision=precision, **kwargs)
    key = (str(DEFAULT_MODEL if model is None else model), device, precision, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = Extractor(model, device=device, precision=precision, **kwargs)
    return _CACHE[key]


def extract(
    images: Any,
    model: str | Path | FeverModel | None = None,
    *,
    faces: str = "auto",
    batch_size: int = 64,
    num_workers: int = 0,
    show_progress_bar: bool | None = None,
    normalize: bool = False,
    device: str = "auto",
    precision: str = "fp32",
    backend: str = "torch",
    onnx_file: str | Path | None = None,
    tta: str | None = None,
    detector: str = "mtcnn",
) -> Extraction:
    """Expression vectors of every face in ``images``.

    Args:
        images: paths, PIL images, arrays, tensors, or an iterable of these (see :meth:`Extractor.extract`).
        model: preset name, model folder or Hub repo id (default: the bundled default model).
        faces, batch_size, num_workers, show_progress_bar, normalize: as in :meth:`Extractor.extract`.
        device, precision, backend, onnx_file, tta, detector: as for :class:`Extractor`.

    Returns:
        An :class:`Extraction` with ``rows`` and ``vectors``.

    >>> import fever
    >>> out = fever.extract(["photo.jpg"], normalize=True)   # doctest: +SKIP
    >>> out.vectors.shape, out.rows[0].box                     # doctest: +SKIP
    """
    onnx = {"backend": backend, "onnx_file": str(onnx_file) if onnx_file else None} if backend != "torch" else {}
    options = {
        **onnx,
        **({"tta": tta} if tta is not None else {}),
        **({"detector": detector} if detector != "mtcnn" else {}),
    }
    return get_extractor(model, device, precision, **options).extract(
        images,
        faces=faces,
        batch_size=batch_size,
        num_workers=num_workers,
        show_progress_bar=show_progress_bar,
        normalize=normalize,
    )


def extract_video(
    path: str | Path,
    model: str | Path | FeverModel | None = None,
    *,
    every: int = 1,
    fps: float | None = None,
    max_frames: int | None = None,
    batch_size: int = 64,
    normalize: bool = False,
    device: str = "auto",
    precision: str = "fp32",
    show_progress_bar: bool | None = None,
    detect_every: int = 1,
    min_track_frames: int = MIN_TRACK_FRAMES,
    tta: str | None = None,
    detector: str = "mtcnn",
) -> Extraction:
    """Per-frame, per-face vectors of a video, with track ids.

    Args:
        path: a video file (anything FFmpeg reads, HEVC included).
        model: preset name, model folder or Hub repo id (default: the bundled default model).
        every, fps, max_frames, batch_size, normalize, show_progress_bar, detect_every, min_track_frames: as in
            :meth:`Extractor.extract_video`.
        device, precision, tta, detector: as for :class:`Extractor`.

    Returns:
        An :class:`Extraction` with frame, timestamp and track on every row.
    """
    options = {**({"tta": tta} if tta is not None else {}), **({"detector": detector} if detector != "mtcnn" else {})}
    return get_extractor(model, device, precision, **options).extract_video(
        path,
        every=every,
        fps=fps,
        max_frames=max_frames,
        batch_size=batch_size,
        normalize=normalize,
        show_progress_bar=show_progress_bar,
        detect_every=detect_every,
        min_track_frames=min_track_frames,
    )


__all__ = [
    "AUTO_CROP_MAX_SIDE",
    "DEFAULT_MODEL",
    "Extractor",
    "FeverError",
    "extract",
    "extract_video",
    "get_extractor",
]
