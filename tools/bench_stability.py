"""``fever-bench stability``: how much a face's vector moves from frame to frame within a track.

Issue 25 asks that the vectors hold on what video does to a face: within a track, consecutive
frames show nearly the same expression, so their vectors should be nearly the same. On crops the
library itself cuts from the shared videos (MTCNN on every frame, tracks as ``extract_video``
makes them) this prints, per video, the cosine of consecutive vectors of one track (median and
10th percentile) and how often the shipped probe's top expression changes between them. Lower
flip rates at equal accuracy mean steadier labels; it cannot tell a real change of expression
from noise, so it is read beside the accuracy figures, never alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from distill.datasets import add_data_root_argument
from fever.cli.app import Command

VIDEOS = ("single_face.mp4", "WolfgangLanger_Pexels.mp4", "short_hamilton_clip.mp4", "woman2.mp4")


def stability(
    model: str | None, data_root: Path, tta: str | None = None, max_frames: int = 150
) -> list[dict[str, Any]]:
    import fever
    from fever.vectors import row_cosine

    extractor = fever.Extractor(model, device="cpu", tta=tta)
    rows = []
    for name in VIDEOS:
        analysis = fever.analyze(data_root / "videos" / name, model=extractor, max_frames=max_frames)
        result = analysis.extraction
        labels = np.array([e or "" for e in analysis.expressions])
        cos, flips = [], []
        for track in sorted({r.track for r in result.rows if r.status == "ok"}):
            idx = [i for i, r in enumerate(result.rows) if r.track == track and r.status == "ok"]
            idx.sort(key=lambda i: result.rows[i].frame)
            for a, b in zip(idx, idx[1:]):
                if result.rows[b].frame - result.rows[a].frame == 1:  # consecutive frames only
                    cos.append(float(row_cosine(result.vectors[a : a + 1], result.vectors[b : b + 1])[0]))
                    flips.append(labels[a] != labels[b])
        rows.append(
            {
                "video": name,
                "pairs": len(cos),
                "cosine_median": float(np.median(cos)) if cos else float("nan"),
                "cosine_p10": float(np.percentile(cos, 10)) if cos else float("nan"),
                "label_flip_rate": float(np.mean(flips)) if flips else float("nan"),
            }
        )
    return rows


class StabilityCommand(Command):
    name = "stability"
    help = "frame-to-frame cosine of a track's vectors and the probe's label flips on the shared videos"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        p.add_argument("--tta", choices=("none", "flip"), default=None, help="test-time flips (default: the model's)")
        p.add_argument("--max-frames", type=int, default=150, help="frames per video")
        add_data_root_argument(p)

    def run(self, args: argparse.Namespace) -> int:
        rows = stability(args.model, Path(args.data_root), args.tta, args.max_frames)
        print("| video | consecutive pairs | cosine median | cosine 10th pct | label flips |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['video']} | {r['pairs']} | {r['cosine_median']:.4f} | {r['cosine_p10']:.4f} | "
                f"{r['label_flip_rate']:.2%} |"
            )
        return 0
