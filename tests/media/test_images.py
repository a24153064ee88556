"""An image's size is read from its header, and one declaring too many pixels is refused before
anything decodes it (``media.images``)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from media.images import MAX_IMAGE_PIXELS, decode_problem, header_size, pixels_problem
from tests.media.declared import jpeg_declaring, png_declaring


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_the_header_gives_the_size_of_each_accepted_format(suffix: str, tmp_path: Path):
    ok, encoded = cv2.imencode(suffix, np.zeros((90, 160, 3), np.uint8))
    assert ok
    path = tmp_path / f"frame{suffix}"
    path.write_bytes(encoded.tobytes())
    assert header_size(encoded.tobytes()) == (160, 90)
    assert header_size(path) == (160, 90)
    assert pixels_problem(path) is None


def test_no_header_no_size(tmp_path: Path):
    assert header_size(b"<html>not an image</html>") is None
    assert header_size(tmp_path / "missing.png") is None
    assert pixels_problem(b"") is None  # the decoder says what is wrong with it


@pytest.mark.parametrize("declared", [png_declaring, jpeg_declaring])
def test_a_declared_bomb_is_refused_from_its_header_alone(declared, tmp_path: Path):
    data = declared(32000, 32000)
    assert len(data) < 200_000, "a few KB that would decode into gigabytes"
    started = time.process_time()
    problem = pixels_problem(data)
    assert time.process_time() - started < 0.5  # decoding it would take seconds
    assert problem == (
        f"declares 32000x32000 pixels, over the limit of {MAX_IMAGE_PIXELS:,} (it was not decoded)"
    )
    path = tmp_path / "bomb.img"
    path.write_bytes(data)
    assert pixels_problem(path) == problem


def test_a_camera_photo_is_within_the_limit():
    assert pixels_problem(png_declaring(12000, 9000)) is None  # 108 MP
    assert pixels_problem(png_declaring(12000, 10001)) is not None


def test_a_format_without_a_measurable_header_is_not_decoded(tmp_path: Path):
    """OpenCV decodes Radiance HDR; no header reader here gives its size, so it is refused."""
    ok, hdr = cv2.imencode(".hdr", np.zeros((9, 16, 3), np.float32))
    assert ok
    assert cv2.imdecode(hdr, cv2.IMREAD_COLOR) is not None
    assert header_size(hdr.tobytes()) is None
    assert pixels_problem(hdr.tobytes()) is None  # nothing known to be too large...
    assert decode_problem(hdr.tobytes()) == (  # ...and nothing known, so nothing decoded
        "is not a readable image (no PNG, JPEG, WebP, BMP, TIFF or GIF header gives its size)"
    )
    ok, png = cv2.imencode(".png", np.zeros((9, 16, 3), np.uint8))
    assert decode_problem(png.tobytes()) is None
    assert decode_problem(png_declaring(32000, 32000)) == pixels_problem(
        png_declaring(32000, 32000)
    )
