"""``fever-index``: build an expression-similarity index from fever-embed parquet files, and query it.

    fever-index build vectors.parquet --out index_dir/ --kind opq-ivfpq
    fever-index query index_dir/ face.jpg -k 10 --sheet neighbours.png
    fever-index query index_dir/ --vectors queries.parquet -k 5

Exit codes: 0 success, 1 error (the message says which file and why).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..index import KINDS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fever-index", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="index the face vectors of fever-embed parquet files")
    b.add_argument("parquet", nargs="+", type=Path)
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--kind", default="exact", choices=KINDS)
    b.add_argument("--m", type=int, default=32, help="PQ bytes per vector (compressed kinds)")
    b.add_argument("--nlist", type=int, default=None, help="IVF lists (default 4 sqrt(n))")
    b.add_argument("--nprobe", type=int, default=32)
    q = sub.add_parser("query", help="nearest neighbours of query images or vectors")
    q.add_argument("index", type=Path)
    q.add_argument("images", nargs="*", help="query images (embedded with the index's model)")
    q.add_argument("--vectors", type=Path, help="a fever-embed parquet of query vectors instead of images")
    q.add_argument("-k", type=int, default=10)
    q.add_argument("--model", default=None, help="where to find the index's model if not by its name")
    q.add_argument("--sheet", type=Path, help="write a contact sheet PNG of each query and its neighbours")
    args = p.parse_args(argv)
    from ..errors import FeverError
    from ..index import Index

    try:
        if args.command == "build":
            index = Index.from_parquet(args.parquet, kind=args.kind, m=args.m, nlist=args.nlist, nprobe=args.nprobe)
            index.save(args.out)
            print(f"fever-index: {len(index)} vectors, kind {index.kind} ({index.factory}), model {index.model} -> {args.out}")
            return 0
        index = Index.load(args.index)
        if args.vectors:
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            from ..parquet import embeddings

            table = pq.read_table(args.vectors)
            table = table.filter(pc.equal(table.column("status"), "ok"))
            labels = [f"{p}#{f}#{c}" for p, f, c in zip(*(table.column(n).to_pylist() for n in ("path", "frame", "face")))]
            result = index.search(embeddings(table), args.k)
            tiles = None
        elif args.images:
            from ..extractor import Extractor

            extractor = Extractor(args.model or index.model)
            index.check_model(extractor)
            found = extractor.extract(args.images)
            vectors = index.embed_queries_from(found, extractor)
            ok = [r for r in found.rows if r.status == "ok"]
            labels = [f"{r.source}#face{r.face}" for r in ok]
            result = index.search(vectors, args.k)
            from ..contact_sheet import face_tile

            tiles = [face_tile(r.source, None, r.box.tolist()) for r in ok]
        else:
            raise FeverError("give query images or --vectors")
    except (FeverError, ValueError, OSError) as exc:
        print(f"fever-index: error: {exc}", file=sys.stderr)
        return 1
    for qi, label in enumerate(labels):
        print(f"query {label}")
        print("| rank | score | id |")
        print("|---|---|---|")
        for rank, n in enumerate(result.neighbours(qi), start=1):
            print(f"| {rank} | {n['score']:.4f} | {n['id']} |")
    if args.sheet:
        from ..contact_sheet import contact_sheet, face_tile

        if tiles is None:
            tiles = [face_tile(str(p), f, None) for p, f in
                     zip(table.column("path").to_pylist(), table.column("frame").to_pylist())]
        contact_sheet(tiles, [result.neighbours(i) for i in range(len(labels))], args.sheet)
        print(f"fever-index: contact sheet -> {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
