"""A PNG of query faces and their nearest neighbours, to see what "similar expression" means.

Every picture a sheet needs is read once: each video is decoded once, up to the last frame any tile
needs (not once per tile), and each image file once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image, ImageDraw

TILE = 112
# rows of a sheet by default: a few dozen queries are what a person looks at; the printed table has all
SHEET_ROWS = 50
Key = tuple[str, int]  # (path, frame); frame -1 for an image


class Pictures:
    """The images and video frames a sheet shows, read once each (grey tiles for unreadable ones)."""

    def __init__(self, wanted: Iterable[Key]) -> None:
        from ..io.images import load_image
        from ..io.video import VIDEO_EXTENSIONS, iter_video_frames

        self.arrays: dict[Key, np.ndarray | None] = {}
        frames_of: dict[str, set[int]] = {}
        for path, frame in set(wanted):
            if frame >= 0 and Path(path).suffix.lower() in VIDEO_EXTENSIONS:
                frames_of.setdefault(path, set()).add(frame)
            else:
                try:
                    self.arrays[(path, frame)] = load_image(path).array
                except Exception:  # a moved or broken file still gets its slot in the sheet
                    self.arrays[(path, frame)] = None
        for path, frames in frames_of.items():
            try:
                for f in iter_video_frames(path, max_frames=max(frames) + 1):
                    if f.index in frames:
                        self.arrays[(path, f.index)] = f.array
            except Exception:
                pass

    def tile(self, path: str, frame: int | None, box: Any, margin: float = 0.2) -> Image.Image:
        """The face at ``box`` (the whole picture without one) as a square tile."""
        arr = self.arrays.get((path, -1 if frame is None else int(frame)))
        if arr is None:
            return Image.new("RGB", (TILE, TILE), (90, 90, 90))
        img = Image.fromarray(arr)
        if box is not None and not any(v is None for v in box):
            x1, y1, x2, y2 = box
            side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            img = img.crop((int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2)))
        return img.resize((TILE, TILE), Image.BILINEAR)


def contact_sheet(
    queries: list[dict[str, Any]], neighbours: list[list[dict[str, Any]]], out: str | Path, max_rows: int = SHEET_ROWS
) -> Path:
    """One row per query (the first ``max_rows``): the query's face, then its neighbours with scores.

    Args:
        queries: per query its ``path``, ``frame`` (-1 or None for images) and ``box`` (or None).
        neighbours: per query the rows of :meth:`fever.index.SearchResult.neighbours`.
        out: the PNG (or JPEG, by suffix) to write.
        max_rows: at most this many queries are drawn.

    Returns:
        The written file.
    """
    queries, neighbours = queries[:max_rows], neighbours[:max_rows]
    wanted = [(q["path"], -1 if q.get("frame") is None else int(q["frame"])) for q in queries]
    wanted += [(n["path"], -1 if n.get("frame") is None else int(n["frame"])) for row in neighbours for n in row]
    pictures = Pictures(wanted)
    cols = 1 + max((len(n) for n in neighbours), default=0)
    sheet = Image.new("RGB", (cols * TILE, max(1, len(queries)) * (TILE + 16)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (query, row) in enumerate(zip(queries, neighbours)):
        y = r * (TILE + 16)
        sheet.paste(pictures.tile(query["path"], query.get("frame"), query.get("box")), (0, y))
        draw.text((4, y + TILE + 2), "query", fill=(200, 0, 0))
        for c, n in enumerate(row, start=1):
            sheet.paste(pictures.tile(n["path"], n.get("frame"), n.get("box")), (c * TILE, y))
            draw.text((c * TILE + 4, y + TILE + 2), f"{n['score']:.3f}", fill=(0, 0, 0))
    out = Path(out)
    sheet.save(out)
    return out


__all__ = ["SHEET_ROWS", "Pictures", "contact_sheet"]
