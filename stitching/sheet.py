"""Poster frame and contact sheet of a stitched output, from the thumbnails saved beside each
segment at normalise time (decoding the output only for a thumbnail that is missing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from media.frames import proxy_frames
from stitching.plan import EditPlan
from stitching.thumbs import blank_frame, thumb_path, tile_path, tile_size

COLUMNS = 4


def _label(image: np.ndarray, text: str) -> None:
    cv2.rectangle(image, (0, 0), (8 + 9 * len(text), 22), (0, 0, 0), -1)
    cv2.putText(image, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)


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
    """Poster (first shot's frame, full size) and a labelled contact sheet of every shot."""
    first = plan.shots[0]
    saved = thumb_path(first.segment.path)
    if saved.is_file():
        shutil.copyfile(saved, poster)
    else:
        frame = _frame(plan, video, first.segment.thumb_frame)
        cv2.imwrite(str(poster), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    tiles = _tiles(plan, video)
    for shot, tile in zip(plan.shots, tiles, strict=True):
        at = shot.timeline_in + shot.segment.thumb_frame
        _label(tile, f"{shot.shot_id} @ {plan.profile.seconds(at):.2f}s")
    columns = min(COLUMNS, len(tiles))
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(sheet), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
