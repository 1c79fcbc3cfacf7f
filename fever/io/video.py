"""Video frames with PyAV (FFmpeg inside its wheels: H.264, HEVC, VP9... with no system ffmpeg).

Frames are sampled either every ``every``-th frame or at a target ``fps``; each comes with its index
in the stream and its timestamp in seconds from the start of the stream. Phones store portrait
video as landscape frames with a display matrix that says to turn them: each frame is turned as
that matrix says (as players and ``ffmpeg`` do), so faces are upright, and says so in ``rotation``.
"""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .. import limits
from ..errors import InputError, UsageError
from .images import file_kind

if TYPE_CHECKING:
    import av

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})


@dataclass
class VideoFrame:
    index: int  # position of the frame in the decoded stream (0-based)
    timestamp: float  # seconds from the start of the stream
    array: np.ndarray  # RGB uint8 (H, W, 3), upright as the stream asks to display it
    rotation: int = 0  # degrees counter-clockwise applied from the stream's display matrix (0, 90, 180, 270)


@dataclass
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    frames: int  # as the container reports it (0 when unknown)
    codec: str


def is_stream(source: str | Path | int) -> bool:
    """Camera indices, device files and URLs are streams: opened as they are, no file checks."""
    text = str(source)
    return isinstance(source, int) or text.isdigit() or text.startswith("/dev/video") or "://" in text


def _open(path: str | Path | int):
    import av

    if is_stream(path):
        text = str(path)
        try:
            if text.isdigit() or text.startswith("/dev/video"):
                device = f"/dev/video{text}" if text.isdigit() else text
                return av.open(device, format="v4l2")
            return av.open(text, timeout=10)
        except Exception as exc:
            raise InputError(text, f"cannot open the camera or stream ({type(exc).__name__}: {exc})") from None
    p = Path(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        raise InputError(p, "file not found") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, permission denied
        raise InputError(p, f"cannot read the file: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        # FFmpeg would wait on a FIFO for a writer that may never come
        raise InputError(p, f"is {file_kind(info.st_mode)}, not a regular file; only video files are read")
    if info.st_size == 0:
        raise InputError(p, "empty file (0 bytes)")
    try:
        container = av.open(str(p))
    except Exception as exc:  # av.error.InvalidDataError and friends
        raise InputError(p, f"cannot open as a video ({type(exc).__name__}: {exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(p, "has no video stream")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    container = _open(path)
    with container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        return VideoInfo(
            str(path),
            stream.codec_context.width,
            stream.codec_context.height,
            rate,
            int(stream.frames or 0),
            stream.codec_context.name,
        )


# sampling faster than this is asking for every frame of any real video (and 1/fps must not vanish)
MAX_SAMPLING_FPS = 1000.0


def check_video_options(every: int = 1, fps: float | None = None, max_frames: int | None = None) -> None:
    """Refuse sampling options that cannot work, before any video is opened.

    Raises:
        UsageError: naming the option and why.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise UsageError(f"every must be a whole number >= 1, not {every!r}")
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_SAMPLING_FPS):
        raise UsageError(f"fps must be a number above 0 and at most {MAX_SAMPLING_FPS:g}, not {fps!r}")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1):
        raise UsageError(f"max_frames must be a whole number >= 1 (or None for all), not {max_frames!r}")


def display_rotation(frame: "av.VideoFrame") -> int:
    """Degrees (0, 90, 180, 270) to turn a decoded frame counter-clockwise so that it shows as
    meant: the stream's display matrix, rounded to a quarter turn (the only turns phones write)."""
    try:
        degrees = float(frame.rotation or 0)
    except (AttributeError, ValueError, TypeError):
        return 0
    if not math.isfinite(degrees):
        return 0
    return int(round(degrees / 90)) % 4 * 90


def iter_video_frames(
    path: str | Path, every: int = 1, fps: float | None = None, max_frames: int | None = None
) -> Iterator[VideoFrame]:
    """Decode frames as RGB arrays; ``fps`` (if given) wins over ``every``.

    Timestamps are seconds from the start of the video stream: the container's own start offset
    (0.85 s in some MP4 files) is subtracted, so the first frame is at 0.0.
    A stream that breaks part-way raises :class:`InputError` after the frames decoded so far.
    """
    check_video_options(every, fps, max_frames)
    container = _open(path)
    with container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.MAX_FRAME_PIXELS:
            raise InputError(
                path,
                f"video frames are {width}x{height} = {width * height:,} pixels, over the limit of "
                f"{limits.MAX_FRAME_PIXELS:,} (raise fever.limits.MAX_FRAME_PIXELS to allow it)",
            )
        stream.thread_type = "AUTO"
        time_base = float(stream.time_base) if stream.time_base else 0.0
        rate = float(stream.average_rate or 0) or 25.0
        start = float(stream.start_time * time_base) if stream.start_time is not None and time_base else None
        next_time = 0.0
        emitted = 0
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if frame.pts is not None and time_base:
                    pts_time = float(frame.pts * time_base)
                    start = pts_time if start is None else start
                    ts = pts_time - start
                else:
                    ts = index / rate
                if fps is not None:
                    if ts + 1e-6 < next_time:
                        continue
                    next_time += 1.0 / fps
                    while next_time <= ts:
                        next_time += 1.0 / fps
                elif index % every:
                    continue
                # the header's size is no promise: a later frame can be far larger (checked before
                # the RGB conversion and the detector, which cost 60x the frame's pixels)
                if frame.width * frame.height > limits.MAX_FRAME_PIXELS:
                    raise InputError(
                        path,
                        f"frame {index} is {frame.width}x{frame.height} = {frame.width * frame.height:,} pixels "
                        f"(the stream said {width}x{height}), over the limit of {limits.MAX_FRAME_PIXELS:,}",
                    )
                turn = display_rotation(frame)
                array = frame.to_ndarray(format="rgb24")
                if turn:
                    array = np.ascontiguousarray(np.rot90(array, turn // 90))
                yield VideoFrame(index, ts, array, turn)
                emitted += 1
                if max_frames is not None and emitted >= max_frames:
                    return
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                path, f"video decoding failed after {index} frames ({type(exc).__name__}: {exc})"
            ) from None
        if index < 0:
            raise InputError(path, "video stream holds no decodable frame")
