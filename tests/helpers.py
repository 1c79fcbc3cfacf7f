"""What several test modules share: where the repository, the sample faces and the datasets are."""

from __future__ import annotations

import os
from pathlib import Path

from distill.datasets import DATA_ROOT_ENV

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fever" / "samples"
# the shared datasets beside the repository, unless FEVER_DATASETS says otherwise
DATASETS = Path(os.environ.get(DATA_ROOT_ENV) or ROOT.parent / "shared" / "datasets")
VIDEOS = DATASETS / "videos"


def write_video(path: Path, frames: list, fps: int = 10, rotation: float | None = None) -> Path:
    """An H.264 MP4 of RGB uint8 frames (all one size); ``rotation``: a display matrix that turns
    them counter-clockwise by that many degrees on display, as phones write."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for array in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_growing_mjpeg(path: Path, sizes: list[tuple[int, int]], fps: int = 10) -> Path:
    """A Motion-JPEG Matroska file whose header gives the first (width, height) and whose frames
    then take the sizes listed: what a hostile file does to get past a header check."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=fps)
        stream.width, stream.height = sizes[0]
        stream.pix_fmt = "yuvj420p"
        for i, (w, h) in enumerate(sizes):
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuvj420p"
            encoder.time_base = Fraction(1, fps)
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), 100, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuvj420p")
            frame.pts = i
            for packet in encoder.encode(frame) + encoder.encode(None):
                packet.stream = stream
                packet.pts = packet.dts = i
                packet.time_base = Fraction(1, fps)
                out.mux(packet)
    return path
