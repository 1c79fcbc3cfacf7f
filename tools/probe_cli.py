"""``fever-probe``: fit a probe on fever-embed vectors and labels, and predict with it.

    fever-probe fit logistic vectors.parquet --labels labels.csv --out probe_dir/
    fever-probe predict probe_dir/ vectors.parquet --out predictions.parquet

``labels.csv`` has columns ``path`` and ``label`` (and ``frame`` / ``face`` to label video frames or
single faces); paths are relative to the CSV's folder or absolute. Exit codes: 0 success, 1 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fever.cli.app import Command, run
from fever.errors import UsageError


class FitCommand(Command):
    name = "fit"
    help = "fit a probe on fever-embed vectors and a labels CSV"

    def add_arguments(self, f: argparse.ArgumentParser) -> None:
        f.add_argument("name", help="probe name (see `fever-probe list`)")
        f.add_argument("vectors", type=Path, help="fever-embed parquet file")
        f.add_argument("--labels", required=True, type=Path, help="CSV with path,label (and frame/face)")
        f.add_argument("--out", required=True, type=Path, help="probe folder to write")
        f.add_argument("--param", action="append", default=[], help="probe parameter as key=JSON value, e.g. C=100")
        f.add_argument(
            "--skip-unlabelled",
            action="store_true",
            help="fit on the vectors that have a label and say how many had none (default: every vector needs one)",
        )

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np

        import probes

        from .join import join_labels, read_vectors

        params = {}
        for item in args.param:
            key, _, value = item.partition("=")
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise UsageError(f'--param {item!r}: the value must be JSON (e.g. C=100 or name="x")') from None
        table, vectors = read_vectors(args.vectors)
        labels = join_labels(table, args.labels, skip_unlabelled=args.skip_unlabelled)
        keep = np.array([label is not None for label in labels])
        if not keep.all():
            print(f"fever-probe: {int((~keep).sum())} of {len(keep)} vectors have no label: left out", file=sys.stderr)
        vectors, labels = vectors[keep], labels[keep].astype(str)
        probe = probes.create(args.name, **params).fit(vectors, labels)
        probe.save(args.out)
        print(
            f"fever-probe: {args.name} fitted on {len(labels)} vectors, training accuracy "
            f"{probe.score(vectors, labels):.4f} -> {args.out}"
        )
        return 0


class PredictCommand(Command):
    name = "predict"
    help = "predict with a saved probe; writes a parquet of predictions (and probabilities)"

    def add_arguments(self, pr: argparse.ArgumentParser) -> None:
        pr.add_argument("probe", type=Path, help="probe folder")
        pr.add_argument("vectors", type=Path, help="fever-embed parquet file")
        pr.add_argument("--out", required=True, type=Path, help="predictions parquet to write")

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        import probes

        from .join import read_vectors

        probe = probes.load(args.probe)
        table, vectors = read_vectors(args.vectors)
        pred = probe.predict(vectors)
        cols = {n: table.column(n) for n in ("path", "frame", "face", "track")}
        cols["prediction"] = pa.array([str(x) for x in pred])
        if hasattr(probe, "predict_proba"):
            proba = probe.predict_proba(vectors)
            for i, c in enumerate(probe.classes_):
                cols[f"prob_{c}"] = pa.array(proba[:, i].astype(np.float32))
        pq.write_table(pa.table(cols), args.out)
        print(f"fever-probe: {len(pred)} predictions -> {args.out}")
        return 0


class ListCommand(Command):
    name = "list"
    help = "names of the available probes (built-in and plugins)"

    def run(self, args: argparse.Namespace) -> int:
        import probes

        print("\n".join(probes.available()))
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-probe``: 0 success, 1 error.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        The exit code: 0 success, 1 could not run (the message says why), 130 interrupted.
    """
    from .probe_experiments import ExperimentCommand

    return run("fever-probe", __doc__, [FitCommand(), PredictCommand(), ListCommand(), ExperimentCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
