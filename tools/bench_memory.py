"""``fever-bench memory``: peak memory of ``fever-embed`` on a large video, measured.

A shared video is scaled up to ``--size`` (4K by default) and written as H.264; ``fever-embed``
then runs on it in a child process at its default batch size, and the child's own peak resident
memory (its ``VmHWM``: see :mod:`tools.peak_memory`) is printed. Frames are batched by pixels
(:data:`fever.limits.BATCH_PIXELS`), not by count: this is the command that shows it holds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from distill.datasets import add_data_root_argument
from fever.cli.app import Command
from tools.peak_memory import run_module_measured

TARGET_MB = 3 * 1024


def write_scaled_clip(source: Path, out: Path, size: tuple[int, int], frames: int) -> int:
    """The first ``frames`` frames of ``source`` scaled to ``size`` (w, h), written as H.264; returns the count."""
    import av
    from PIL import Image

    from fever.io.video import iter_video_frames

    width, height = size
    written = 0
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for frame in iter_video_frames(source, max_frames=frames):
            image = Image.fromarray(frame.array).resize((width, height), Image.BILINEAR)
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
            written += 1
        for packet in stream.encode():
            container.mux(packet)
    return written


def measure(video: Path, model: str | None, batch_size: int | None, threads: int) -> dict[str, Any]:
    """Run ``fever-embed`` on ``video`` in a child process; its peak memory and time."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(video), "--out", str(Path(tmp) / "v.parquet"), "--no-progress", "--threads", str(threads)]
        if model:
            args += ["--model", model]
        if batch_size:
            args += ["--batch-size", str(batch_size)]
        started = time.perf_counter()
        run, peak_mb = run_module_measured("fever.cli.embed", args)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise RuntimeError(f"fever-embed failed on {video} (exit {run.returncode}): {run.stderr[-2000:]}")
        import pyarrow.parquet as pq

        rows = pq.read_table(Path(tmp) / "v.parquet", columns=["status"]).num_rows
    return {"peak_mb": round(peak_mb, 1), "seconds": round(seconds, 1), "rows": rows}


class MemoryCommand(Command):
    name = "memory"
    help = "peak memory of fever-embed on a large (default 4K) video made from a shared one"
    description = __doc__

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--video", type=Path, default=None, help="video to scale (default: the shared single_face.mp4)")
        add_data_root_argument(p)
        p.add_argument("--size", default="3840x2160", help="frame size WxH of the clip measured")
        p.add_argument("--frames", type=int, default=72, help="frames in the clip")
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        p.add_argument("--batch-size", type=int, default=None, help="fever-embed's --batch-size (default: its own)")
        p.add_argument("--threads", type=int, default=2, help="fever-embed's --threads")
        p.add_argument("--json", type=Path, default=None, help="also write the figures here")

    def run(self, args: argparse.Namespace) -> int:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise SystemExit(f"fever-bench memory: --size must be WxH (3840x2160), not {args.size!r}") from None
        source = args.video or args.data_root / "videos" / "single_face.mp4"
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / f"clip-{width}x{height}.mp4"
            frames = write_scaled_clip(source, clip, (width, height), args.frames)
            result = {
                "source": source.name,
                "size": f"{width}x{height}",
                "frames": frames,
                "clip_mb": round(clip.stat().st_size / 2**20, 2),
                "batch_size": args.batch_size or "default",
                **measure(clip, args.model, args.batch_size, args.threads),
            }
        result["under_target"] = result["peak_mb"] < TARGET_MB
        verdict = "yes" if result["under_target"] else "no"
        print("| clip | frames | file MB | batch size | rows | peak memory MB | seconds | under 3 GB |")
        print("|---|---|---|---|---|---|---|---|")
        print(
            f"| {result['size']} from {result['source']} | {frames} | {result['clip_mb']} | {result['batch_size']} | "
            f"{result['rows']} | {result['peak_mb']} | {result['seconds']} | {verdict} |"
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
