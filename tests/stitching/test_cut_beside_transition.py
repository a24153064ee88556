"""A faint cut a frame or two from another join's planned change (a crossfade's last step into a
short shot, the first step of the crossfade out of it) is where the plan put it, not misplaced;
a cut that really moved is still caught. Real 96x54 renders of flat greys."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching import EditPlan, OutputProfile, assemble, normalise, plan_edit
from stitching.assembly import keyframe_hints, sample_offsets
from stitching.verify import check_joins
from tests.stitching.conftest import make_clip

SMALL = OutputProfile(96, 54, 24)
DARK, LIGHT, FAINT = "202020", "a0a0a0", "a8a8a8"  # LIGHT -> FAINT: a cut scoring 8, just over 6


def _plan(media: Path, work: Path, shots: list[tuple[str, int, str]]) -> EditPlan:
    """Flat grey shots ``(shade, frames, transition into it)`` normalised and planned."""
    parsed = [Transition.parse(t) for _, _, t in shots]
    counts = [n for _, n, _ in shots]
    edges = keyframe_hints(parsed, counts, SMALL)
    offsets = sample_offsets(parsed, counts, SMALL)
    items = []
    for i, (shade, frames, _) in enumerate(shots):
        clip = make_clip(media / f"grey{shade}.mp4", f"color=c=0x{shade}:s=96x54:r=24",
                         "anullsrc=r=48000:cl=stereo", seconds=0.5)  # fmt: skip
        head, tail = edges[i]
        segment = normalise(clip, SMALL, frames, work / f"s{i}.mp4", head_frames=head,
                            tail_frames=tail, sample_offset=offsets[i])  # fmt: skip
        items.append((f"s{i}", segment, parsed[i]))
    return plan_edit(items, SMALL)


CASES = {
    "crossfade ends 2 frames before": [(DARK, 8, "cut"), (LIGHT, 7, "crossfade:0.2"),
                                       (FAINT, 8, "cut")],
    "crossfade ends 1 frame before": [(DARK, 8, "cut"), (LIGHT, 6, "crossfade:0.2"),
                                      (FAINT, 8, "cut")],
    "crossfade starts 1 frame after": [(LIGHT, 8, "cut"), (FAINT, 6, "cut"),
                                       (DARK, 8, "crossfade:0.2")],
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_faint_cut_beside_a_planned_change_is_found_not_misplaced(media, tmp_path, case):
    plan = _plan(media, tmp_path, CASES[case])
    result = assemble(plan, tmp_path / "out.mp4")  # raised VerificationError: cut misplaced
    cuts = result.verification["checks"]["cuts"]
    faint = next(join for join in cuts["joins"] if join["score"] < 20)
    assert faint["score"] >= 6.0, cuts
    assert faint["detected"], cuts
    assert cuts["passed"], cuts


def test_a_cut_moved_a_frame_beside_a_planned_change_is_misplaced(media, tmp_path):
    plan = _plan(media, tmp_path, CASES["crossfade ends 2 frames before"])
    out = assemble(plan, tmp_path / "out.mp4").path
    cut = plan.shots[2].timeline_in
    moved = tmp_path / "moved.mp4"  # frame cut-1 dropped: the cut comes a frame early
    keep = f"select='not(eq(n\\,{cut - 1}))',setpts=N/FRAME_RATE/TB,tpad=stop=1:stop_mode=clone"
    run_ffmpeg(["-i", str(out), "-vf", keep, "-an", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(moved)])  # fmt: skip
    assert check_joins(plan, out)[0]["passed"]
    cuts, _ = check_joins(plan, moved)
    assert not cuts["passed"], cuts
    assert cuts["joins"][0]["misplaced"], cuts
