"""Expanding command-line paths into the list of inputs a batch job processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .io.images import IMAGE_EXTENSIONS
from .io.video import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class InputFile:
    path: str
    kind: str  # "image", "video" or "skip"
    reason: str | None = None


def classify(path: Path) -> InputFile:
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return InputFile(str(path), "video")
    if suffix in IMAGE_EXTENSIONS:
        return InputFile(str(path), "image")
    return InputFile(str(path), "skip", f"{path}: not an image or video file (extension {suffix or 'none'!r}); skipped")


def expand_inputs(paths: list[str], recursive: bool = False) -> list[InputFile]:
    """Files named directly are always tried (as video by extension, else as image); files found in
    folders are kept by extension, the others reported as skipped. Sorted, duplicates removed."""
    found: dict[str, InputFile] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.glob("*")
            for child in walker:
                if child.is_file() or child.is_symlink():
                    entry = classify(child)
                    found.setdefault(entry.path, entry)
        else:
            entry = classify(p)
            if entry.kind == "skip":
                entry = InputFile(str(p), "image")  # named explicitly: try it, the loader says what is wrong
            found.setdefault(entry.path, entry)
    return [found[k] for k in sorted(found)]


def shard(items: list[InputFile], spec: str | None) -> list[InputFile]:
    """``"i/n"`` keeps every n-th input starting at i (0-based) of the sorted list."""
    if not spec:
        return items
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like i/n (e.g. 0/4), not {spec!r}") from None
    if n < 1:
        raise UsageError(f"--shard {spec}: n must be 1 or more")
    if not 0 <= i < n:
        raise UsageError(
            f"--shard {spec}: shards are numbered from 0, so i must be 0 to {n - 1} (0/{n} ... {n - 1}/{n})"
        )
    return items[i::n]
