"""``fever-bench``: how fast a model embeds face crops, and how faithful bf16 is.

Prints a table (medians over repeats) and optionally writes JSON. Speed is measured here, never in
unit tests. Crops are real faces: FER+ test faces when ``--data-root`` has them, else the bundled
samples repeated.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

import fever
from distill.datasets import add_data_root_argument
from fever.cli.app import Command, run
from fever.vectors import row_cosine
from tools.peak_memory import peak_rss_mb

SAMPLES = Path(fever.__file__).resolve().parent / "samples"


def real_crops(data_root: Path | None, count: int) -> "torch.Tensor":
    import torch

    faces: list[np.ndarray] = []
    test = data_root / "ferplus" / "test.parquet" if data_root else None
    if test is not None and test.exists():
        import io

        import pyarrow.parquet as pq
        from PIL import Image

        blobs = pq.read_table(test, columns=["image"]).column("image").to_pylist()[:count]
        faces = [np.asarray(Image.open(io.BytesIO(b)).convert("L")) for b in blobs]
    else:
        from fever.io.images import load_image

        samples = sorted(SAMPLES.glob("ferplus_*.png"))
        faces = [load_image(p).array[..., 0] for p in samples]
        faces = (faces * (count // len(faces) + 1))[:count]
    x = torch.from_numpy(np.stack(faces)).float().div_(255)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def bench_crops(
    model: str | None,
    batch_size: int,
    repeats: int,
    data_root: Path | None,
    threads: int | None,
    tta: str | None = None,
) -> dict[str, Any]:
    import torch

    from fever.extractor import Extractor

    if threads:
        torch.set_num_threads(threads)
    crops = real_crops(data_root, max(batch_size * 8, 512))
    results: dict[str, Any] = {
        "model": None,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "crops": len(crops),
        "precisions": {},
    }
    vectors = {}
    for precision in ("fp32", "bf16"):
        ex = Extractor(model, device="cpu", precision=precision, tta=tta)
        results["model"], results["tta"] = ex.config.name, ex.tta
        ex.embed_crops(crops[: batch_size * 2], batch_size)  # warm-up
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            ex.embed_crops(crops, batch_size)
            rates.append(len(crops) / (time.perf_counter() - start))
        vectors[precision] = ex.embed_crops(crops, batch_size)
        results["precisions"][precision] = {
            "crops_per_s_median": statistics.median(rates),
            "crops_per_s_all": [round(r, 1) for r in rates],
        }
    cos = row_cosine(vectors["fp32"], vectors["bf16"])
    results["bf16_vs_fp32_cosine"] = {"min": float(cos.min()), "mean": float(cos.mean())}
    results["peak_rss_mb"] = peak_rss_mb()
    results["machine"] = {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__}
    return results


class CropsCommand(Command):
    name = "crops"
    help = "face crops per second (fp32 and bf16) and the bf16-vs-fp32 cosine of one model"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        p.add_argument("--batch-size", type=int, default=64, help="crops per forward pass")
        p.add_argument("--repeats", type=int, default=5, help="timed runs (the median is reported)")
        p.add_argument(
            "--tta", choices=("none", "flip"), default=None, help="test-time flips of the vector (default: the model's)"
        )
        p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
        add_data_root_argument(p)
        p.add_argument("--json", type=Path, default=None, help="also write the results here")

    def run(self, args: argparse.Namespace) -> int:
        r = bench_crops(args.model, args.batch_size, args.repeats, args.data_root, args.threads, args.tta)
        print(
            f"model {r['model']}, tta {r['tta']}, batch {r['batch_size']}, {r['threads']} threads, "
            f"{r['crops']} real face crops"
        )
        print("| precision | crops/s (median) |")
        print("|---|---|")
        for name, v in r["precisions"].items():
            print(f"| {name} | {v['crops_per_s_median']:.0f} |")
        print(
            f"bf16 vs fp32 cosine: min {r['bf16_vs_fp32_cosine']['min']:.5f}, "
            f"mean {r['bf16_vs_fp32_cosine']['mean']:.5f}"
        )
        if args.json:
            args.json.write_text(json.dumps(r, indent=2))
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-bench``: ``crops``, ``suite``, ``tracks``, ``nets``, ``memory`` and ``stability``.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    from .bench_memory import MemoryCommand
    from .bench_nets import NetsCommand
    from .bench_stability import StabilityCommand
    from .bench_suite import SuiteCommand
    from .bench_tracks import TracksCommand

    return run(
        "fever-bench",
        __doc__,
        [CropsCommand(), SuiteCommand(), TracksCommand(), NetsCommand(), MemoryCommand(), StabilityCommand()],
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
