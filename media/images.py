"""An image's size read from its header, before anything decodes its pixels.

A PNG of 3 MB can declare 32,000 x 32,000 pixels: OpenCV's ``imdecode`` accepts up to 2**30 pixels
and turned that file into 6 GB of memory and 13 s of CPU (measured). Every image that comes from
outside (a storyboard's reference image or keyframe, a fetched or uploaded file, a provider's
answer) is measured here first, from its header alone (``imagesize``: PNG, JPEG, WebP and more),
and refused over ``MAX_IMAGE_PIXELS``, which no video model's frame and no camera photo reaches.
"""

from __future__ import annotations

import io
from pathlib import Path

import imagesize

from media.files import EMPTY, is_empty

MAX_IMAGE_PIXELS = 120_000_000  # a 108 MP phone photo is 12,000 x 9,000; an 8K frame 33 MP


def sniff_image(data: bytes) -> str | None:
    """The image type by magic bytes: ``image/png``, ``image/jpeg``, ``image/webp`` or None (the
    three types shotline takes from outside)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def header_size(source: bytes | Path) -> tuple[int, int] | None:
    """(width, height) that the image's header declares (nothing is decoded); None when no header
    is recognised (the decoder then says what is wrong with the file)."""
    try:
        width, height = imagesize.get(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (OSError, ValueError):
        return None
    return (int(width), int(height)) if width > 0 and height > 0 else None


def decode_problem(source: bytes | Path) -> str | None:
    """Why the image must not be decoded: no header gives its size (OpenCV also decodes formats,
    such as Radiance HDR or OpenEXR, that no header reader here measures), or ``pixels_problem``;
    first, that it is empty. None: it may be decoded."""
    if source == b"" or (isinstance(source, Path) and is_empty(source)):
        return EMPTY
    size = header_size(source)
    if size is None:
        return (
            "is not a readable image (no PNG, JPEG, WebP, BMP, TIFF or GIF header gives its size)"
        )
    return _too_many(size)


def pixels_problem(source: bytes | Path) -> str | None:
    """Why the image is too large to decode (None: it is not, or its header is unreadable)."""
    size = header_size(source)
    return None if size is None else _too_many(size)


def _too_many(size: tuple[int, int]) -> str | None:
    if size[0] * size[1] <= MAX_IMAGE_PIXELS:
        return None
    return (
        f"declares {size[0]}x{size[1]} pixels, over the limit of {MAX_IMAGE_PIXELS:,} "
        "(it was not decoded)"
    )
