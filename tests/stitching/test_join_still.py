"""A still that runs across a cut, measured as ``longest_still`` measures it: each frame against
the one the run started on. Found by ``benchmarks/explore_boards.py`` (seed 12062): a 34x34 board
at 47.952 fps failed at stitching, after every shot was paid, on a cut whose output held still
for 6 frames, judged against the larger edge's 4 alone: the sum of the edges counts only where
the cut goes on with the still, and that was judged on the cut's two frames, not as the run is."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation.storyboard import Transition
from stitching import OutputProfile, Segment, plan_edit
from stitching.edges import longest_still, mad
from stitching.verify import join_checks

PROFILE = OutputProfile(160, 90, 48)  # 6 frames judged either side of a join
FRAMES = 48
SIDE = 10


def _segment(name: str, head_frozen: int, tail_frozen: int) -> Segment:
    return Segment(
        path=Path(f"/nowhere/{name}.mp4"), audio_path=Path(f"/nowhere/{name}.f32"),
        frames=FRAMES, samples=PROFILE.samples_for(FRAMES), width=PROFILE.width,
        height=PROFILE.height, fps=str(PROFILE.rate), codec="h264", codec_profile="High",
        pix_fmt="yuv420p", sar="1", time_base="1/24000", extradata_sha="x", audio_codec="aac",
        audio_rate=48000, audio_layout="stereo", keyframes=(0,), head_frozen=head_frozen,
        tail_frozen=tail_frozen,
    )  # fmt: skip


def _moving(index: int) -> np.ndarray:
    return np.full((SIDE, SIDE), 20 + 7 * (index % 20), np.uint8)


def _timeline(head_still: int) -> dict[int, np.ndarray]:
    """Frames around the cut at ``FRAMES``: moving, then the earlier shot's two still frames (the second
    0.4 from the first), then the later shot's ``head_still`` frames (0.4 from the run's first
    frame on other pixels: 0.8 from the frame before the cut), then moving again."""
    still = np.full((SIDE, SIDE), 100, np.uint8)
    lifted, lowered = still.copy(), still.copy()
    lifted.flat[:40] += 1
    lowered.flat[60:] -= 1
    frames = {k: _moving(k) for k in range(0, 2 * FRAMES)}
    frames[FRAMES - 2], frames[FRAMES - 1] = still, lifted
    for k in range(FRAMES, FRAMES + head_still):
        frames[k] = lowered
    return frames


def _join(frames: dict[int, np.ndarray], head_frozen: int) -> dict[str, object]:
    plan = plan_edit(
        [("a", _segment("a", 1, 2), Transition.parse("cut")),
         ("b", _segment("b", head_frozen, 1), Transition.parse("cut"))],
        PROFILE,
    )  # fmt: skip
    _, clean = join_checks(plan, frames, PROFILE.verify_margin)
    join: dict[str, object] = clean["joins"][0]
    return join


def test_a_still_across_a_cut_is_explained_by_both_edges() -> None:
    frames = _timeline(head_still=4)
    assert mad(frames[FRAMES - 1], frames[FRAMES]) >= 0.5  # the two frames at the cut differ
    assert longest_still([frames[k] for k in range(FRAMES - 6, FRAMES + 6)]) == 6  # yet it runs on
    join = _join(frames, head_frozen=4)
    assert (join["frozen_run"], join["source_frozen_run"]) == (6, 6)
    assert join["clean"], join


def test_a_still_the_edges_do_not_hold_is_still_refused() -> None:
    """The same picture, but the later segment's own edge holds one frame, not four: the run
    across the cut is longer than its sources explain."""
    join = _join(_timeline(head_still=4), head_frozen=1)
    assert (join["frozen_run"], join["source_frozen_run"]) == (6, 3)
    assert not join["clean"], join
