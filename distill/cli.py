"""``fever-distill``: train, evaluate and package DeepFEVER models.

fever-distill teacher --config distill/configs/teacher-resnet18-48.json
fever-distill student --config distill/configs/student-vgg-s48-distill.json
fever-distill evaluate runs/x/best --split valid        # select on valid, report test once
fever-distill package runs/x --out fever/weights/NAME
fever-distill curves runs/a runs/b/epochs.csv@45 --out plateau.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fever.cli.app import Command, run

from .datasets import add_data_root_argument


class TrainCommand(Command):
    """``teacher`` or ``student``: one run, resumed from OUT/checkpoint.safetensors when it exists."""

    def __init__(self, phase: str) -> None:
        self.name = phase
        self.help = f"train a {phase} (resumes from OUT/checkpoint.safetensors)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, help="JSON file of distill.config.TrainConfig settings")
        p.add_argument("--out", help="run folder (overrides the config)")
        p.add_argument("--max-minutes", type=float, help="stop with a checkpoint after this long")
        p.add_argument("--max-steps", type=int, help="stop after this many steps in total")
        p.add_argument("--threads", type=int, help="torch threads")

    def run(self, args: argparse.Namespace) -> int:
        from .config import TrainConfig
        from .distributed import finish_distributed, maybe_init_distributed
        from .trainer import Trainer

        cfg = TrainConfig.from_file(
            args.config,
            phase=self.name,
            out=args.out,
            max_minutes=args.max_minutes,
            max_steps=args.max_steps,
            threads=args.threads,
        )
        maybe_init_distributed()
        Trainer(cfg).run()
        finish_distributed()  # not on an error: the barrier would wait for the rank that failed
        return 0


def add_scoring_arguments(
    p: argparse.ArgumentParser, models_help: str, split_default: str, split_help: str, tta_help: str
) -> None:
    """The options of the commands that score saved models on a FER+ split: models, data root,
    precision, split, test-time flips and a JSON copy of the results."""
    p.add_argument("models", nargs="+", help=models_help)
    add_data_root_argument(p)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="inference precision")
    p.add_argument("--split", choices=("valid", "test"), default=split_default, help=split_help)
    p.add_argument("--tta", choices=("none", "flip"), default=None, help=tta_help)
    p.add_argument("--json", help="also write the results to this JSON file")


class EvaluateCommand(Command):
    name = "evaluate"
    help = "linear evaluation of frozen vectors of saved models, beside raw pixels and HOG; prints the table"

    def add_arguments(self, ev: argparse.ArgumentParser) -> None:
        add_scoring_arguments(
            ev,
            "model folders, presets with bundled weights, or Hub repo ids",
            split_default="test",
            split_help="FER+ split to score on: select models on valid, report test once",
            tta_help="test-time flips of the vector (default: the model's)",
        )
        ev.add_argument("--no-baselines", action="store_true", help="leave out the raw-pixel and HOG rows")

    def run(self, args: argparse.Namespace) -> int:
        from .evaluate import evaluate, evaluate_baselines, format_table

        results = [evaluate(m, args.data_root, args.precision, args.split, args.tta) for m in args.models]
        if not args.no_baselines:
            results += evaluate_baselines(args.data_root, args.split)
        print(format_table(results))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(results, fh, indent=2)
        return 0


class EvaluateEnsembleCommand(Command):
    name = "evaluate-ensemble"
    help = "the teachers' own and their ensemble's accuracy on a FER+ split (the ceiling of distilling them)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_scoring_arguments(
            p,
            "two or more model folders, presets or Hub repo ids",
            split_default="valid",
            split_help="choose teachers on valid",
            tta_help="test-time flips (default: each model's)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from .ensemble import evaluate_ensemble, format_ensemble

        result = evaluate_ensemble(args.models, args.data_root, args.split, args.precision, args.tta)
        print(format_ensemble(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        return 0


class FramingCommand(Command):
    name = "framing"
    help = "measure how FER+ faces are framed relative to MTCNN boxes"

    def add_arguments(self, fr: argparse.ArgumentParser) -> None:
        add_data_root_argument(fr)
        fr.add_argument("--count", type=int, default=400, help="FER+ faces to detect")

    def run(self, args: argparse.Namespace) -> int:
        from .framing import measure_fer_framing

        print(json.dumps(measure_fer_framing(args.data_root, args.count), indent=2))
        return 0


class PrepareUnlabelledCommand(Command):
    name = "prepare-unlabelled"
    help = "detect and crop the unlabelled faces (UTKFace train split + video frames)"

    def add_arguments(self, un: argparse.ArgumentParser) -> None:
        add_data_root_argument(un)
        un.add_argument("--out", required=True, help=".npy file of uint8 face crops")
        un.add_argument(
            "--model", default="fever-student-vgg-s48", help="preset whose preprocessing (margin, alignment) to use"
        )
        un.add_argument("--size", type=int, default=64, help="crop size in pixels")
        un.add_argument("--folder", default=None, help="crop the faces of this folder of images instead")
        un.add_argument(
            "--fps", type=float, default=2.0, help="video frames per second to crop (0: every frame of every video)"
        )

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses

        import numpy as np

        from fever.models import get_config

        from .loaders import unlabelled_from_folder
        from .unlabelled import prepare_unlabelled

        pre = dataclasses.replace(get_config(args.model).preprocess, input_size=args.size)
        if args.folder:
            faces = unlabelled_from_folder(args.folder, pre, args.size)
            np.save(args.out, faces)
            print(json.dumps({"folder_faces": len(faces)}))
            return 0
        print(json.dumps(prepare_unlabelled(args.data_root, args.out, pre, args.fps or None), indent=2))
        return 0


class CurvesCommand(Command):
    name = "curves"
    help = "plot several runs' validation curves on one axis of epochs since random weights"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "runs",
            nargs="+",
            help="epochs.csv files or run folders; PATH@45 starts a run that continued a 45-epoch one at 45",
        )
        p.add_argument("--out", required=True, help="PNG to write")
        p.add_argument("--from-epoch", type=float, default=0.0, help="leave out the points before this epoch")

    def run(self, args: argparse.Namespace) -> int:
        from .curves import CurveSource, plot_comparison

        print(plot_comparison([CurveSource.parse(text) for text in args.runs], args.out, args.from_epoch))
        return 0


class PackageCommand(Command):
    name = "package"
    help = "evaluate a run's best model and write a shippable folder with its card"

    def add_arguments(self, pk: argparse.ArgumentParser) -> None:
        pk.add_argument("run", help="run folder (with best/, checkpoint.safetensors, train_config.json)")
        pk.add_argument("--out", required=True, help="model folder to write")
        pk.add_argument("--name", default=None, help="model name to store (default: the run's)")
        pk.add_argument("--description", default=None, help="one-line description for the card")
        pk.add_argument("--margin", type=float, default=None, help="crop margin to store (see `fever-distill framing`)")
        add_data_root_argument(pk)
        pk.add_argument(
            "--compare", default=None, help="`evaluate --json` file of related runs, shown as a table in the card"
        )

    def run(self, args: argparse.Namespace) -> int:
        from .package import package

        result = package(
            args.run, args.out, args.data_root, args.name, args.description, args.margin, compare=args.compare
        )
        print(json.dumps(result, indent=2))
        return 0


class DetectorLabelsCommand(Command):
    name = "detector-labels"
    help = "pseudo-label real frames and UTKFace photos for the one-pass detector (MTCNN boxes, two-stage expressions)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_data_root_argument(p)
        from .onepass.labels import SPLITS

        p.add_argument(
            "--split",
            choices=SPLITS,
            default="train",
            help="train; valid or test (their videos held out whole); train+valid (the first two detectors' data)",
        )
        p.add_argument("--fps", type=float, default=2.0, help="video frames labelled per second (0: every frame)")
        p.add_argument("--out", required=True, help="parquet file to write")

    def run(self, args: argparse.Namespace) -> int:
        from .onepass.labels import pseudo_label

        print(json.dumps(pseudo_label(args.data_root, args.out, args.split, args.fps), indent=2))
        return 0


class DetectorCommand(Command):
    name = "detector"
    help = "train the one-pass face + expression detector (resumes from its checkpoint)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, help="JSON file of distill.onepass.train.DetectorTrainConfig")
        p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
        p.add_argument("--max-minutes", type=float, default=None, help="stop with a checkpoint after this long")

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses

        from .onepass.train import DetectorTrainConfig, DetectorTrainer

        cfg = DetectorTrainConfig.from_file(args.config)
        changes = {k: v for k, v in (("max_steps", args.max_steps), ("max_minutes", args.max_minutes)) if v}
        trainer = DetectorTrainer(dataclasses.replace(cfg, **changes))
        print(f"fever-distill detector: step {trainer.step} of {cfg.steps} -> {trainer.run()}")
        return 0


class EvaluateDetectorCommand(Command):
    name = "evaluate-detector"
    help = "per-class AP and mAP of a one-pass detector on held-out composite scenes, and against MTCNN"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("detector", help="one-pass detector folder, or 'onepass' for the bundled one")
        add_data_root_argument(p)
        p.add_argument("--split", choices=("valid", "test"), default="valid", help="faces of the composite scenes")
        p.add_argument("--scenes", type=int, default=300, help="composite scenes")
        p.add_argument(
            "--labels", default=None, help="pseudo-labels of the held-out videos (detector-labels --split test)"
        )
        p.add_argument(
            "--two-stage",
            action="store_true",
            help="also the AP of the same boxes read by the embedder (--model) and its shipped probe",
        )
        p.add_argument("--model", default=None, help="the embedder of --two-stage (default: the bundled default)")
        p.add_argument(
            "--small-faces",
            action="store_true",
            help="also the --labels pictures shrunk onto face-free frames: recall of small real faces by size",
        )
        p.add_argument("--json", default=None, help="also write the results here")

    def run(self, args: argparse.Namespace) -> int:
        from fever.errors import UsageError
        from fever.onepass.detector import load_detector, resolve_detector

        from .onepass.evaluate import (
            eval_scenes,
            evaluate_detector,
            format_detector_results,
            shrunk_pictures,
            small_face_recall,
            two_stage_faces,
        )
        from .onepass.labels import read_labels

        if args.small_faces and not args.labels:
            raise UsageError("--small-faces shrinks the --labels pictures: give --labels")
        detector = load_detector(resolve_detector(args.detector))
        labels = read_labels(args.labels).to_pylist() if args.labels else None
        two_stage = None
        if args.two_stage:
            two_stage = two_stage_faces(args.detector, args.model)
        scenes = eval_scenes(args.data_root, args.split, args.scenes)
        result = evaluate_detector(detector, scenes, labels, two_stage)
        if labels is not None and args.small_faces:
            result["small_faces"] = small_face_recall(detector, shrunk_pictures(labels, args.data_root))
        print(format_detector_results(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return 0


class PackageDetectorCommand(Command):
    name = "package-detector"
    help = "choose a one-pass detector's threshold on valid scenes, test it once, write its folder and card"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run", help="detector run folder (with last/, checkpoint.safetensors, train_config.json)")
        p.add_argument("--out", required=True, help="detector folder to write")
        test = p.add_mutually_exclusive_group(required=True)
        test.add_argument("--labels", help="pseudo-labels of the held-out videos (--split test)")
        test.add_argument(
            "--valid-only",
            action="store_true",
            help="write the folder with its valid figures only, reading nothing of test (compare candidates first)",
        )
        add_data_root_argument(p)
        p.add_argument("--scenes", type=int, default=300, help="composite scenes of each split")
        p.add_argument("--valid-labels", default=None, help="pseudo-labels of the valid videos (--split valid)")

    def run(self, args: argparse.Namespace) -> int:
        from .onepass.package import package_detector

        summary = package_detector(args.run, args.out, args.labels, args.data_root, args.scenes, args.valid_labels)
        print(json.dumps(summary, indent=2))
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-distill``: 0 success, 1 error.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    commands = [
        TrainCommand("teacher"),
        TrainCommand("student"),
        EvaluateCommand(),
        EvaluateEnsembleCommand(),
        FramingCommand(),
        PrepareUnlabelledCommand(),
        CurvesCommand(),
        PackageCommand(),
        DetectorLabelsCommand(),
        DetectorCommand(),
        EvaluateDetectorCommand(),
        PackageDetectorCommand(),
    ]
    return run("fever-distill", __doc__, commands, argv)


if __name__ == "__main__":
    sys.exit(main())
