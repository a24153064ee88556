"""The stitcher reads a source's Y'CbCr with its tagged matrix, else the one players assume for its
size (``media.colour``): an untagged HD clip is BT.709, not swscale's BT.601."""

from __future__ import annotations

import pytest

from media.probe import probe
from stitching import normalise
from tests.media.flat import RED, centre_rgb, flat_clip, off_by
from tests.stitching.conftest import PROFILE

TOLERANCE = 8.0
"""Measured after the fix: 2-5 levels off (4:2:0 chroma, limited range, the profile's CRF);
before it, the untagged 1280x720 red came out 22 levels off (179, 8, 34 for 200, 30, 40)."""


@pytest.mark.parametrize(
    ("size", "matrix", "tag"),
    [
        ((1280, 720), "bt709", False),  # untagged HD: players show BT.709
        ((640, 480), "bt601", True),  # tagged BT.601 SD
        ((320, 180), "bt709", True),  # tagged BT.709 below HD size: the tag wins over the size
        ((720, 576), "bt601", False),  # untagged PAL SD: BT.601
    ],
    ids=["untagged-hd-709", "tagged-sd-601", "tagged-small-709", "untagged-sd-601"],
)
def test_normalised_colour_matches_the_source(size, matrix, tag, tmp_path):
    src = flat_clip(tmp_path / "src.mp4", size, RED, matrix, tag=tag)
    info = probe(src)
    assert info.colour is not None
    assert info.colour.matrix == matrix
    assert info.colour.tagged is tag
    assert info.colour.range == "tv"
    segment = normalise(src, PROFILE, 2, tmp_path / "seg.mp4")
    rgb, matrix_tag = centre_rgb(segment.path)
    assert matrix_tag == 1  # the output says BT.709, and PyAV decodes it so
    assert off_by(rgb, RED) <= TOLERANCE, f"{rgb.round(1)} for {RED}"
