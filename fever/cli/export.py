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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fever-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("onnx")
    o.add_argument("model", nargs="?", default=None, help="preset, folder or Hub repo id (default: the bundled default)")
    o.add_argument("--out", required=True, type=Path)
    o.add_argument("--int8", type=Path, default=None, help="also write a static int8 copy here")
    o.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    o.add_argument("--faces", type=int, default=512, help="real faces for calibration and parity")
    o.add_argument("--probe-accuracy", action="store_true",
                   help="also score the FER+ test linear probe (fitted on torch fp32 train vectors) on each copy's "
                        "test vectors: the accuracy a deployed copy loses")
    args = p.parse_args(argv)
    from ..bench import _real_crops
    from ..errors import FeverError
    from ..export import OnnxEmbedder, export_onnx, parity, quantize_int8
    from ..extractor import Extractor
    from ..preprocess import to_model_input

    try:
        ex = Extractor(args.model, device="cpu")
    except (FeverError, KeyError) as exc:
        print(f"fever-export: error: {exc}", file=sys.stderr)
        return 1
    export_onnx(ex.model, args.out)
    crops = _real_crops(args.data_root, args.faces)
    reference = ex.embed_crops(crops)
    inputs = to_model_input(crops, ex.preprocess)
    report = {"onnx": str(args.out), "onnx_parity": parity(reference, OnnxEmbedder(args.out)(inputs).numpy())}
    if args.int8:
        quantize_int8(args.out, args.int8, inputs.numpy()[: min(256, len(inputs))])
        report["int8"] = str(args.int8)
        report["int8_parity"] = parity(reference, OnnxEmbedder(args.int8)(inputs).numpy())
    if args.probe_accuracy:
        from ..export import probe_accuracy_change

        copies = {"onnx": args.out, **({"int8": args.int8} if args.int8 else {})}
        report["ferplus_probe_accuracy"] = probe_accuracy_change(ex, copies, args.data_root)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
