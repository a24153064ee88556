"""Clips of one flat colour whose Y'CbCr is computed here from a named matrix (limited range), so
what a decoder shows can be compared with the colour that was meant."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

RGB = tuple[int, int, int]
KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
MATRIX_TAGS = {"bt709": 1, "bt601": 6}  # AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M
RED: RGB = (200, 30, 40)
"""A saturated red: BT.601 and BT.709 read its Y'CbCr ~20 levels apart in red and green."""


def ycbcr(rgb: RGB, matrix: str) -> tuple[int, int, int]:
    """8-bit limited-range Y'CbCr of ``rgb`` with ``matrix``'s coefficients (BT.601 / BT.709)."""
    kr, kb = KR_KB[matrix]
    r, g, b = (c / 255 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    return round(16 + 219 * y), round(128 + 224 * cb), round(128 + 224 * cr)


def flat_clip(
    path: Path, size: tuple[int, int], rgb: RGB, matrix: str, *, tag: bool, frames: int = 2
) -> Path:
    """H.264 (lossless) of ``frames`` frames of ``rgb`` converted with ``matrix``; tagged with
    that matrix and limited range when ``tag``, else carrying no colour tag at all."""
    width, height = size
    y, u, v = ycbcr(rgb, matrix)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "qp": "0"}
        if tag:
            stream.codec_context.colorspace = MATRIX_TAGS[matrix]
            stream.codec_context.color_range = 1
        planes = np.empty((height * 3 // 2, width), np.uint8)
        quarter = height // 4
        planes[:height], planes[height : height + quarter], planes[height + quarter :] = y, u, v
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def centre_rgb(path: Path, frame_index: int = 0) -> tuple[np.ndarray, int]:
    """Mean RGB of the centre 8x8 pixels of a frame, decoded by PyAV honouring the file's tags,
    and the frame's matrix tag."""
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == frame_index:
                rgb = frame.to_ndarray(format="rgb24")
                h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
                centre = rgb[h - 4 : h + 4, w - 4 : w + 4].reshape(-1, 3).astype(np.float64)
                return centre.mean(axis=0), int(frame.colorspace)
    raise AssertionError(f"{path} has no frame {frame_index}")


def off_by(measured: np.ndarray, rgb: RGB) -> float:
    """The largest per-channel difference between ``measured`` and ``rgb``."""
    return float(np.abs(measured - np.asarray(rgb, np.float64)).max())
