"""The contact sheet: every tile is copied untouched (its labels cover none of the picture, such as
the animatic's heading), each label sits on a strip of its own, fits its width and contrasts."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.animatic import render_animatic
from adapters.base import GenerationRequest
from media.caption import contrast_ratio, relative_luminance
from stitching import assemble, plan_edit
from stitching.sheet import COLUMNS, STRIP, contact_sheet, label_strip
from tests.stitching.conftest import PROFILE, normalise_all


def _animatic_frame(tmp_path: Path, size: tuple[int, int], name: str) -> np.ndarray:
    request = GenerationRequest(
        shot_id=name,
        prompt="a snow field at noon, a lone skier crosses toward the camera",
        duration_s=0.5,
        width=size[0],
        height=size[1],
        fps=12.0,
        model="local/animatic",
    )
    with av.open(str(render_animatic(request, tmp_path / f"{name}.mp4"))) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


@pytest.mark.parametrize("size", [(320, 180), (180, 320), (144, 144)])
def test_tiles_are_untouched_and_labels_sit_below(tmp_path, size):
    tiles = [_animatic_frame(tmp_path, size, f"s{i}-establishing-wide") for i in range(5)]
    labels = [f"s{i}-establishing-wide @ {i * 4.25:.2f}s" for i in range(5)]
    sheet = contact_sheet(tiles, labels)
    width, height = size
    strip = label_strip(labels[0], width).shape[0]
    assert sheet.shape == (2 * (height + strip), COLUMNS * width, 3)
    for index, tile in enumerate(tiles):
        top, left = (index // COLUMNS) * (height + strip), (index % COLUMNS) * width
        assert np.array_equal(sheet[top : top + height, left : left + width], tile), index
        label = sheet[top + height : top + height + strip, left : left + width]
        assert np.array_equal(label, label_strip(labels[index], width))


@pytest.mark.parametrize("width", [96, 144, 320])
@pytest.mark.parametrize("text", ["s1 @ 0.00s", "a-very-long-shot-identifier-indeed @ 123.45s"])
def test_label_fits_its_strip_and_contrasts(width, text):
    strip = label_strip(text, width)
    ink = (strip != np.array(STRIP, np.uint8)).any(axis=2)
    ys, xs = np.nonzero(ink)
    assert xs.size > 20, "no label drawn"
    assert xs.min() >= 2
    assert xs.max() <= width - 3, f"label runs to x={xs.max()} in {width} px"
    assert ys.min() >= 1
    assert ys.max() <= strip.shape[0] - 2
    core = relative_luminance(strip[ink]) > 0.5 * relative_luminance(strip[ink]).max()
    found = contrast_ratio(
        float(np.median(relative_luminance(strip[ink][core]))),
        float(relative_luminance(np.array(STRIP))),
    )
    assert found >= 4.5, found


def test_written_sheet_keeps_each_shots_picture(shots, tmp_path):
    items = normalise_all(shots, ["cut", "cut", "cut"], tmp_path / "seg")
    result = assemble(plan_edit(items, PROFILE), tmp_path / "out.mp4")
    sheet = cv2.imread(str(result.contact_sheet))
    assert sheet is not None
    for index, (_, segment, _) in enumerate(items):
        tile = cv2.imread(str(segment.path.with_suffix(".tile.jpg")))
        assert tile is not None
        region = sheet[: tile.shape[0], index * tile.shape[1] : (index + 1) * tile.shape[1]]
        error = np.abs(region.astype(int) - tile.astype(int))
        corner = error[: tile.shape[0] // 4, : tile.shape[1] // 2].mean()  # where headings sit
        assert error.mean() < 8.0, (
            f"shot {index}: the sheet differs from its tile by {error.mean():.1f}"
        )
        assert corner < 8.0, f"shot {index}: the top-left corner differs by {corner:.1f}"
