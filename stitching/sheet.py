"""Poster frame and contact sheet of a stitched output, from the thumbnails saved beside each
segment at normalise time (decoding the output only for a thumbnail that is missing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from media.caption import MIN_SCALE, WHITE, Line, draw_text, metrics, padding, shorten, text_width
from media.frames import proxy_frames
from stitching.plan import EditPlan
from stitching.thumbs import blank_frame, thumb_path, tile_path, tile_size

COLUMNS = 4
STRIP = (24, 24, 24)  # label strips: white on this is 16:1 (WCAG contrast ratio)


def label_strip(text: str, width: int) -> np.ndarray:
    """A tile's label on a strip of its own (drawn under the tile, so it covers none of the
    picture): light text on a dark strip, scaled down and then shortened to fit ``width``."""
    scale = max(MIN_SCALE, min(0.5, width / 320 * 0.5))
    pad = padding(scale)
    room = width - 2 * pad
    while scale > MIN_SCALE and text_width(text, scale) > room:
        scale = max(MIN_SCALE, scale * 0.9)
    text = shorten(text, room, scale)
    cap, descent = metrics(scale)
    strip = np.full((cap + descent + 2 * pad, width, 3), STRIP, np.uint8)
    draw_text(strip, [Line(text, scale, pad, pad + cap)], WHITE)
    return strip


def contact_sheet(tiles: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """Tiles in rows of ``COLUMNS``, each above its label strip; tiles are copied untouched."""
    width = tiles[0].shape[1]
    strips = [label_strip(text, width) for text in labels]
    cells = [np.vstack([tile, strip]) for tile, strip in zip(tiles, strips, strict=True)]
    columns = min(COLUMNS, len(cells))
    cells += [np.zeros_like(cells[0])] * (-len(cells) % columns)
    rows = [np.hstack(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    return np.vstack(rows)


def _frame(plan: EditPlan, video: Path, index: int) -> np.ndarray:
    found = proxy_frames(video, [index], plan.profile.rate, plan.profile.width, "bgr24")
    return found.get(index, blank_frame(plan.profile.width, plan.profile.height))


def _tiles(plan: EditPlan, video: Path) -> list[np.ndarray]:
    """Each shot's tile saved at normalise time, or decoded from ``video`` if missing."""
    size = tile_size(plan.profile)
    tiles: list[np.ndarray] = []
    for shot in plan.shots:
        tile = cv2.imread(str(tile_path(shot.segment.path)))
        if tile is None or (tile.shape[1], tile.shape[0]) != size:
            frame = _frame(plan, video, shot.timeline_in + shot.segment.thumb_frame)
            tile = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        tiles.append(np.ascontiguousarray(tile))
    return tiles


def write_thumbs(plan: EditPlan, video: Path, poster: Path, sheet: Path) -> None:
    """Poster (first shot's frame, full size) and a contact sheet of every shot, each tile over
    a strip naming the shot and the time of its frame."""
    first = plan.shots[0]
    saved = thumb_path(first.segment.path)
    if saved.is_file():
        shutil.copyfile(saved, poster)
    else:
        frame = _frame(plan, video, first.segment.thumb_frame)
        cv2.imwrite(str(poster), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    tiles = _tiles(plan, video)
    labels = [
        f"{shot.shot_id} @ {plan.profile.seconds(shot.timeline_in + shot.segment.thumb_frame):.2f}s"
        for shot in plan.shots
    ]
    cv2.imwrite(str(sheet), contact_sheet(tiles, labels), [cv2.IMWRITE_JPEG_QUALITY, 85])
