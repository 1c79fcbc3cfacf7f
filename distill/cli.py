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
    args = parser.parse_args(argv)
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
