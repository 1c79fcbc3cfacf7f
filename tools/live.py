"""``fever-live``: every face of a camera, video file or stream, boxed and labelled with its top
expression (the model's shipped ``logistic`` probe), written to an annotated video.

    fever-live interview.mp4 --out annotated.mp4          # headless
    fever-live 0 --out webcam.mp4 --max-frames 300         # camera index 0 (/dev/video0)
    fever-live rtsp://host/stream --out stream.mp4

Frames are read with the same decoder as ``extract_video`` and processed in batches (detection
and embedding of a batch of frames at once).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw

from fever.cli.app import Command, run
from fever.errors import UsageError

COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
]


def annotate(frame: np.ndarray, faces: list[dict[str, Any]]) -> np.ndarray:
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    for f in faces:
        colour = COLOURS[f["track"] % len(COLOURS)]
        x1, y1, x2, y2 = (float(v) for v in f["box"])
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        draw.text((x1, max(0, y1 - 12)), f"{f['expression']} {f['probability']:.2f}", fill=colour)
    return np.asarray(img)


def run_live(
    source: str,
    out: Path,
    model: str | None = None,
    probe: str | None = None,
    max_frames: int | None = None,
    batch_size: int = 16,
    precision: str = "fp32",
    detect_every: int = 3,
    report_every: float = 10.0,
    report: Callable[[str], None] | None = None,
    detector: str = "mtcnn",
) -> dict[str, Any]:
    """Annotate a camera, file or stream; ``report`` gets a progress line every ``report_every``
    seconds (stderr in the command), so a long run never sits silent."""
    import av

    import probes
    from fever.analyze import probe_folder
    from fever.extractor import Extractor
    from fever.io.video import is_stream, iter_video_frames, probe_video

    extractor = Extractor(model, device="cpu", precision=precision, detector=detector)
    fitted = probes.load(probe or probe_folder(extractor))
    fps = 25.0 if is_stream(source) else (probe_video(source).fps or 25.0)
    container = None
    stream = None
    frames_written = 0
    started = last_report = time.perf_counter()
    try:
        frames = iter_video_frames(source, max_frames=max_frames)
        for chunk, part in extractor.iter_video(frames, str(source), batch_size=batch_size, detect_every=detect_every):
            proba = fitted.predict_proba(part.vectors) if len(part) else np.zeros((0, len(fitted.classes_)))
            by_frame: dict[int, list[dict[str, Any]]] = {}
            for row, p in zip(part.rows, proba):
                by_frame.setdefault(row.frame, []).append(
                    {
                        "box": row.box,
                        "track": row.track,
                        "expression": str(fitted.classes_[int(p.argmax())]),
                        "probability": float(p.max()),
                    }
                )
            for frame in chunk:
                if container is None:
                    container = av.open(str(out), mode="w")
                    stream = container.add_stream("libx264", rate=int(round(fps)))
                    stream.height, stream.width = frame.array.shape[:2]
                    stream.pix_fmt = "yuv420p"
                image = annotate(frame.array, by_frame.get(frame.index, []))
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
                frames_written += 1
            now = time.perf_counter()
            if report is not None and now - last_report >= report_every:
                last_report = now
                report(f"fever-live: {frames_written} frames, {frames_written / (now - started):.1f} frames/s")
    finally:
        if container is not None:
            for packet in stream.encode():
                container.mux(packet)
            container.close()
    seconds = time.perf_counter() - started
    return {
        "frames": frames_written,
        "seconds": round(seconds, 2),
        "fps": round(frames_written / max(seconds, 1e-9), 2),
        "out": str(out),
    }


# containers that take the H.264 stream fever-live writes (the extension chooses the muxer)
OUT_FORMATS = frozenset({".mp4", ".m4v", ".mov", ".mkv"})


class LiveCommand(Command):
    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("source", help="camera index, video file or stream URL")
        p.add_argument("--out", required=True, type=Path, help="annotated mp4 to write")
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        p.add_argument("--probe", default=None, help="probe folder (default: the one shipped with the model)")
        p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
        p.add_argument("--batch-size", type=int, default=16, help="frames per detection and embedding batch")
        p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="inference precision")
        p.add_argument(
            "--detect-every",
            type=int,
            default=3,
            help="full face detection on every n-th frame, faces followed in between (1: every frame)",
        )
        p.add_argument("--report-every", type=float, default=10.0, help="seconds between progress lines on stderr")
        p.add_argument(
            "--detector", default="mtcnn", help="mtcnn, onepass or a one-pass detector folder (see fever-embed)"
        )

    def run(self, args: argparse.Namespace) -> int:
        if args.batch_size < 1 or args.detect_every < 1:
            raise UsageError("--batch-size and --detect-every must be 1 or more")
        if args.out.suffix.lower() not in OUT_FORMATS:
            raise UsageError(
                f"--out {args.out}: the annotated video is H.264 in {', '.join(sorted(OUT_FORMATS))}; "
                f"not {args.out.suffix or 'a name without an extension'}"
            )
        if args.out.is_dir():
            raise UsageError(f"--out {args.out}: is a folder; name the video file to write")
        result = run_live(
            args.source,
            args.out,
            args.model,
            args.probe,
            args.max_frames,
            args.batch_size,
            args.precision,
            args.detect_every,
            report_every=args.report_every,
            report=lambda line: print(line, file=sys.stderr, flush=True),
            detector=args.detector,
        )
        print(
            f"fever-live: {result['frames']} frames in {result['seconds']} s "
            f"({result['fps']} frames/s) -> {result['out']}"
        )
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-live``: 0 success, 1 error.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    return run("fever-live", __doc__, [LiveCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
