"""``fever-bench suite``: the comparison table of issue "fast everywhere".

Each pipeline runs in its own child process (same process tree, same images) so that its peak
memory is its own. Figures are medians over repeats:

- face crops per second (pre-cropped real faces, no detection): the default model in fp32 and
  bf16, the paper's DenseNet-201 student and a paper teacher (140 px), and the reference pipeline
  users know, facenet-pytorch ``InceptionResnetV1`` at 160x160;
- end to end on the real 640x360 videos (decode + detect + align + embed), frames per second, for
  the default model and for facenet-pytorch's MTCNN + InceptionResnetV1 run frame by frame the way
  its README shows;
- ratios against the reference, and the default model's achieved GFLOP/s against the matmul peak
  measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from distill.datasets import add_data_root_argument
from fever.cli.app import Command
from tools.peak_memory import peak_rss_mb

VIDEO_NAMES = ("single_face.mp4", "WolfgangLanger_Pexels.mp4", "short_hamilton_clip.mp4")


def _rate(fn, items: int, repeats: int) -> float:
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def crops_job(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from .bench import real_crops

    crops = real_crops(Path(spec["data_root"]), spec["count"])
    if spec["kind"] == "facenet":
        from facenet_pytorch import InceptionResnetV1

        net = InceptionResnetV1(pretrained=None).eval()
        x = torch.nn.functional.interpolate(crops, size=(160, 160), mode="bilinear") * 2 - 1

        def run() -> None:
            with torch.inference_mode():
                for i in range(0, len(x), spec["batch_size"]):
                    net(x[i : i + spec["batch_size"]])
    elif spec["kind"] == "onnx":
        import tempfile

        from fever.backend.onnx import export_onnx, quantize_int8
        from fever.extractor import Extractor
        from fever.preprocess import to_model_input

        ref = Extractor(spec["model"], device="cpu")
        folder = Path(tempfile.mkdtemp())
        path = export_onnx(ref.model, folder / "model.onnx")
        if spec.get("int8"):
            path = quantize_int8(path, folder / "int8.onnx", to_model_input(crops[:256], ref.preprocess).numpy())
        ex = Extractor(spec["model"], device="cpu", backend="onnx", onnx_file=path)
    else:
        from fever.extractor import Extractor

        model = spec["model"]
        ex = Extractor(
            model if not spec.get("random") else __import__("fever").create_model(model),
            device="cpu",
            precision=spec["precision"],
        )
    if spec["kind"] != "facenet":

        def run() -> None:
            ex.embed_crops(crops, spec["batch_size"])

    rate = _rate(run, len(crops), spec["repeats"])
    return {"crops_per_s": rate, "peak_mb": peak_rss_mb()}


def video_job(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from fever.io.video import iter_video_frames

    videos = [Path(spec["data_root"]) / "videos" / n for n in VIDEO_NAMES]
    frames = sum(1 for v in videos for _ in iter_video_frames(v, max_frames=spec["max_frames"]))
    if spec["kind"] == "facenet":
        from facenet_pytorch import MTCNN, InceptionResnetV1
        from PIL import Image

        mtcnn = MTCNN(keep_all=True)
        net = InceptionResnetV1(pretrained=None).eval()

        def run() -> None:
            for v in videos:
                for f in iter_video_frames(v, max_frames=spec["max_frames"]):
                    faces = mtcnn(Image.fromarray(f.array))
                    if faces is not None:
                        with torch.inference_mode():
                            net(faces)
    else:
        from fever.extractor import Extractor

        ex = Extractor(
            spec["model"], device="cpu", precision=spec["precision"], detector=spec.get("detector") or "mtcnn"
        )

        def run() -> None:
            for v in videos:
                ex.extract_video(
                    v, max_frames=spec["max_frames"], batch_size=32, detect_every=spec.get("detect_every", 1)
                )

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    return {"frames_per_s": frames / seconds, "frames": frames, "peak_mb": peak_rss_mb()}


def matmul_peak(precisions: tuple[str, ...] = ("fp32", "bf16")) -> dict[str, float]:
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if name not in precisions:
            continue
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        rate = _rate(lambda: a @ b, 1, 5)
        out[name] = rate * 2 * 2048**3 / 1e9
    return out


def flops_per_crop(model: str | None) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fever.extractor import Extractor

    ex = Extractor(model, device="cpu")
    s = ex.preprocess.input_size
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        ex.model.embed(torch.zeros(1, 3, s, s))
    return float(counter.get_total_flops())


def detector_job(spec: dict[str, Any]) -> dict[str, Any]:
    """The one-pass detector alone (network + peak decoding + NMS) on real frames of the shared
    videos resized to ``size``; a trained folder, or random weights (the same computation)."""
    import numpy as np
    import torch
    from PIL import Image

    from fever.io.video import iter_video_frames
    from fever.onepass import OnePassNet
    from fever.onepass.detector import OnePassDetector, load_detector, resolve_detector

    w, h = spec["size"]
    video = Path(spec["data_root"]) / "videos" / VIDEO_NAMES[0]
    frames = [
        np.asarray(Image.fromarray(f.array).resize((w, h), Image.BILINEAR))
        for f in iter_video_frames(video, max_frames=spec["frames"])
    ]
    if spec.get("detector"):
        detector = load_detector(resolve_detector(spec["detector"]), spec["precision"])
    else:
        net = OnePassNet().eval().to(memory_format=torch.channels_last)
        detector = OnePassDetector(net, min_score=1.01, precision=spec["precision"])
    batch = 8

    def run() -> None:
        for start in range(0, len(frames), batch):
            detector.detect(frames[start : start + batch])

    run()  # warm-up
    rate = _rate(run, len(frames), spec["repeats"])
    return {"frames_per_s": rate, "frames": len(frames), "peak_mb": peak_rss_mb()}


def _child(job: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``job(spec)`` of this module in a fresh Python: every row is timed in a process of its own."""
    code = f"import json,sys; from {__name__} import {job}; print(json.dumps({job}(json.loads(sys.argv[1]))))"
    out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


SUITE_REPEATS = 7
"""Timed runs per row (median): short runs on a shared VM are noisy (3 repeats gave 475-524 crops/s for one row)."""


def suite_precisions(asked: str | None = None) -> tuple[str, ...]:
    """The precisions the suite times: ``asked`` ("fp32", "bf16" or "fp32,bf16"), or by default
    bf16 as well only where this CPU computes it in hardware; emulated bf16 is about 20x slower
    than fp32 and its rows would take hours to say so."""
    from fever.device import PRECISIONS, fast_bf16_cpu
    from fever.errors import UsageError

    if asked is None:
        return ("fp32", "bf16") if fast_bf16_cpu() else ("fp32",)
    names = tuple(dict.fromkeys(p.strip() for p in asked.split(",") if p.strip()))
    unknown = [p for p in names if p not in PRECISIONS]
    if unknown or not names:
        raise UsageError(f"--precisions {asked!r}: give one or more of {', '.join(PRECISIONS)}, comma-separated")
    return names


def suite(
    model: str | None,
    data_root: Path,
    repeats: int = SUITE_REPEATS,
    count: int = 512,
    batch_size: int = 64,
    max_frames: int = 60,
    detect_every: int = 5,
    detector: str | None = None,
    precisions: tuple[str, ...] = ("fp32", "bf16"),
) -> dict[str, Any]:
    """Every row of the comparison, each in a child process. ``precisions`` are the ones timed;
    the rows timed once (paper networks, sparse detection) use the fastest of them (the last)."""
    import torch

    base = {"data_root": str(data_root), "count": count, "batch_size": batch_size, "repeats": repeats}
    from fever.extractor import DEFAULT_MODEL

    name = model or DEFAULT_MODEL
    fast = precisions[-1]
    crops = {
        f"{name} {p}": _child("crops_job", {**base, "kind": "fever", "model": model, "precision": p})
        for p in precisions
    }
    crops.update(
        {
            f"{name} ONNX Runtime fp32": _child("crops_job", {**base, "kind": "onnx", "model": model}),
            f"{name} ONNX Runtime static int8": _child(
                "crops_job", {**base, "kind": "onnx", "model": model, "int8": True}
            ),
        }
    )
    for paper_net in ("deepfever-student-densenet201", "deepfever-teacher-256"):
        crops[f"{paper_net} (140 px) {fast}"] = _child(
            "crops_job",
            {**base, "kind": "fever", "random": True, "model": paper_net, "precision": fast, "count": 128},
        )
    crops["facenet-pytorch InceptionResnetV1 160 px fp32 (reference)"] = _child(
        "crops_job", {**base, "kind": "facenet", "count": 128}
    )
    video_spec = {"data_root": str(data_root), "max_frames": max_frames}
    fever_video = {**video_spec, "kind": "fever", "model": model, "precision": fast}
    videos = {
        f"{name} {fast}, MTCNN on every frame (decode+detect+align+embed)": _child("video_job", fever_video),
        f"{name} {fast}, MTCNN every {detect_every}th frame, O-Net follows faces between": _child(
            "video_job", {**fever_video, "detect_every": detect_every}
        ),
        "facenet-pytorch MTCNN + InceptionResnetV1, frame by frame (reference)": _child(
            "video_job", {**video_spec, "kind": "facenet"}
        ),
    }
    weights = f"detector {detector}" if detector else "random weights (the same computation)"
    detectors = {
        f"one-pass detector alone, {w}x{h} {p}, {weights}": _child(
            "detector_job",
            {
                "data_root": str(data_root),
                "size": [w, h],
                "precision": p,
                "frames": 48,
                "repeats": 3,
                "detector": detector,
            },
        )
        for w, h in ((640, 360), (1280, 720))
        for p in precisions
    }
    if detector:
        for p in reversed(precisions):
            videos[f"{name} {p}, one-pass detector on every frame (decode+detect+align+embed)"] = _child(
                "video_job", {**fever_video, "precision": p, "detector": detector}
            )
        for p in precisions:
            key = f"{name} {p}, MTCNN on every frame (decode+detect+align+embed)"
            if key not in videos:
                videos[key] = _child("video_job", {**fever_video, "precision": p})
    ref_crops = crops["facenet-pytorch InceptionResnetV1 160 px fp32 (reference)"].get("crops_per_s")
    ref_video = videos["facenet-pytorch MTCNN + InceptionResnetV1, frame by frame (reference)"].get("frames_per_s")
    peak = matmul_peak(precisions)
    flops = flops_per_crop(model)
    for key, row in crops.items():
        if ref_crops and "crops_per_s" in row:
            row["x_reference"] = row["crops_per_s"] / ref_crops
    for key, row in videos.items():
        if ref_video and "frames_per_s" in row:
            row["x_reference"] = row["frames_per_s"] / ref_video
    mtcnn_rows = {
        p: videos.get(f"{name} {p}, MTCNN on every frame (decode+detect+align+embed)", {}).get("frames_per_s")
        for p in precisions
    }
    for key, row in videos.items():
        precision = "bf16" if " bf16, " in key else "fp32"
        if "one-pass" in key and mtcnn_rows.get(precision) and "frames_per_s" in row:
            row["x_mtcnn_every_frame"] = row["frames_per_s"] / mtcnn_rows[precision]
    achieved = {p: crops[f"{name} {p}"].get("crops_per_s", 0) * flops / 1e9 for p in precisions}
    return {
        "threads": torch.get_num_threads(),
        "precisions": list(precisions),
        "crops": crops,
        "videos": videos,
        "detectors": detectors,
        "matmul_peak_gflops": peak,
        "default_model_gflop_per_crop": flops / 1e9,
        "default_model_achieved_gflops": achieved,
        "fraction_of_peak": {p: achieved[p] / peak[p] for p in achieved},
    }


def failed_rows(r: dict[str, Any]) -> list[str]:
    """Names of the suite's rows whose child process failed."""
    return [k for part in ("crops", "videos", "detectors") for k, v in r.get(part, {}).items() if "error" in v]


def print_suite(r: dict[str, Any]) -> None:
    peaks = ", ".join(f"{v:.0f} {p}" for p, v in r["matmul_peak_gflops"].items())
    print(f"{r['threads']} threads; matmul peak GFLOP/s: {peaks}")
    skipped = [p for p in ("fp32", "bf16") if p not in r.get("precisions", ["fp32", "bf16"])]
    if skipped:
        print(f"not timed: {', '.join(skipped)} (this CPU has no AVX512-BF16/AMX; --precisions fp32,bf16 forces it)")
    print("| pipeline (face crops) | crops/s | x reference | peak MB |")
    print("|---|---|---|---|")
    for k, v in r["crops"].items():
        print(
            f"| {k} | {v.get('crops_per_s', float('nan')):.0f} | {v.get('x_reference', float('nan')):.2f} | "
            f"{v.get('peak_mb', float('nan')):.0f} |"
            if "error" not in v
            else f"| {k} | error: {v['error']} | | |"
        )
    print("| pipeline (640x360 video, end to end) | frames/s | x reference | x MTCNN every frame | peak MB |")
    print("|---|---|---|---|---|")
    for k, v in r["videos"].items():
        ratio = f"{v['x_mtcnn_every_frame']:.2f}" if "x_mtcnn_every_frame" in v else ""
        print(
            f"| {k} | {v.get('frames_per_s', float('nan')):.1f} | {v.get('x_reference', float('nan')):.2f} | "
            f"{ratio} | {v.get('peak_mb', float('nan')):.0f} |"
            if "error" not in v
            else f"| {k} | error: {v['error']} | | | |"
        )
    print("| one-pass detector (network + decoding + NMS) | frames/s | | peak MB |")
    print("|---|---|---|---|")
    for k, v in r.get("detectors", {}).items():
        print(
            f"| {k} | {v.get('frames_per_s', float('nan')):.1f} | | {v.get('peak_mb', float('nan')):.0f} |"
            if "error" not in v
            else f"| {k} | error: {v['error']} | | |"
        )
    a, f = r["default_model_achieved_gflops"], r["fraction_of_peak"]
    achieved = ", ".join(f"{a[p]:.1f} GFLOP/s {p} ({100 * f[p]:.0f}% of peak)" for p in a)
    print(f"default model: {r['default_model_gflop_per_crop']:.3f} GFLOP per crop; achieved {achieved}")


class SuiteCommand(Command):
    name = "suite"
    help = "the full comparison: fever (fp32, bf16, ONNX, int8) against FaceNet and the MTCNN + FaceNet pipeline"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
        add_data_root_argument(p)
        p.add_argument(
            "--repeats",
            type=int,
            default=SUITE_REPEATS,
            help="timed runs per row (median); short runs on a shared VM are noisy",
        )
        p.add_argument("--max-frames", type=int, default=60, help="frames per video for the end-to-end figures")
        p.add_argument(
            "--detect-every",
            type=int,
            default=5,
            help="the second fever video row: full detection on every n-th frame, O-Net follows faces between",
        )
        p.add_argument(
            "--detector",
            default=None,
            help="a trained one-pass detector folder: adds its end-to-end rows "
            "(without it the detector-alone rows use random weights)",
        )
        p.add_argument(
            "--precisions",
            default=None,
            help="precisions to time, comma-separated (default: fp32,bf16 where the CPU computes bf16 "
            "in hardware, else fp32 only: emulated bf16 is about 20x slower)",
        )
        p.add_argument("--json", type=Path, default=None, help="also write the results here")

    def run(self, args: argparse.Namespace) -> int:
        precisions = suite_precisions(args.precisions)
        r = suite(
            args.model,
            args.data_root,
            args.repeats,
            max_frames=args.max_frames,
            detect_every=args.detect_every,
            detector=args.detector,
            precisions=precisions,
        )
        print_suite(r)
        if args.json:
            args.json.write_text(json.dumps(r, indent=2))
        failed = failed_rows(r)
        if failed:
            print(f"fever-bench suite: {len(failed)} rows failed: {'; '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
