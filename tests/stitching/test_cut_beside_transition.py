"""Joins beside another join's planned change: a faint cut a frame or two from a crossfade's last
step into a short shot (or the first step of the crossfade out of it) is where the plan put it,
not misplaced; a short shot under most of the next shot's fade is not black introduced at its
cut. A cut that really moved is still caught. Real 96x54 renders of flat greys."""

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


def _plan(
    media: Path, work: Path, shots: list[tuple[str, int, str]], profile: OutputProfile = SMALL
) -> EditPlan:
    """Flat grey shots ``(shade, frames, transition into it)`` normalised and planned."""
    parsed = [Transition.parse(t) for _, _, t in shots]
    counts = [n for _, n, _ in shots]
    edges = keyframe_hints(parsed, counts, profile)
    offsets = sample_offsets(parsed, counts, profile)
    items = []
    for i, (shade, frames, _) in enumerate(shots):
        clip = make_clip(media / f"grey{shade}.mp4", f"color=c=0x{shade}:s=96x54:r=24",
                         "anullsrc=r=48000:cl=stereo", seconds=0.5)  # fmt: skip
        head, tail = edges[i]
        segment = normalise(clip, profile, frames, work / f"s{i}.mp4", head_frames=head,
                            tail_frames=tail, sample_offset=offsets[i])  # fmt: skip
        items.append((f"s{i}", segment, parsed[i]))
    return plan_edit(items, profile)


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


def test_a_short_shot_under_the_next_fade_is_not_black_at_its_cut(media, tmp_path):
    """A 14-frame shot at 48 fps whose next shot fades in over 0.25 s (12 frames, from its third
    frame): the dip to black is the fade's, inside the cut's margin of 6 frames."""
    fast = OutputProfile(96, 54, 48)
    shots = [("808080", 16, "cut"), (LIGHT, 14, "cut"), ("606060", 16, "fade:0.25")]
    plan = _plan(media, tmp_path, shots, fast)
    assert plan.shots[2].timeline_in - plan.shots[1].timeline_in < fast.verify_margin
    result = assemble(plan, tmp_path / "out.mp4")  # raised VerificationError: black run at s1
    clean = result.verification["checks"]["joins_clean"]
    assert clean["passed"], clean
    assert clean["joins"][0]["black_run"] == 0, clean  # the fade's black is the fade's join's


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_join_inside_busy_motion_is_not_misplaced(media, tmp_path, seed):
    """Two shots whose every frame moves far from the last (grain over grey, as a busy animatic or
    a ``continues`` shot out of one): the join changes the picture no more than the shots' own
    motion, so no cut is seen and none is misplaced. Before, any frame of that motion in the
    window scoring over the join's made it misplaced: an explorer board failed so at its stitch,
    after every shot was paid."""
    profile = OutputProfile(96, 54, 12.5)
    items = []
    for i in range(2):
        grain = f"noise=alls=40:allf=t:all_seed={seed * 10 + i}"
        clip = make_clip(media / f"grain-{seed}-{i}.mp4", "color=c=0x808080:s=96x54:r=12.5",
                         "anullsrc=r=48000:cl=stereo", 1.0, vf=grain)  # fmt: skip
        segment = normalise(clip, profile, 12, tmp_path / f"s{i}.mp4")
        items.append((f"s{i}", segment, Transition.parse("cut")))
    plan = plan_edit(items, profile)
    result = assemble(plan, tmp_path / "out.mp4")  # raised VerificationError: cut misplaced
    (join,) = result.verification["checks"]["cuts"]["joins"]
    assert join["score"] >= 6.0, join  # the join changes the picture as much as a faint cut
    assert not join["detected"], join  # but no more than the grain does around it
    assert not join["misplaced"], join
