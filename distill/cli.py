"""``fever-distill teacher|student|evaluate``: train and evaluate DeepFEVER models."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fever-distill", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for phase in ("teacher", "student"):
        p = sub.add_parser(phase, help=f"train a {phase} (resumes from OUT/checkpoint.safetensors)")
        p.add_argument("--config", required=True, help="JSON file of distill.config.TrainConfig settings")
        p.add_argument("--out", help="run folder (overrides the config)")
        p.add_argument("--max-minutes", type=float, help="stop with a checkpoint after this long")
        p.add_argument("--max-steps", type=int, help="stop after this many steps in total")
        p.add_argument("--threads", type=int, help="torch threads")
    ev = sub.add_parser("evaluate", help="the paper's linear evaluation of saved models; prints the table")
    ev.add_argument("models", nargs="+", help="model folders, presets with bundled weights, or Hub repo ids")
    ev.add_argument("--data-root", default="../shared/datasets")
    ev.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ev.add_argument("--split", choices=("valid", "test"), default="test",
                    help="FER+ split to score on: select models on valid, report test once (default: %(default)s)")
    ev.add_argument("--no-baselines", action="store_true", help="leave out the raw-pixel and HOG rows")
    ev.add_argument("--json", help="also write the results to this JSON file")
    fr = sub.add_parser("framing", help="measure how FER+ faces are framed relative to MTCNN boxes")
    fr.add_argument("--data-root", default="../shared/datasets")
    fr.add_argument("--count", type=int, default=400)
    un = sub.add_parser("prepare-unlabelled", help="detect and crop the unlabelled faces (UTKFace train split + video frames)")
    un.add_argument("--data-root", default="../shared/datasets")
    un.add_argument("--out", required=True, help=".npy file of uint8 face crops")
    un.add_argument("--model", default="fever-student-resnet18", help="preset whose preprocessing (margin, alignment) to use")
    un.add_argument("--size", type=int, default=64, help="crop size in pixels")
    un.add_argument("--folder", default=None, help="crop the faces of this folder of images instead")
    pk = sub.add_parser("package", help="evaluate a run's best model and write a shippable folder with its card")
    pk.add_argument("run", help="run folder (with best/, checkpoint.safetensors, train_config.json)")
    pk.add_argument("--out", required=True)
    pk.add_argument("--name", default=None)
    pk.add_argument("--description", default=None)
    pk.add_argument("--margin", type=float, default=None, help="crop margin to store (see `fever-distill framing`)")
    pk.add_argument("--data-root", default="../shared/datasets")
    pk.add_argument("--compare", default=None, help="`evaluate --json` file of related runs, shown as a table in the card")
    args = parser.parse_args(argv)
    if args.command == "package":
        import json

        from .package import ComparisonFileError, package

        try:
            result = package(args.run, args.out, args.data_root, args.name, args.description, args.margin,
                             compare=args.compare)
        except ComparisonFileError as exc:
            pk.error(str(exc))
        print(json.dumps(result, indent=2))
        return 0
    if args.command == "prepare-unlabelled":
        import dataclasses
        import json

        from fever.models import get_config

        from .unlabelled import prepare_unlabelled

        pre = dataclasses.replace(get_config(args.model).preprocess, input_size=args.size)
        if args.folder:
            import numpy as np

            from .loaders import unlabelled_from_folder

            faces = unlabelled_from_folder(args.folder, pre, args.size)
            np.save(args.out, faces)
            print(json.dumps({"folder_faces": len(faces)}))
            return 0
        print(json.dumps(prepare_unlabelled(args.data_root, args.out, pre), indent=2))
        return 0
    if args.command == "framing":
        import json

        from .framing import measure_fer_framing

        print(json.dumps(measure_fer_framing(args.data_root, args.count), indent=2))
        return 0
    if args.command == "evaluate":
        import json

        from .evaluate import evaluate, evaluate_baselines, format_table

        results = [evaluate(m, args.data_root, args.precision, args.split) for m in args.models]
        if not args.no_baselines:
            results += evaluate_baselines(args.data_root, args.split)
        print(format_table(results))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(results, fh, indent=2)
        return 0
    from .config import TrainConfig
    from .distributed import maybe_init_distributed
    from .trainer import Trainer

    cfg = TrainConfig.from_file(args.config, phase=args.command, out=args.out, max_minutes=args.max_minutes,
                                max_steps=args.max_steps, threads=args.threads)
    maybe_init_distributed()
    Trainer(cfg).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
