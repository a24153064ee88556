"""A still that runs across a cut, measured as ``longest_still`` measures it: each frame against
the one the run started on. Found by ``benchmarks/explore_boards.py`` (seed 12062): a 34x34 board
at 47.952 fps failed at stitching, after every shot was paid, on a cut whose output held still
for 6 frames, judged against the larger edge's 4 alone: the sum of the edges counts only where
the cut goes on with the still, and that was judged on the cut's two frames, not as the run is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from foundation.storyboard import Transition
from stitching import OutputProfile, Segment, plan_edit
from stitching.crossed import FADE_NOISE, crossfade_stretch
from stitching.edges import edges_path, longest_still, mad
from stitching.verify import join_checks
from tests.stitching.conftest import drawn_and_rendered

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


PIXELS = SIDE * SIDE


def _levels(lifted: int) -> np.ndarray:
    """A still picture with its first ``lifted`` pixels one level up (``mad`` between two such
    pictures: the difference of their counts over ``PIXELS``)."""
    frame = np.full((SIDE, SIDE), 100, np.uint8)
    frame.flat[:lifted] += 1
    return frame


def _saved(tmp_path: Path, name: str, frames: dict[int, np.ndarray]) -> Segment:
    """A segment whose edge proxies (``edges.save_edges``' file) are ``frames``."""
    segment = replace(_segment(name, 0, 0), path=tmp_path / f"{name}.mp4", video_sha=name)
    indices = sorted(frames)
    with edges_path(segment.path).open("wb") as handle:
        np.savez(handle, indices=np.array(indices), frames=np.stack([frames[i] for i in indices]),
                 digest=np.array(name))  # fmt: skip
    return segment


def _flicker_across_the_cut(tmp_path: Path) -> tuple[Segment, Segment, dict[int, np.ndarray]]:
    """The earlier shot moves until its last frame; the later one flickers for 6 frames between
    two pictures 0.5 apart (neither edge holds still by itself), each 0.4 or less from the earlier
    shot's last frame: across the cut they hold still together, measured from that frame, for 7
    frames."""
    tenth = PIXELS // 10
    last = _levels(5 * tenth)
    head = {k: _levels(6 * tenth if k % 2 else tenth) for k in range(FRAMES)}
    tail = {k: _moving(k) for k in range(FRAMES)} | {FRAMES - 1: last}
    timeline = {k: tail[k] for k in range(FRAMES)} | {FRAMES + k: head[k] for k in range(FRAMES)}
    for k in range(FRAMES + 6, 2 * FRAMES):
        timeline[k] = _moving(k)
    head |= {k: timeline[FRAMES + k] for k in range(6, FRAMES)}
    return _saved(tmp_path, "a", tail), _saved(tmp_path, "b", head), timeline


def test_a_still_only_the_two_shots_together_hold_is_explained_by_their_frames(tmp_path):
    """Found by ``benchmarks/explore_boards.py`` (seed 12069): a 32x32 commit at 119.88 fps
    failed at stitching after its shots were paid, its cut holding still for 8 frames against
    the 6 its edges explained: each edge's run is measured from its own first frame, the run
    across the cut from the earlier shot's frame, so it can outlast their sum. A cut copies the
    segments' frames: the run their own frames make back to back is the one expected."""
    first, second, timeline = _flicker_across_the_cut(tmp_path)
    assert longest_still([timeline[k] for k in range(FRAMES, FRAMES + 6)]) == 0
    plan = plan_edit([("a", first, Transition.parse("cut")), ("b", second, Transition.parse("cut"))],
                     PROFILE)  # fmt: skip
    _, clean = join_checks(plan, timeline, PROFILE.verify_margin)
    (join,) = clean["joins"]
    assert (join["frozen_run"], join["source_frozen_run"], join["mixed_frozen_run"]) == (7, 0, 7)
    assert join["mix_stray"] == 0.0
    assert join["clean"], join


def test_a_frame_the_cut_repeats_is_still_refused(tmp_path):
    """The same cut, but the output shows the earlier shot's last picture three more times
    before it: not the segments' frames, and a still longer than theirs."""
    first, second, timeline = _flicker_across_the_cut(tmp_path)
    for k in range(FRAMES - 4, FRAMES - 1):
        timeline[k] = timeline[FRAMES - 1]
    plan = plan_edit([("a", first, Transition.parse("cut")), ("b", second, Transition.parse("cut"))],
                     PROFILE)  # fmt: skip
    _, clean = join_checks(plan, timeline, PROFILE.verify_margin)
    (join,) = clean["joins"]
    assert (join["frozen_run"], join["mixed_frozen_run"]) == (10, 7)
    assert not join["clean"], join


def _flickering_patch(k: int) -> np.ndarray:
    """Black but for a 3-pixel patch at level 120, the rest flickering by 3 levels a frame."""
    frame = np.full((SIDE, SIDE), 3 * (k % 2), np.uint8)
    frame.flat[:3] = 120
    return frame


def _fade_join(tmp_path: Path, hold: float) -> dict[str, object]:
    """A 0.5 s fade through black between two shots of ``_flickering_patch`` (neither holds
    still) whose output, in the fade, holds each frame while the fade drawn on the proxies moves
    by less than ``hold`` grey levels from it (as x264 holds a picture that barely changes)."""
    frames = {k: _flickering_patch(k) for k in range(FRAMES)}
    first = _saved(tmp_path, "a", frames)
    second = _saved(tmp_path, "b", {k: _flickering_patch(k + 1) for k in range(FRAMES)})
    plan = plan_edit([("a", first, Transition.parse("cut")),
                      ("b", second, Transition.parse("fade:0.5"))], PROFILE)  # fmt: skip
    previous, shot = plan.shots
    timeline = range(plan.total_frames)
    drawn = crossfade_stretch(previous, shot, timeline, PROFILE)
    assert drawn is not None
    fade = range(shot.timeline_in, shot.timeline_in + shot.transition_frames)
    output, held = {}, drawn[0]
    for t, frame in zip(timeline, drawn, strict=True):
        if t not in fade or mad(frame, held) >= hold:
            held = frame
        output[t] = held
    _, clean = join_checks(plan, output, PROFILE.verify_margin)
    join: dict[str, object] = clean["joins"][0]
    return join


def test_a_fade_held_within_its_noise_by_the_encoder_verifies(tmp_path):
    """A fade through black is judged like a crossfade: against the fade drawn on the two
    segments' proxies (``xfade``'s ``fadeblack``, ``stitching/crossed.py``). Before, only a dip's
    black frames were allowed to stand still beyond the sources' runs, and a fade between dim
    pictures failed after spend (explorer seed 12068: a 100:99 variant at 119.88 fps, 12 frames
    still against the sources' 8 and a black dip of 4; its pictures were not kept, so this is
    the mechanism built on proxies, not that board)."""
    join = _fade_join(tmp_path, hold=3.0)
    assert (join["frozen_run"], join["black_run"], join["source_frozen_run"]) == (23, 0, 0)
    assert join["mixed_frozen_run"] == 7
    assert 0 < float(join["mix_stray"]) <= FADE_NOISE  # type: ignore[arg-type]
    assert join["clean"], join


def test_a_fade_window_that_holds_one_picture_is_refused(tmp_path):
    join = _fade_join(tmp_path, hold=255.0)
    assert float(join["mix_stray"]) > FADE_NOISE  # type: ignore[arg-type]
    assert not join["clean"], join


@pytest.mark.parametrize("rate", [24, 60])
def test_the_fade_drawn_on_the_proxies_is_the_one_ffmpeg_renders(rate: int, tmp_path: Path):
    """``crossfade_stretch`` of a fade through black against the frames of a real one: within
    ``FADE_NOISE`` grey levels (3.5 measured on these pictures), and dipping to the proxies' 0
    (``xfade`` fades luma to 0, below limited range's 16)."""
    strays, rendered = drawn_and_rendered(tmp_path, "fade:0.5", rate)
    assert max(strays) <= FADE_NOISE, strays
    assert min(float(frame.mean()) for frame in rendered.values()) < 1.0
