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
from ..result import STATUS_OK
from .app import Command, add_threads_argument, run
from .contact_sheet import SHEET_ROWS


class BuildCommand(Command):
    name = "build"
    help = "index the face vectors of fever-embed parquet files"

    def add_arguments(self, b: argparse.ArgumentParser) -> None:
        b.add_argument("parquet", nargs="+", type=Path, help="fever-embed parquet files")
        b.add_argument("--out", required=True, type=Path, help="index folder to write")
        b.add_argument("--kind", default="exact", choices=KINDS, help="index kind (see fever.Index)")
        b.add_argument("--m", type=int, default=32, help="PQ bytes per vector (compressed kinds)")
        b.add_argument("--nlist", type=int, default=None, help="IVF lists (default 4 sqrt(n))")
        b.add_argument("--nprobe", type=int, default=32, help="IVF lists searched per query")
        add_threads_argument(b)

    def run(self, args: argparse.Namespace) -> int:
        from ..index import Index

        index = Index.from_parquet(args.parquet, kind=args.kind, m=args.m, nlist=args.nlist, nprobe=args.nprobe)
        index.save(args.out)
        print(
            f"fever-index: {len(index)} vectors, kind {index.kind} ({index.factory}), model {index.model} -> {args.out}"
        )
        return 0


class QueryCommand(Command):
    name = "query"
    help = "nearest neighbours of query images or vectors"

    def add_arguments(self, q: argparse.ArgumentParser) -> None:
        q.add_argument("index", type=Path, help="index folder")
        q.add_argument("images", nargs="*", help="query images (embedded with the index's model)")
        q.add_argument("--vectors", type=Path, help="a fever-embed parquet of query vectors instead of images")
        q.add_argument("-k", type=int, default=10, help="neighbours per query")
        q.add_argument("--model", default=None, help="where to find the index's model if not by its name")
        q.add_argument("--sheet", type=Path, help="write a contact sheet PNG of the queries and their neighbours")
        q.add_argument(
            "--sheet-max", type=int, default=SHEET_ROWS, help="queries drawn on the sheet (the table has all)"
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..errors import UsageError
        from ..index import Index
        from .contact_sheet import contact_sheet

        if args.sheet_max < 1:
            raise UsageError("--sheet-max must be 1 or more")
        index = Index.load(args.index)
        if args.vectors:
            import pyarrow.compute as pc

            from ..parquet import embeddings, read_output

            table, _ = read_output(args.vectors)
            table = table.filter(pc.equal(table.column("status"), STATUS_OK))
            labels = [
                f"{p}#{f}#{c}" for p, f, c in zip(*(table.column(n).to_pylist() for n in ("path", "frame", "face")))
            ]
            result = index.search(embeddings(table), args.k)
            columns = (table.column(n).to_pylist() for n in ("path", "frame", "box"))
            tiles = [{"path": str(p), "frame": f, "box": b} for p, f, b in zip(*columns)]
        elif args.images:
            from ..extractor import Extractor

            extractor = Extractor(args.model or index.model)
            index.check_model(extractor)
            found = extractor.extract(args.images)
            vectors = index.embed_queries_from(found, extractor)
            ok = [r for r in found.rows if r.status == STATUS_OK]
            labels = [f"{r.source}#face{r.face}" for r in ok]
            result = index.search(vectors, args.k)
            tiles = [{"path": r.source, "frame": -1, "box": r.box.tolist()} for r in ok]
        else:
            raise UsageError("give query images or --vectors")
        for qi, label in enumerate(labels):
            print(f"query {label}")
            print("| rank | score | id |")
            print("|---|---|---|")
            for rank, n in enumerate(result.neighbours(qi), start=1):
                print(f"| {rank} | {n['score']:.4f} | {n['id']} |")
        if args.sheet:
            shown = min(len(labels), args.sheet_max)
            contact_sheet(tiles, [result.neighbours(i) for i in range(shown)], args.sheet, max_rows=shown)
            print(f"fever-index: contact sheet of {shown} of {len(labels)} queries -> {args.sheet}")
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-index``.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        0 success, 1 error (the message says which file and why).
    """
    return run("fever-index", __doc__, [BuildCommand(), QueryCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
