"""``fever-bench tracks``: shot changes, tracks and false faces on videos, measured.

For each video: the cuts found (frame and change score) and the largest change within a shot; the
rows and tracks of full detection (every frame), the tracks shorter than ``--min-track-frames``
(dropped by default: on the shared videos they are false faces), and the same with key-frame
detection (``--detect-every``): what the faster mode keeps. Then the looks of faces
(:mod:`fever.appearance`) in consecutive frames whose boxes overlap: the least alike pair within a
shot (a track must not break there) and the most alike pair across a cut (one it must not join),
which is where ``fever.appearance.MIN_SIMILARITY`` comes from.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from distill.datasets import add_data_root_argument
from fever.cli.app import Command


def look_similarities(
    path: Path, extractor: Any, cut_frames: set[int], min_iou: float = 0.3, batch: int = 16
) -> dict[str, list[float]]:
    """Similarity of the looks of overlapping faces in consecutive frames, within shots and across
    the cuts at ``cut_frames`` (frame indices)."""
    from fever.align import crop_face
    from fever.appearance import appearance, similarity
    from fever.extractor import frame_batches
    from fever.io.video import iter_video_frames
    from fever.track import iou

    out: dict[str, list[float]] = {"within": [], "across": []}
    previous: list[tuple[Any, Any]] = []
    for chunk in frame_batches(iter_video_frames(path), batch):
        for frame, dets in zip(chunk, extractor.detector.detect([f.array for f in chunk])):
            kind = "across" if frame.index in cut_frames else "within"
            faces = [
                (d.box, appearance(crop_face(frame.array, d.box, d.landmarks, extractor.preprocess))) for d in dets
            ]
            for box, look in faces:
                for old_box, old_look in previous:
                    if iou(box[None], old_box[None])[0, 0] >= min_iou:
                        out[kind].append(round(similarity(look, old_look), 4))
            previous = faces
    return out


def measure(path: Path, extractor: Any, detect_every: int, min_track_frames: int) -> dict[str, Any]:
    from fever.io.video import iter_video_frames
    from fever.shots import ShotDetector

    shots = ShotDetector()
    changes = [(f.index, shots.change(f.array)) for f in iter_video_frames(path)]
    cuts = [(i, round(c, 3)) for i, c in changes if c > shots.threshold]
    within = max((c for _, c in changes if c <= shots.threshold), default=0.0)
    started = time.perf_counter()
    full = extractor.extract_video(path, min_track_frames=1)
    full_s = time.perf_counter() - started
    lengths = Counter(r.track for r in full.rows if r.status == "ok")
    short = {t: n for t, n in lengths.items() if n < min_track_frames}
    started = time.perf_counter()
    fast = extractor.extract_video(path, detect_every=detect_every, min_track_frames=min_track_frames)
    fast_s = time.perf_counter() - started
    fast_tracks = Counter(r.track for r in fast.rows if r.status == "ok")
    looks = look_similarities(path, extractor, {i for i, _ in cuts})
    return {
        "video": path.name,
        "frames": len(changes),
        "cuts": cuts,
        "largest_change_within_a_shot": round(within, 3),
        "full_rows": int(sum(lengths.values())),
        "full_tracks": len(lengths),
        "short_tracks": len(short),
        "short_track_rows": int(sum(short.values())),
        "kept_rows": int(sum(n for n in lengths.values() if n >= min_track_frames)),
        "kept_tracks": len(lengths) - len(short),
        "keyframe_rows": int(sum(fast_tracks.values())),
        "keyframe_tracks": len(fast_tracks),
        "full_frames_per_s": round(len(changes) / full_s, 1),
        "keyframe_frames_per_s": round(len(changes) / fast_s, 1),
        "overlapping_pairs_within_shots": len(looks["within"]),
        "least_alike_within_a_shot": min(looks["within"], default=None),
        "most_alike_across_a_cut": max(looks["across"], default=None),
    }


class TracksCommand(Command):
    name = "tracks"
    help = "shot changes, tracks and dropped false faces on videos, with full and key-frame detection"
    description = __doc__

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("videos", nargs="*", type=Path, help="video files (default: every shared video)")
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        add_data_root_argument(p)
        p.add_argument("--detect-every", type=int, default=4, help="key frames of the second measurement")
        p.add_argument("--min-track-frames", type=int, default=5, help="tracks shorter than this count as dropped")
        p.add_argument("--json", type=Path, default=None, help="also write the rows here")

    def run(self, args: argparse.Namespace) -> int:
        from fever.extractor import Extractor

        videos = args.videos or sorted(p for p in (args.data_root / "videos").iterdir() if p.is_file())
        extractor = Extractor(args.model, device="cpu")
        rows = [measure(v, extractor, args.detect_every, args.min_track_frames) for v in videos]
        print(
            "| video | frames | cuts (frame: change) | largest change in a shot | rows / tracks, full detection | "
            f"tracks < {args.min_track_frames} frames (rows) | kept rows / tracks | rows / tracks, "
            f"detect_every {args.detect_every} | frames/s full / key-frame | "
            "look similarity: least alike within a shot / most alike across a cut |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            cuts = ", ".join(f"{i}: {c}" for i, c in r["cuts"]) or "none"
            print(
                f"| {r['video']} | {r['frames']} | {cuts} | {r['largest_change_within_a_shot']} | "
                f"{r['full_rows']} / {r['full_tracks']} | {r['short_tracks']} ({r['short_track_rows']}) | "
                f"{r['kept_rows']} / {r['kept_tracks']} | {r['keyframe_rows']} / {r['keyframe_tracks']} | "
                f"{r['full_frames_per_s']} / {r['keyframe_frames_per_s']} | "
                f"{_fmt(r['least_alike_within_a_shot'])} / {_fmt(r['most_alike_across_a_cut'])} |"
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
