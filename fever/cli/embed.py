"""``fever-embed``: images, folders and videos -> a parquet file of expression vectors.

Exit codes: 0 every input was read (inputs without a face are not failures), 2 some inputs failed
(their rows carry status "error" and the reason), 1 the run could not start (bad arguments, model).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..appearance import MIN_SIMILARITY
from .app import EXIT_OK, EXIT_PARTIAL, Command, add_threads_argument, run

# the options that change the rows of a run (and so must not change on --resume)
RUN_OPTIONS = (
    "faces",
    "every",
    "fps",
    "max_frames",
    "detect_every",
    "min_track_frames",
    "track_similarity",
    "detection_threshold",
    "normalize",
    "precision",
    "tta",
    "detector",
)


class EmbedCommand(Command):
    """Embed images, folders and videos into one parquet file, resumably."""

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="+", help="image or video files, or folders of them")
        p.add_argument("--out", required=True, type=Path, help="output parquet file")
        p.add_argument(
            "--model", default=None, help="preset name, model folder or Hub repo id (default: the bundled default)"
        )
        p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) for --model")
        p.add_argument(
            "--faces",
            choices=("auto", "detect", "crop"),
            default="auto",
            help="detect faces with MTCNN, take images as face crops, or auto (crops up to 128 px)",
        )
        p.add_argument("--batch-size", type=int, default=64, help="face crops per forward pass")
        p.add_argument("--workers", type=int, default=2, help="threads that decode images in parallel")
        p.add_argument("--recursive", "-r", action="store_true", help="walk folders recursively")
        p.add_argument("--every", type=int, default=1, help="videos: keep every n-th frame")
        p.add_argument("--fps", type=float, default=None, help="videos: sample at this many frames per second")
        p.add_argument("--max-frames", type=int, default=None, help="videos: stop after this many sampled frames")
        p.add_argument(
            "--detect-every",
            type=int,
            default=1,
            help="videos: full face detection on every n-th sampled frame, faces followed in between",
        )
        p.add_argument(
            "--min-track-frames",
            type=int,
            default=5,
            help="videos: drop tracks seen on fewer sampled frames (false faces: hair, hands; 1 keeps all)",
        )
        p.add_argument(
            "--track-similarity",
            type=float,
            default=MIN_SIMILARITY,
            help="videos: how alike (colour histograms, 0-1) a face must look to join a track; 0 = boxes alone",
        )
        p.add_argument(
            "--detection-threshold",
            type=float,
            default=0.9,
            help="MTCNN detection score below which a face is dropped",
        )
        p.add_argument("--normalize", action="store_true", help="L2-normalise the vectors")
        p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
        p.add_argument(
            "--precision",
            choices=("fp32", "bf16"),
            default="fp32",
            help="bf16: autocast, faster on CPUs with AVX512-BF16 (vectors within cosine 0.999)",
        )
        p.add_argument(
            "--tta",
            choices=("none", "flip"),
            default=None,
            help="flip: average the vectors of each face and its mirror (default: the model's setting)",
        )
        p.add_argument(
            "--detector",
            default="mtcnn",
            help="mtcnn, onepass (the one-pass face + expression detector) or a one-pass detector folder",
        )
        p.add_argument("--resume", action="store_true", help="finish an interrupted run into the same --out")
        p.add_argument("--overwrite", action="store_true", help="replace an existing output")
        p.add_argument(
            "--shard",
            default=None,
            help="i/n: process shard i of n (numbered 0 to n-1) of the sorted inputs; "
            "the n shards together are one run",
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--quiet", "-q", action="store_true", help="only errors on stderr")
        add_threads_argument(p)

    def run(self, args: argparse.Namespace) -> int:
        return embed(args)


def embed(args: argparse.Namespace) -> int:
    """The run of ``fever-embed``; errors before the first input are FeverErrors (exit 1)."""
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING, format="fever-embed: %(message)s")
    from .. import __version__
    from ..errors import UsageError
    from ..extractor import Extractor
    from ..inputs import expand_inputs, shard
    from ..io.video import check_video_options
    from ..parquet import PartWriter
    from ..result import (
        STATUS_ERROR,
        STATUS_NO_FACE,
        STATUS_OK,
        STATUS_SKIPPED,
        Extraction,
        Row,
        rows_to_table,
    )

    if args.model is not None and not args.model.strip():
        raise UsageError("--model is empty; give a preset name, a model folder or a Hub repo id, or leave it out")
    out = Path(args.out)
    # the run's own files are never its inputs (an --out inside a folder walked with --recursive)
    own = [out, out.with_name(out.name + ".parts"), out.with_name(out.name + ".tmp"), out.with_name(out.name + ".lock")]
    inputs = shard(expand_inputs(args.paths, args.recursive, exclude=own), args.shard)
    # every option is checked before the model loads and before the first input
    if args.batch_size < 1:
        raise UsageError("--batch-size must be >= 1")
    if args.workers < 0:
        raise UsageError("--workers must be 0 or more")
    if args.detect_every < 1:
        raise UsageError("--detect-every must be 1 or more")
    try:
        check_video_options(args.every, args.fps, args.max_frames)
    except UsageError as exc:
        raise UsageError(f"--{str(exc).replace('_', '-')}") from None
    if args.min_track_frames < 1:
        raise UsageError("--min-track-frames must be 1 or more")
    if not 0.0 <= args.track_similarity <= 1.0:
        raise UsageError("--track-similarity must be in [0, 1]")
    if not 0.0 <= args.detection_threshold < 1.0:
        raise UsageError("--detection-threshold must be in [0, 1)")
    extractor = Extractor(
        args.model,
        device=args.device,
        precision=args.precision,
        revision=args.revision,
        detection_threshold=args.detection_threshold,
        tta=args.tta,
        detector=args.detector,
    )
    cfg = extractor.config
    metadata = {
        "fever.model": cfg.name,
        "fever.source": extractor.model.origin.source if extractor.model.origin else "",
        "fever.revision": args.revision or "",
        "fever.config_hash": cfg.config_hash(),
        "fever.version": __version__,
        "fever.dim": str(cfg.d_face),
        "fever.normalized": str(args.normalize).lower(),
        # how the rows are made: a resumed run must make them the same way (PartWriter checks)
        "fever.options": json.dumps(
            {k: getattr(args, k) for k in RUN_OPTIONS},
            sort_keys=True,
        ),
    }
    writer = PartWriter(args.out, cfg.d_face, metadata, resume=args.resume, overwrite=args.overwrite)
    try:
        todo, forget = _what_to_do(inputs, writer.done_inputs())
        if len(todo) < len(inputs):
            print(
                f"fever-embed: resuming: {len(inputs) - len(todo)} of {len(inputs)} inputs already done",
                file=sys.stderr,
            )
        identities = {i.path: (i.key, i.size, i.mtime_ns) for i in inputs}

        def write(part: Extraction) -> None:
            writer.write(rows_to_table(part.rows, part.vectors, identities=identities))

        skipped = [i for i in todo if i.kind == "skip"]
        if skipped:
            for item in skipped:
                logging.warning("%s", item.reason)
            rows = [Row(-1, i.path, STATUS_SKIPPED, error=i.reason) for i in skipped]
            import numpy as np

            write(Extraction(np.full((len(rows), cfg.d_face), np.nan, np.float32), rows))
        images = [i.path for i in todo if i.kind == "image"]
        videos = [i.path for i in todo if i.kind == "video"]
        show = not args.no_progress and not args.quiet
        if images:
            extractor.extract(
                images,
                faces=args.faces,
                batch_size=args.batch_size,
                num_workers=args.workers,
                show_progress_bar=show,
                normalize=args.normalize,
                on_chunk=write,
            )
        for path in videos:
            # one part per video, so that a video is never half-written
            video = extractor.extract_video(
                path,
                every=args.every,
                fps=args.fps,
                max_frames=args.max_frames,
                batch_size=args.batch_size,
                normalize=args.normalize,
                show_progress_bar=show,
                detect_every=args.detect_every,
                min_track_frames=args.min_track_frames,
                track_similarity=args.track_similarity,
            )
            write(video)
        table = writer.finish(forget)
    finally:
        writer.close()
    status = table.column("status").to_pylist()
    counts = {s: status.count(s) for s in (STATUS_OK, STATUS_NO_FACE, STATUS_ERROR, STATUS_SKIPPED)}
    print(
        f"fever-embed: wrote {table.num_rows} rows to {args.out} "
        f"({counts[STATUS_OK]} faces, {counts[STATUS_NO_FACE]} inputs without a face, {counts[STATUS_ERROR]} failed, "
        f"{counts[STATUS_SKIPPED]} skipped)",
        file=sys.stderr,
    )
    return EXIT_PARTIAL if counts[STATUS_ERROR] else EXIT_OK


def _what_to_do(inputs: list, done: dict[bytes, tuple[int | None, int | None]]) -> tuple[list, set[bytes]]:
    """The inputs still to embed, and the keys of done inputs whose rows must go.

    An input done before is done again when its size or modification time changed since (its new
    rows replace the old ones); a done input whose file no longer exists loses its rows. Each case
    is reported, so that a resumed file never holds old vectors in silence.
    """
    import os

    todo = []
    for item in inputs:
        before = done.get(item.key)
        if before is None:
            todo.append(item)
        elif before[0] is not None and before != (item.size, item.mtime_ns):
            logging.warning("%s: changed since it was embedded (size or modification time); embedded again", item.path)
            todo.append(item)
    listed = {i.key for i in inputs}
    forget = set()
    for key in done:
        if key not in listed and not os.path.lexists(os.fsdecode(key)):
            logging.warning("%s: no longer exists; its rows are dropped", os.fsdecode(key))
            forget.add(key)
    return todo, forget


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fever-embed``.

    Args:
        argv: the arguments (default: the command line).

    Returns:
        0 every input was read, 2 some inputs failed, 1 the run could not start.
    """
    return run("fever-embed", __doc__, [EmbedCommand()], argv)


if __name__ == "__main__":
    sys.exit(main())
