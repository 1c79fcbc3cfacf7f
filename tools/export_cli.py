"""``fever-export``: ONNX (dynamic batch) and int8 copies of a model, with their parity to torch fp32.

    fever-export onnx MODEL --out model.onnx [--int8 model-int8.onnx]

Parity is the cosine similarity between the copy's vectors and the torch fp32 vectors on real
faces (FER+ test faces when --data-root has them, else the bundled samples).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from distill.datasets import add_data_root_argument
from fever.cli.app import Command, run


class OnnxCommand(Command):
    name = "onnx"
    help = "an ONNX copy (and optionally a static int8 one) with its parity to torch fp32"

    def add_arguments(self, o: argparse.ArgumentParser) -> None:
        o.add_argument(
            "model", nargs="?", default=None, help="preset, folder or Hub repo id (default: the bundled default)"
        )
        o.add_argument("--out", required=True, type=Path, help="ONNX file to write")
        o.add_argument("--int8", type=Path, default=None, help="also write a static int8 copy here")
        add_data_root_argument(o)
        o.add_argument("--faces", type=int, default=512, help="real faces for calibration and parity")
        o.add_argument(
            "--probe-accuracy",
            action="store_true",
            help="also score the FER+ test linear probe (fitted on torch fp32 train vectors) on each copy's "
            "test vectors: the accuracy a deployed copy loses",
        )

    def run(self, args: argparse.Namespace) -> int:
        from fever.backend.onnx import OnnxEmbedder, export_onnx, parity, quantize_int8
        from fever.extractor import Extractor
        from fever.preprocess import to_model_input

        from .bench import real_crops

        ex = Extractor(args.model, device="cpu")
        export_onnx(ex.model, args.out)
        crops = real_crops(args.data_root, args.faces)
        reference = ex.embed_crops(crops)
        inputs = to_model_input(crops, ex.preprocess)
        report = {"onnx": str(args.out), "onnx_parity": parity(reference, OnnxEmbedder(args.out)(inputs).numpy())}
        if args.int8:
            quantize_int8(args.out, args.int8, inputs.numpy()[: min(256, len(inputs))])
            report["int8"] = str(args.int8)
            report["int8_parity"] = parity(reference, OnnxEmbedder(args.int8)(inputs).numpy())
        if args.probe_accuracy:
            from .export_check import probe_accuracy_change

            copies = {"onnx": args.out, **({"int8": args.int8} if args.int8 else {})}
            report["ferplus_probe_accuracy"] = probe_accuracy_change(ex, copies, args.data_root)
        print(json.dumps(report, indent=2))
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-export``: 0 success, 1 error.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    return run("fever-export", __doc__, [OnnxCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
