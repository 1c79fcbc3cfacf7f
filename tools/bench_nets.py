"""``fever-bench nets``: what each network costs here before any hours go into training it.

For each preset at its own input size: parameters, inference face crops per second (bf16 autocast +
channels_last, batch 64, the fast path of ``fever.extract``) and training images per second (one SGD
step with bf16 autocast, batch 128), both on random inputs (speed does not depend on the pixels).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from fever.cli.app import Command

DEFAULT_NETS = "fever-student-vgg-s48,fever-teacher-resnet18-48,fever-teacher-vgg13-48,fever-student-resnet18"


def measure(name: str, seconds: float = 5.0) -> dict[str, Any]:
    import torch

    import fever

    model = fever.create_model(name).to(memory_format=torch.channels_last)
    size = model.config.preprocess.input_size
    out: dict[str, Any] = {
        "model": name,
        "input": size,
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
    }
    model.eval()
    x = torch.randn(64, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(3):
            model.embed(x)
        start, done = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            model.embed(x)
            done += len(x)
    out["infer_crops_per_s"] = round(done / (time.perf_counter() - start))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xb = torch.randn(128, 3, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 8, (128,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(xb).logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        done += len(xb)
    out["train_images_per_s"] = round(done / (time.perf_counter() - start))
    out["minutes_per_ferplus_epoch"] = round(28561 / out["train_images_per_s"] / 60, 1)
    return out


class NetsCommand(Command):
    name = "nets"
    help = "parameters, inference crops/s and training images/s of network presets"
    description = __doc__

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--models", default=DEFAULT_NETS, help="comma-separated presets")
        p.add_argument("--seconds", type=float, default=5.0, help="timed seconds per measurement")
        p.add_argument("--json", type=Path, default=None, help="also write the rows here")

    def run(self, args: argparse.Namespace) -> int:
        import torch

        rows = [measure(name, args.seconds) for name in args.models.split(",")]
        print(f"{torch.get_num_threads()} threads, bf16 autocast + channels_last")
        print(
            "| model | input | parameters | inference crops/s (batch 64) | training images/s (batch 128) | "
            "minutes per FER+ epoch |"
        )
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['model']} | {r['input']} px | {r['parameters_m']} M | {r['infer_crops_per_s']} | "
                f"{r['train_images_per_s']} | {r['minutes_per_ferplus_epoch']} |"
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0
