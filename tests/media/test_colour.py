"""``media.colour``: a picture's matrix from its tag, else mpv's size rule; RGB read with it."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from media.colour import SourceColour, colour_of, guessed_matrix, reformat, to_rgb
from media.frames import proxy_frames
from tests.media.flat import RED, flat_clip, off_by


@pytest.mark.parametrize(
    ("width", "height", "matrix"),
    [
        (1280, 720, "bt709"),
        (1920, 1080, "bt709"),
        (1280, 536, "bt709"),  # scope HD: wide enough
        (1024, 578, "bt709"),  # more than 576 lines
        (720, 576, "bt601"),  # PAL
        (640, 480, "bt601"),  # NTSC-ish
        (160, 90, "bt601"),
    ],
)
def test_untagged_matrix_follows_the_players_rule(width, height, matrix):
    assert guessed_matrix(width, height) == matrix


def test_a_tag_wins_and_ranges_follow_the_format():
    assert colour_of("yuv420p", 6, 0, 1920, 1080) == SourceColour("bt601", "tv")  # SMPTE 170M
    assert colour_of("yuv420p", 1, 2, 320, 180) == SourceColour("bt709", "pc")
    untagged = SourceColour("bt601", "pc", tagged=False)
    assert colour_of("yuvj420p", 2, 0, 640, 480) == untagged  # JPEG formats are full range
    assert colour_of("yuv420p", 2, 0, 640, 480) == SourceColour("bt601", "tv", tagged=False)
    assert colour_of("rgb24", 2, 0, 1920, 1080) is None  # no matrix to choose
    assert colour_of("yuv420p", 8, 1, 1920, 1080) is None  # YCgCo: left to FFmpeg


def test_a_jpeg_format_is_full_range_whatever_its_range_tag_says():
    """swscale forces full range on the ``yuvj*`` formats (``src_range |= handle_jpeg(...)`` in
    libswscale/utils.c), so a stray limited tag must not change how the stitcher or the gate read
    them: both ask ``colour_of``/``full_range`` and must agree with what FFmpeg does."""
    assert colour_of("yuvj420p", 1, 1, 1920, 1080) == SourceColour("bt709", "pc")
    assert colour_of("yuvj444p", 2, 1, 640, 480) == SourceColour("bt601", "pc", tagged=False)


def test_to_rgb_reads_an_untagged_hd_frame_as_bt709(tmp_path):
    src = flat_clip(tmp_path / "hd.mp4", (1280, 720), RED, "bt709", tag=False, frames=1)
    with av.open(str(src)) as container:
        frame = next(container.decode(video=0))
        plain = frame.to_ndarray(format="rgb24")[360, 640]
        rgb = to_rgb(frame, "rgb24", 320, 180)[90, 160]
        bgr = to_rgb(frame, "bgr24")[360, 640]
    assert off_by(plain, RED) > 15  # what swscale does left to itself (BT.601)
    assert off_by(rgb, RED) <= 6
    assert off_by(bgr[::-1], RED) <= 6


def test_proxy_frames_in_colour_read_an_untagged_hd_clip_as_bt709(tmp_path):
    src = flat_clip(tmp_path / "hd.mp4", (1280, 720), RED, "bt709", tag=False)
    bgr = proxy_frames(src, [0, 1], Fraction(24), 96, "bgr24")
    assert off_by(bgr[1][27, 48][::-1], RED) <= 6
    assert proxy_frames(src, [0], Fraction(24))[0].shape == (54, 96)  # grey: unchanged


def test_the_kept_reformatter_converts_as_a_fresh_one_whatever_the_options_before(tmp_path):
    """``reformat`` keeps one swscale context per thread: its frames are new ones, equal to what
    PyAV's own per-frame reformatter makes, and a change of matrix between calls is honoured."""
    src = flat_clip(tmp_path / "hd.mp4", (1280, 720), RED, "bt709", tag=False, frames=3)
    with av.open(str(src)) as container:
        frames = list(container.decode(video=0))
    kept = [reformat(f, width=96, height=54, format="gray") for f in frames]
    fresh = [f.reformat(width=96, height=54, format="gray").to_ndarray() for f in frames]
    assert len({id(f) for f in kept}) == len(frames)
    assert all(np.array_equal(k.to_ndarray(), f) for k, f in zip(kept, fresh, strict=True))
    corrected = to_rgb(frames[0], "rgb24", 320, 180)[90, 160]  # BT.709 asked for
    plain = reformat(frames[0], width=320, height=180, format="rgb24").to_ndarray()[90, 160]
    assert off_by(corrected, RED) <= 6
    assert off_by(plain, RED) > 15  # the same context, now without the matrix: BT.601 again


def test_to_rgb_honours_a_full_range_tag_on_an_untagged_matrix():
    """A frame whose matrix is untagged but whose range is tagged full is read full, as the
    stitcher's ``scale`` reads it (``colour_of``: ``in_range=pc``); it was forced limited, so a
    Y of 235 came out 255 in the gate's thumbnails and 235 in the output."""
    planes = np.concatenate([np.full(16 * 16, 235, np.uint8), np.full(128, 128, np.uint8)])
    frame = av.VideoFrame.from_ndarray(planes.reshape(24, 16), format="yuv420p")
    frame.color_range = 2  # AVCOL_RANGE_JPEG
    assert colour_of("yuv420p", 2, 2, 16, 16) == SourceColour("bt601", "pc", tagged=False)
    assert to_rgb(frame)[0, 0].tolist() == [235, 235, 235]
    frame.color_range = 0  # untagged: limited
    assert to_rgb(frame)[0, 0].tolist() == [255, 255, 255]
