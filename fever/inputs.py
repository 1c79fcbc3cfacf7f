"""Expanding command-line paths into the list of inputs a batch job processes.

One file is one input, whatever its spelling: a symlink, a relative and an absolute path, or a
non-UTF-8 name are all keyed by the bytes of the resolved path (:attr:`InputFile.key`), so a file
gets one set of rows, and two different files never share a key (a name's text form, with ``\\xff``
escapes for odd bytes, can collide with a name that holds a real backslash). Each input also
records its size and modification time, so that ``--resume`` can tell a file that changed since it
was embedded.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import UsageError
from .io.images import IMAGE_EXTENSIONS, file_kind
from .io.video import VIDEO_EXTENSIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputFile:
    path: str
    kind: str  # "image", "video" or "skip"
    reason: str | None = None
    key: bytes = b""  # the resolved path's bytes: one file, one key
    size: int | None = None  # bytes, when the file could be looked at
    mtime_ns: int | None = None


def resolved(path: str | Path) -> str:
    """The absolute path with every symlink followed; a symlink loop or an unreadable link stays as
    its absolute spelling (the loader then says what is wrong with it)."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's "Symlink loop"
        return os.path.abspath(path)


def source_key(path: str | Path) -> bytes:
    """The key of an input: its resolved path as bytes (lossless for any file name)."""
    return os.fsencode(resolved(path))


def identify(path: Path) -> tuple[int | None, int | None, int | None]:
    """(size, mtime_ns, st_mode) of the file a path names, or Nones when it cannot be looked at."""
    try:
        info = path.stat()
    except (OSError, RuntimeError):
        return None, None, None
    return info.st_size, info.st_mtime_ns, info.st_mode


def classify(path: Path) -> InputFile:
    size, mtime, mode = identify(path)
    ident = {"key": source_key(path), "size": size, "mtime_ns": mtime}
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return InputFile(str(path), "video", **ident)
    if suffix in IMAGE_EXTENSIONS:
        return InputFile(str(path), "image", **ident)
    if mode is not None and not stat.S_ISREG(mode):
        why = f"{path}: is {file_kind(mode)}, not a regular file; skipped"
        return InputFile(str(path), "skip", why, **ident)
    why = f"{path}: not an image or video file (extension {suffix or 'none'!r}); skipped"
    return InputFile(str(path), "skip", why, **ident)


def _folder_entries(folder: Path, recursive: bool) -> Iterable[Path]:
    """Every entry of a folder that is not itself a folder: files, FIFOs, devices, broken links and
    symlink loops alike (each then gets its row); symlinked folders are not followed."""
    walker = folder.rglob("*") if recursive else folder.glob("*")
    for child in walker:
        try:
            is_folder = child.is_dir()
        except (OSError, RuntimeError):
            is_folder = False
        if not is_folder:
            yield child


def expand_inputs(paths: list[str], recursive: bool = False, exclude: Iterable[str | Path] = ()) -> list[InputFile]:
    """Files named directly are always tried (as video by extension, else as image); files found in
    folders are kept by extension, the others reported as skipped. Sorted by path; one entry per
    file (keyed by resolved path: a second spelling of a file is dropped with a warning).

    Args:
        paths: files and folders, as given.
        recursive: walk folders recursively.
        exclude: files and folders that are never inputs (a run's own output, its parts and lock).

    Returns:
        The inputs, sorted by path.
    """
    excluded = [resolved(e) for e in exclude]

    def is_excluded(key: str) -> bool:
        return any(key == e or key.startswith(e.rstrip(os.sep) + os.sep) for e in excluded)

    found: dict[bytes, InputFile] = {}
    for raw in paths:
        p = Path(raw)
        entries = [classify(c) for c in _folder_entries(p, recursive)] if p.is_dir() else [classify(p)]
        for entry in entries:
            if not p.is_dir() and entry.kind == "skip":
                # named explicitly: try it, the loader says what is wrong
                entry = InputFile(entry.path, "image", None, entry.key, entry.size, entry.mtime_ns)
            if is_excluded(os.fsdecode(entry.key)):
                continue
            first = found.setdefault(entry.key, entry)
            if first is not entry and first.path != entry.path:
                logger.warning(
                    "%s and %s are the same file (%s): embedded once, as %s",
                    first.path,
                    entry.path,
                    os.fsdecode(entry.key),
                    first.path,
                )
    return sorted(found.values(), key=lambda e: e.path)


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
