"""The local renderers' HD clips say which matrix OpenCV converted them with (BT.601, limited
range), so the stitcher and players, which take untagged HD as BT.709, show their colours."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.animatic import render_animatic
from adapters.base import GenerationRequest
from adapters.still import render_still
from media.probe import probe
from stitching import OutputProfile, normalise
from tests.media.flat import RED, off_by

PROFILE = OutputProfile(1280, 720, 24)
"""The render's own size: a downscale in swscale's default (not ``accurate_rnd``) path loses 2-3
more levels of luma on the BT.601 -> BT.709 conversion."""
TOLERANCE = 8.0
"""Measured: (196, 26, 36) for (200, 30, 40), 4 levels off, tagged; (213, 45, 36), 15 off, when
the HD render went untagged and was read as BT.709."""


def _request(reference: Path) -> GenerationRequest:
    return GenerationRequest(
        shot_id="s1",
        prompt="a red wall",
        duration_s=0.25,
        width=1280,
        height=720,
        fps=8.0,
        model="local/animatic",
        reference_image=reference,
    )


def _median_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    return np.median(rgb.reshape(-1, 3), axis=0)


@pytest.mark.parametrize("render", [render_animatic, render_still], ids=["animatic", "still"])
def test_hd_render_reads_back_with_its_colours(render, tmp_path):
    reference = tmp_path / "red.png"
    cv2.imwrite(str(reference), np.full((720, 1280, 3), RED[::-1], np.uint8))
    clip = render(_request(reference), tmp_path / "clip.mp4")
    info = probe(clip)
    assert info.colour is not None
    assert (info.colour.matrix, info.colour.range, info.colour.tagged) == ("bt601", "tv", True)
    segment = normalise(clip, PROFILE, 2, tmp_path / "seg.mp4")
    measured = _median_rgb(segment.path)  # the red background: the disc and text are small
    assert off_by(measured, RED) <= TOLERANCE, f"{measured} for {RED}"
