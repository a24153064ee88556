"""Burned-in captions beside cuts, on real 96x54 renders: a caption appearing or going a frame or
two from a cut changes more of the picture than a cut between two alike shots does, and a cue is
drawn from its start up to, not including, its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.frames import gray_frames
from media.runner import run_ffmpeg
from stitching import Captions, OutputProfile, assemble, plan_edit
from stitching.burn import burn
from stitching.captions import Cue
from stitching.edges import mad
from stitching.verify import check_captioned_joins
from tests.stitching.conftest import make_clip, normalise_all

SMALL = OutputProfile(96, 54, 24)  # the proxies' width: the captions are measured as drawn
CUT = 12
LINES = (
    "The ferry leaves at dawn and nobody on this dock is going to stop it, not the harbour "
    "master and not the rain."
)
# the first shot's cues end half a frame before frame 11, the second's start before frame 14
VOICES = {"s0": {"speech_s": [0.0, 10.5 / 24]}, "s1": {"speech_s": [1.5 / 24, 0.5]}}


@pytest.fixture(scope="module")
def plan(media: Path, tmp_path_factory: pytest.TempPathFactory):
    greys = [
        make_clip(media / f"grey{c}.mp4", f"color=c=0x{c}:s=96x54:r=24", "anullsrc=r=48000:cl=stereo",
                  seconds=1.0)
        for c in ("606060", "6c6c6c")
    ]  # fmt: skip
    work = tmp_path_factory.mktemp("burned_cuts")
    return plan_edit(normalise_all(greys, ["cut", "cut"], work, frames=CUT, profile=SMALL), SMALL)


@pytest.fixture(scope="module")
def burned(plan, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("burned_out") / "out.mp4"
    captions = Captions({"s0": LINES, "s1": LINES}, burn_in=True, voices=VOICES)
    return assemble(plan, out, captions=captions)


def _scores(path: Path) -> dict[int, float]:
    frames = gray_frames(path, range(2 * CUT), SMALL.rate)
    return {k: mad(frames[k], frames[k - 1]) for k in range(1, 2 * CUT)}


def test_captions_changing_beside_a_cut_do_not_pass_for_it(burned):
    scores = _scores(burned.path)
    # in the delivered picture the captions change more, one and two frames from the cut, than
    # the cut does: measured there, the cut looked misplaced and the stitch failed
    assert max(scores[CUT - 1], scores[CUT + 2]) > 2 * scores[CUT] > 0, scores
    assert burned.video_path.startswith("copy+captions:")
    checks = burned.verification["checks"]
    assert burned.verification["passed"], checks
    (join,) = checks["cuts"]["joins"]
    assert (join["frame"], join["detected"], join["misplaced"]) == (CUT, True, False)
    assert join["neighbours"] == 0.0  # the picture under the captions holds still beside the cut
    assert checks["captions_in_place"] == {
        "frames": 7, "displaced": [], "missing": [], "passed": True
    }  # fmt: skip


def _drop_frame(src: Path, index: int, out: Path) -> Path:
    """``src`` with frame ``index`` dropped and its last frame repeated: the frames after
    ``index`` come one frame early."""
    keep = f"select='not(eq(n\\,{index}))',setpts=N/FRAME_RATE/TB,tpad=stop=1:stop_mode=clone"
    run_ffmpeg(["-i", str(src), "-vf", keep, "-an", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(out)])  # fmt: skip
    return out


def test_a_burn_that_moved_the_cut_is_caught(burned, plan, tmp_path):
    picture = [(shot.segment.path, 0, shot.frames) for shot in plan.shots]
    files = [(burned.path, 0, plan.total_frames)]
    cuts, _, drawn = check_captioned_joins(plan, files, picture)
    assert cuts["passed"]
    assert drawn["passed"]
    moved = _drop_frame(burned.path, 5, tmp_path / "moved.mp4")
    assert _scores(moved)[CUT - 1] > 5  # the cut now sits a frame early in the file
    cuts, _, drawn = check_captioned_joins(plan, [(moved, 0, plan.total_frames)], picture)
    assert cuts["passed"]  # the picture it was drawn over is cut where planned...
    assert not drawn["passed"]  # ...but the delivered frames are not that picture's
    assert CUT - 1 in drawn["displaced"], drawn


@pytest.mark.parametrize("how", ["ass", "drawtext", "opencv"])
def test_a_cue_is_gone_from_the_frame_at_its_end(plan, tmp_path, how):
    """Cues are [start, end), as in the SRT, the WebVTT and libass: where one cue ends at a frame's
    time and the next begins, that frame shows the next cue alone (the first one too, drawn over
    it, by ``drawtext`` and ``overlay`` enabled through ``between``, which includes its end)."""
    cues = [Cue("s0", 0, 250, ("The ferry leaves at dawn.",), "speech"),
            Cue("s0", 250, 500, ("Nobody here will stop it.",), "speech")]  # fmt: skip
    out, used = burn(plan, plan.shots[0].segment.path, cues, tmp_path, only=how)
    assert used == how
    frames = gray_frames(out, range(4, 12), SMALL.rate)  # the picture is one still grey
    boundary = 6  # 0.25 s at 24 fps
    assert mad(frames[boundary - 1], frames[boundary - 2]) == pytest.approx(0, abs=0.5)
    assert mad(frames[boundary], frames[boundary - 1]) > 3  # the cue changed...
    assert mad(frames[boundary], frames[boundary + 1]) < 0.5  # ...to the next cue alone
    assert mad(frames[11], frames[boundary + 1]) < 0.5  # shown up to its end, 0.5 s
