"""The preview/final agreement of a shot the final split: the part that shows the shot's middle
moment, read that far into it (``commit_versions._final_middle`` and ``middle_frame``)."""

from __future__ import annotations

import av
import numpy as np

from pipeline.commit_versions import _final_middle, middle_frame
from store.models import Shot

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def _board(**seconds: float) -> dict[str, object]:
    shots = [{"id": key, "duration": length} for key, length in seconds.items()]
    return {"scenes": [{"id": "s", "shots": shots}]}


def test_the_part_holding_the_middle_and_how_far_into_it():
    finals = {key: Shot(key=key) for key in ("k.part1", "k.part2", "k.part3")}
    parts = list(finals)
    two = _board(**{"k.part1": 10, "k.part2": 2})
    assert _final_middle(finals, two, parts[:2]) == (finals["k.part1"], 6.0)
    three = _board(**{"k.part1": 4, "k.part2": 4, "k.part3": 4})
    assert _final_middle(finals, three, parts) == (finals["k.part2"], 2.0)
    late = _board(**{"k.part1": 2, "k.part2": 8})
    assert _final_middle(finals, late, parts[:2]) == (finals["k.part2"], 3.0)


def test_a_frame_is_read_that_far_into_the_clip(tmp_path):
    clip = tmp_path / "rgb.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv444p"
        stream.codec_context.options = {"preset": "ultrafast", "qp": "0"}
        for index, colour in enumerate(COLOURS):
            image = np.full((64, 64, 3), colour, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    def shown(at_s: float | None) -> int:
        bgr = middle_frame(clip, at_s)[32, 32].astype(int)
        return int(np.argmin([np.abs(bgr[::-1] - c).sum() for c in COLOURS]))

    assert [shown(None), shown(0.0), shown(1 / 24), shown(2 / 24), shown(5.0)] == [1, 0, 1, 2, 2]
