"""The gate's RGB thumbnails (the frame checks' and the judge's pictures) read an untagged HD clip
as players show it: BT.709, not swscale's BT.601."""

from __future__ import annotations

import av

from quality.accumulate import thumb
from tests.media.flat import RED, flat_clip, off_by


def test_thumb_of_an_untagged_hd_clip_has_its_colour(tmp_path):
    src = flat_clip(tmp_path / "hd.mp4", (1280, 720), RED, "bt709", tag=False, frames=1)
    with av.open(str(src)) as container:
        picture = thumb(next(container.decode(video=0)), 160)
    assert picture.shape == (90, 160, 3)
    assert off_by(picture[45, 80], RED) <= 6, picture[45, 80]
