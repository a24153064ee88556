"""Each segment's thumbnail, written at normalise time from one keyframe (a single decode); the
poster and contact sheet of a stitched output are built from them (``stitching.sheet``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from media.frames import proxy_frames

if TYPE_CHECKING:
    from stitching.profile import OutputProfile

THUMB_WIDTH = 320


def middle_keyframe(keyframes: Sequence[int], lo: int, hi: int) -> int:
    """The keyframe in ``[lo, hi)`` closest to its middle (one decode gives the frame)."""
    middle = (lo + hi) // 2
    return min([k for k in keyframes if lo <= k < hi] or [middle], key=lambda k: abs(k - middle))


def thumb_path(segment_path: Path) -> Path:
    return segment_path.with_suffix(".jpg")


def tile_path(segment_path: Path) -> Path:
    return segment_path.with_suffix(".tile.jpg")


def tile_size(profile: OutputProfile) -> tuple[int, int]:
    width = min(THUMB_WIDTH, profile.width)
    return width, round(width * profile.height / profile.width)


def write_thumb(
    video: Path, keyframes: Sequence[int], lo: int, hi: int, profile: OutputProfile, out: Path
) -> int:
    """At normalise time: the frame shown for the segment, as a full-size JPEG; its index."""
    index = middle_keyframe(keyframes, lo, hi)
    found = proxy_frames(video, [index], profile.rate, profile.width, "bgr24")
    frame = found.get(index, blank_frame(profile.width, profile.height))
    cv2.imwrite(str(out), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    tile = cv2.resize(frame, tile_size(profile), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out.with_suffix(".tile.jpg")), tile, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return index


def blank_frame(width: int, height: int) -> np.ndarray:
    """Stand-in for a frame the file does not have (verification reports the shortfall)."""
    return np.zeros((height, width, 3), dtype=np.uint8)
