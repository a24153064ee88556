"""A transition window at an NTSC rate is muxed (found by ``benchmarks/explore_boards.py``: a
0.966 s shot wiped in 0.2 s into a 2 s one at 59.94 fps failed the stitch after every shot was
paid for: ``ArgumentError: Invalid argument`` from the muxer). ``xfade`` timed the window's
frames off the frame grid and the encoder kept them so, and the window's first decode time fell
on the previous piece's; it happened when the window was made in a neighbour's normalise run
(``normalise_between``), which of the two shots arrives last decides."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from foundation.storyboard import Transition
from stitching import OutputProfile, assemble, normalise, normalise_between, plan_edit
from stitching.assembly import keyframe_hints, sample_offsets
from tests.stitching.conftest import make_clip

NTSC = OutputProfile(90, 160, Fraction(60000, 1001))
PICTURES = ["testsrc2", "smptebars", "rgbtestsrc"]
COUNTS = [58, 120, 15]  # 0.966 s, 2 s and 0.25 s at 59.94 fps
KINDS = [Transition.parse(k) for k in ("cut", "wipe:0.2", "cut")]


@pytest.mark.parametrize("last", [0, 1])
def test_a_wipe_at_59_94_fps_made_in_a_normalise_run_is_muxed(media, tmp_path, last):
    hints = keyframe_hints(KINDS, COUNTS, NTSC)
    offsets = sample_offsets(KINDS, COUNTS, NTSC)
    sources = [make_clip(media / f"ntsc{i}.mp4", f"{PICTURES[i]}=s=90x160:r=24",
                         seconds=n / 59.94 + 0.1) for i, n in enumerate(COUNTS)]  # fmt: skip
    (tmp_path / "seg").mkdir()
    segments = {}
    for i in [i for i in range(3) if i != last]:
        segments[i] = normalise(sources[i], NTSC, COUNTS[i], tmp_path / "seg" / f"s{i}.mp4",
                                head_frames=hints[i][0], tail_frames=hints[i][1],
                                sample_offset=offsets[i])  # fmt: skip
    joined = {"before": (segments[0], KINDS[1])} if last else {"after": (segments[1], KINDS[1])}
    segments[last] = normalise_between(
        sources[last], NTSC, COUNTS[last], tmp_path / "seg" / f"s{last}.mp4",
        hints=hints[last], sample_offset=offsets[last], **joined,  # type: ignore[arg-type]
    )  # fmt: skip
    items = [(f"s{i}", segments[i], KINDS[i]) for i in range(3)]
    result = assemble(plan_edit(items, NTSC), tmp_path / "out.mp4")
    assert result.verification["passed"], result.verification
    with av.open(str(result.path)) as container:
        stamps = sorted(p.pts or 0 for p in container.demux(video=0) if p.size)
    assert stamps == [n * NTSC.frame_ticks for n in range(sum(COUNTS) - 12)]
