"""A PNG of a query face and its nearest neighbours, to see what "similar expression" means."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

TILE = 112


def face_tile(path: str, frame: int | None, box: list[float] | None, margin: float = 0.2) -> Image.Image:
    """The face at ``box`` of an image or of a video frame, as a square tile (grey if unreadable)."""
    from ..io.images import load_image
    from ..io.video import VIDEO_EXTENSIONS, iter_video_frames

    try:
        if frame is not None and frame >= 0 and Path(path).suffix.lower() in VIDEO_EXTENSIONS:
            arr = next(f.array for f in iter_video_frames(path) if f.index == frame)
        else:
            arr = load_image(path).array
    except Exception:  # a moved or broken file still gets its slot in the sheet
        return Image.new("RGB", (TILE, TILE), (90, 90, 90))
    img = Image.fromarray(arr)
    if box is not None and not any(v is None for v in box):
        x1, y1, x2, y2 = box
        side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        img = img.crop((int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2)))
    return img.resize((TILE, TILE), Image.BILINEAR)


def contact_sheet(queries: list[Image.Image], neighbours: list[list[dict[str, Any]]], out: str | Path) -> Path:
    """One row per query: the query tile, then its neighbours with their scores."""
    cols = 1 + max(len(n) for n in neighbours)
    sheet = Image.new("RGB", (cols * TILE, len(queries) * (TILE + 16)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (query, row) in enumerate(zip(queries, neighbours)):
        y = r * (TILE + 16)
        sheet.paste(query.resize((TILE, TILE)), (0, y))
        draw.text((4, y + TILE + 2), "query", fill=(200, 0, 0))
        for c, n in enumerate(row, start=1):
            sheet.paste(face_tile(n["path"], n.get("frame"), n.get("box")), (c * TILE, y))
            draw.text((c * TILE + 4, y + TILE + 2), f"{n['score']:.3f}", fill=(0, 0, 0))
    out = Path(out)
    sheet.save(out)
    return out


def query_tiles(images: list[Any]) -> list[Image.Image]:
    from ..io.images import load_image

    return [Image.fromarray(load_image(i).array).resize((TILE, TILE)) for i in images]


__all__ = ["contact_sheet", "face_tile", "query_tiles"]
