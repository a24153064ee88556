"""The animatic's text is legible in every aspect ratio and palette, measured on decoded frames.

Each clip is rendered twice, the second time with ``cv2.putText`` drawing nothing; where the
two decodes differ is the text. Its bounding box must keep a margin from every edge (nothing
clipped), and in each block of text (the title at the top, the frame stamp at the bottom) the WCAG
contrast ratio between the text pixels and what is behind them (the same pixels of the glyph-free
decode) must be at least 4.5:1.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from adapters.animatic import _captions, render_animatic
from adapters.base import GenerationRequest
from media.caption import contrast_ratio, relative_luminance

SIZES = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480), "4:5": (384, 480)}
PALETTES = {  # prompts longer than the four lines the animatic used to cut them to in 9:16
    "light": "a snow field at noon, a lone skier in a red jacket crosses slowly toward the camera "
    "while powder drifts across the frame",
    "dark": "a detective in a rainy city street at night, neon signs reflecting in puddles as a "
    "tram passes behind her, slow push in",
}
SHOT = "s3-rooftop-chase"
FRAMES = (0, 5, 11)
MARGIN = 0.02  # of the shorter side: the space the text must keep from every edge


def _decode(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)
        ]


def _render(
    request: GenerationRequest, out: Path, glyphs: bool, monkeypatch: pytest.MonkeyPatch
) -> list[npt.NDArray[np.uint8]]:
    with monkeypatch.context() as patch:
        if not glyphs:
            patch.setattr(cv2, "putText", lambda image, *_args, **_kwargs: image)
        return _decode(render_animatic(request, out))


def _blocks(text: npt.NDArray[np.bool_], height: int) -> list[slice]:
    """Row ranges of text separated by more than 8% of the frame's height."""
    rows = np.flatnonzero(text.any(axis=1))
    cuts = np.flatnonzero(np.diff(rows) > 0.08 * height)
    starts, ends = [rows[0], *rows[cuts + 1]], [*rows[cuts], rows[-1]]
    return [slice(int(a), int(b) + 1) for a, b in zip(starts, ends, strict=True)]


@pytest.mark.parametrize("palette", sorted(PALETTES))
@pytest.mark.parametrize("ratio", sorted(SIZES))
def test_text_fits_the_frame_and_contrasts(tmp_path, monkeypatch, ratio, palette):
    width, height = SIZES[ratio]
    request = GenerationRequest(
        shot_id=SHOT,
        prompt=PALETTES[palette],
        duration_s=1.0,
        width=width,
        height=height,
        fps=12.0,
        model="local/animatic",
        seed=11,
    )
    shown = _render(request, tmp_path / "text.mp4", True, monkeypatch)
    blank = _render(request, tmp_path / "blank.mp4", False, monkeypatch)
    assert len(shown) == len(blank) == 12
    mean = float(np.mean(relative_luminance(blank[0])))
    assert (mean > 0.4) == (palette == "light"), f"{palette} palette has mean luminance {mean:.2f}"
    margin = max(4, round(MARGIN * min(width, height)))
    for index in FRAMES:
        where = f"{ratio} {palette} frame {index}"
        lum_text = relative_luminance(shown[index])
        lum_behind = relative_luminance(blank[index])
        diff = np.abs(lum_text - lum_behind)
        text = diff > 0.5 * np.percentile(diff, 99.9)
        ys, xs = np.nonzero(text)
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        assert box[0] >= margin, f"{where}: text box {box}"
        assert box[1] >= margin, f"{where}: text box {box}"
        assert box[2] <= width - 1 - margin, f"{where}: text box {box}"
        assert box[3] <= height - 1 - margin, f"{where}: text box {box}"
        blocks = _blocks(text, height)
        assert len(blocks) == 2, f"{where}: expected the title and the stamp, found {blocks}"
        for rows in blocks:
            found = contrast_ratio(
                float(np.median(lum_text[rows][text[rows]])),
                float(np.median(lum_behind[rows][text[rows]])),
            )
            assert found >= 4.5, f"{where} rows {rows.start}-{rows.stop}: contrast {found:.2f}"


@pytest.mark.parametrize("ratio", sorted(SIZES))
def test_every_word_of_heading_and_prompt_is_laid_out(ratio):
    width, height = SIZES[ratio]
    base = np.full((height, width, 3), 128, np.uint8)
    for prompt in PALETTES.values():
        request = GenerationRequest(
            shot_id=SHOT,
            prompt=prompt,
            duration_s=1.0,
            width=width,
            height=height,
            fps=12.0,
            model="local/animatic",
        )
        [(title, title_is_stamp), (_, stamp_is_stamp)] = _captions(request, base, 12)
        assert (title_is_stamp, stamp_is_stamp) == (False, True)
        assert not title.block.truncated
        words = " ".join(line.text for line in title.block.lines).split()
        assert words == f"SHOT {SHOT} {prompt}".split()


@pytest.mark.parametrize("size", [(64, 36), (36, 64), (16, 16)])
def test_a_frame_too_small_for_legible_text_renders_without_it(tmp_path, size):
    """A strict emulator renders 64x36 clips: text that cannot fit is left out, not an error."""
    width, height = size
    request = GenerationRequest(
        shot_id=SHOT, prompt=PALETTES["dark"], duration_s=0.5, width=width, height=height,
        fps=12.0, model="local/animatic", dialogue="We leave at dawn.",
    )  # fmt: skip
    frames = _decode(render_animatic(request, tmp_path / "tiny.mp4"))
    assert len(frames) == 6
    assert frames[0].shape == (height, width, 3)
    for caption, _ in _captions(request, np.zeros((height, width, 3), np.uint8), 6):
        x0, y0, x1, y1 = caption.block.box
        assert 0 <= x0 < x1 <= width
        assert 0 <= y0 < y1 <= height
