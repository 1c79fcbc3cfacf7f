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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fever-probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit")
    f.add_argument("name", help="probe name (see `fever-probe list`)")
    f.add_argument("vectors", type=Path)
    f.add_argument("--labels", required=True, type=Path)
    f.add_argument("--out", required=True, type=Path)
    f.add_argument("--param", action="append", default=[], help="probe parameter as key=JSON value, e.g. C=100")
    pr = sub.add_parser("predict")
    pr.add_argument("probe", type=Path)
    pr.add_argument("vectors", type=Path)
    pr.add_argument("--out", required=True, type=Path)
    sub.add_parser("list")
    if argv is None:
        import sys as _sys

        argv = _sys.argv[1:]
    if argv[:1] == ["experiment"]:
        from .experiments import main as experiment_main

        return experiment_main(argv[1:])
    args = p.parse_args(argv)
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from . import available, create, load
    from .base import ProbeError
    from .join import join_labels, read_vectors

    try:
        if args.command == "list":
            print("\n".join(available()))
            return 0
        if args.command == "fit":
            params = {}
            for item in args.param:
                key, _, value = item.partition("=")
                params[key] = json.loads(value)
            table, vectors = read_vectors(args.vectors)
            labels = join_labels(table, args.labels)
            probe = create(args.name, **params).fit(vectors, labels)
            probe.save(args.out)
            print(f"fever-probe: {args.name} fitted on {len(labels)} vectors, training accuracy "
                  f"{probe.score(vectors, labels):.4f} -> {args.out}")
            return 0
        probe = load(args.probe)
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
    except (ProbeError, OSError) as exc:
        print(f"fever-probe: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
