"""Which Y'CbCr matrix and range a picture is in: its tag, else what players assume.

A stream with no matrix tag is shown by players with BT.709 when it is HD and BT.601 when it is
SD. The rule adopted is mpv's (``mp_csp_guess_colorspace`` in ``video/csputils.c``, mpv-player/mpv
at d7d670fc): BT.709 when ``width >= 1280 or height > 576``, else BT.601; Microsoft's
``DXVA2_VideoTransferMatrix_Unknown`` says the same by height alone ("HD ... source height greater
than 576 lines", https://learn.microsoft.com/en-us/windows/win32/api/dxva2api/ne-dxva2api-dxva2_videotransfermatrix).
FFmpeg's swscale, left to itself, takes every untagged picture as BT.601, so an untagged HD clip
converted by it (the stitcher's ``scale``, PyAV's ``reformat``) comes out with shifted reds and
greens. An untagged range is limited ("tv"), except for the ``yuvj*`` formats, which are full by
definition; that is what swscale and players assume as well.

Everything that converts a provider's Y'CbCr to something else asks here: ``source_colour`` for
FFmpeg's ``scale`` options, ``to_rgb`` for PyAV frames.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

UNSPECIFIED_MATRICES = frozenset({2, 3})  # AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_RESERVED
MATRIX_NAMES = {
    1: "bt709",  # AVCOL_SPC_BT709
    4: "fcc",  # AVCOL_SPC_FCC
    5: "bt601",  # AVCOL_SPC_BT470BG
    6: "bt601",  # AVCOL_SPC_SMPTE170M
    7: "smpte240m",  # AVCOL_SPC_SMPTE240M
    9: "bt2020",  # AVCOL_SPC_BT2020_NCL
}
"""A stream's matrix tag (``AVColorSpace``) as FFmpeg's ``scale`` filter names it in 5.1 and later;
a tag not listed (RGB, YCgCo, ICtCp, constant-luminance BT.2020) is left to FFmpeg."""
RANGE_NAMES = {1: "tv", 2: "pc"}  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG
HDR_TRANSFERS = {16: "pq", 18: "hlg"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67


def hdr_transfer(transfer_tag: int) -> str | None:
    """ "pq" or "hlg" for an HDR transfer tag (``AVColorTransferCharacteristic``), else None: an
    HDR picture's code values are not on the SDR scale (it needs tone mapping to be shown)."""
    return HDR_TRANSFERS.get(transfer_tag)


@dataclass(frozen=True)
class SourceColour:
    """How a picture's Y'CbCr is to be read: ``matrix`` and ``range`` as FFmpeg's ``scale``
    options ``in_color_matrix`` and ``in_range`` take them; ``tagged`` says whether the matrix
    came from the stream (else from ``guessed_matrix``)."""

    matrix: str
    range: str
    tagged: bool = True

    def scale_options(self) -> dict[str, str]:
        return {"in_color_matrix": self.matrix, "in_range": self.range}


NORMALISED = SourceColour("bt709", "tv")
"""The stitcher's own pictures (segments, their crops): BT.709, limited range, tagged so."""


def guessed_matrix(width: int, height: int) -> str:
    """The matrix players assume for an untagged picture of this coded size (module docstring)."""
    return "bt709" if width >= 1280 or height > 576 else "bt601"


def is_yuv(pix_fmt: str | None) -> bool:
    """Whether ``pix_fmt`` holds Y'CbCr, whose conversion needs a matrix (not RGB, not grey)."""
    if not pix_fmt:
        return False
    try:
        fmt = av.VideoFormat(pix_fmt)
    except ValueError:
        return False
    return not fmt.is_rgb and len(fmt.components) >= 3


def full_range(pix_fmt: str | None, range_tag: int) -> bool:
    """Whether a picture's Y'CbCr spans 0-255: always for the ``yuvj*`` formats, whatever their
    range tag (swscale's ``src_range |= handle_jpeg(&src_format)``, libswscale/utils.c), else
    when it is tagged full; untagged is limited."""
    return (pix_fmt or "").startswith("yuvj") or RANGE_NAMES.get(range_tag) == "pc"


def colour_of(
    pix_fmt: str | None, matrix_tag: int, range_tag: int, width: int, height: int
) -> SourceColour | None:
    """How to read a picture with these properties; None when it is not Y'CbCr or its tagged
    matrix is one FFmpeg's ``scale`` cannot be told about (it then reads the tag itself)."""
    if not is_yuv(pix_fmt):
        return None
    picture_range = "pc" if full_range(pix_fmt, range_tag) else "tv"
    if matrix_tag in UNSPECIFIED_MATRICES:
        return SourceColour(guessed_matrix(width, height), picture_range, tagged=False)
    name = MATRIX_NAMES.get(matrix_tag)
    return SourceColour(name, picture_range) if name is not None else None


def frame_colour(frame: av.VideoFrame) -> SourceColour | None:
    """``colour_of`` a decoded frame (its own tags and coded size)."""
    return colour_of(
        frame.format.name, int(frame.colorspace), int(frame.color_range), frame.width, frame.height
    )


_SWS_MATRIX = {
    "bt709": Colorspace.ITU709,
    "bt601": Colorspace.ITU601,
    "fcc": Colorspace.FCC,
    "smpte240m": Colorspace.SMPTE240M,
    "bt2020": Colorspace.BT2020,
}


def to_rgb(
    frame: av.VideoFrame, fmt: str = "rgb24", width: int | None = None, height: int | None = None
) -> npt.NDArray[np.uint8]:
    """``frame`` as an 8-bit RGB/BGR (``fmt``) array, optionally resized, its Y'CbCr read with
    ``frame_colour``: an untagged HD frame as BT.709, where ``frame.to_ndarray`` and a plain
    ``reformat`` would take BT.601."""
    colour = frame_colour(frame)
    options: dict[str, object] = {}
    if colour is not None and not colour.tagged:
        options["src_colorspace"] = _SWS_MATRIX[colour.matrix]
        if colour.range == "tv":  # full range (yuvj, tagged full) is swscale's own reading
            options["src_color_range"] = ColorRange.MPEG
    converted = reformat(frame, width=width, height=height, format=fmt, **options)
    return np.asarray(converted.to_ndarray(), dtype=np.uint8)


_kept = threading.local()


def reformat(frame: av.VideoFrame, **options: Any) -> av.VideoFrame:
    """``frame.reformat(**options)`` through this thread's one ``VideoReformatter``. PyAV's
    ``VideoFrame.reformat`` makes a new reformatter, so a new swscale context, for every frame:
    ten times the conversion itself for 96 px proxies of 320x180 frames (22 ms against 2.1 ms for
    48 frames, PyAV 18.1); a kept one builds its context again only when the sizes, formats
    or options change (``sws_getCachedContext``). The frames it returns are new each time."""
    reformatter = getattr(_kept, "reformatter", None)
    if reformatter is None:
        reformatter = _kept.reformatter = VideoReformatter()
    return reformatter.reformat(frame, **options)
