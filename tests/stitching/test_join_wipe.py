"""A wipe is judged against the wipe drawn on its two segments' proxies, as crossfades and fades
are (``stitching/crossed.py``). Found by ``benchmarks/explore_boards.py`` (seed 12091, 2026-12-07):
a 5.5 s wipe between two 11 s product shots in a 160x90 programme at 48 fps failed at stitching
after every shot was paid ("joins_clean": a still of 4 frames where the sources hold 2). Mid-wipe,
the previous shot's motion was already wiped away and the next one's not yet revealed: what shows
is two still backgrounds and an edge moving under a pixel a frame, a still the wipe itself draws.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from foundation.storyboard import Transition
from media.frames import gray_frames
from stitching import OutputProfile, StitchResult, stitch
from stitching.crossed import WIPE_NOISE
from stitching.verify import join_checks
from tests.stitching.conftest import drawn_and_rendered

PROFILE = OutputProfile(160, 90, 48)  # 24 fps sources: every picture shown twice


def bar_clip(
    path: Path, seconds: float, background: int, band: tuple[int, int], bar: int = 230
) -> Path:
    """A 24 fps 160x90 clip: a flat grey ``background`` and a bar of level ``bar`` moving 5 px a
    frame to and fro within the columns ``band`` (never still, and only there)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for i in range(round(seconds * 24)):
            frame = np.full((90, 160, 3), background, np.uint8)
            x = band[0] + (i * 5) % (band[1] - band[0] - 8)
            frame[:, x : x + 8] = bar
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _wiped(tmp_path: Path, backgrounds: tuple[int, int]) -> StitchResult:
    """Two 2 s shots joined by a 1.5 s wipe (``wipeleft``: the next shot comes in from the
    right); the earlier shot's bar moves at the right edge, the later one's at the left."""
    first = bar_clip(tmp_path / "a.mp4", 2, backgrounds[0], (130, 158))
    second = bar_clip(tmp_path / "b.mp4", 2, backgrounds[1], (2, 30))
    clips = [
        ("a", first, Transition.parse("cut"), 2.0),
        ("b", second, Transition.parse("wipe:1.5"), 2.0),
    ]
    return stitch(clips, PROFILE, tmp_path / "out.mp4", tmp_path / "work")


def test_a_wipe_that_hides_both_shots_motion_verifies(tmp_path: Path) -> None:
    result = _wiped(tmp_path, (44, 52))
    join = result.verification["checks"]["joins_clean"]["joins"][0]
    assert join["source_frozen_run"] == 2  # each source picture twice, nothing more
    assert join["frozen_run"] > 3  # before: refused, over the sources' 2 and one frame to spare
    assert join["mixed_frozen_run"] >= join["frozen_run"] - 1, join
    assert join["mix_stray"] <= WIPE_NOISE
    assert join["clean"], join


def test_a_wipe_window_that_holds_one_picture_is_refused(tmp_path: Path) -> None:
    """The output of a real wipe between a dark and a light shot, but for 12 frames in the middle
    of the wipe that repeat one: a still the wipe does not draw, far from it."""
    result = _wiped(tmp_path, (20, 200))
    shot = result.plan.shots[1]
    timeline = range(result.plan.total_frames)
    frames = gray_frames(result.path, timeline, PROFILE.rate)
    held = shot.timeline_in + shot.transition_frames // 2
    frames |= {k: frames[held] for k in range(held, held + 12)}
    _, clean = join_checks(result.plan, frames, PROFILE.verify_margin)
    join = clean["joins"][0]
    assert join["frozen_run"] >= 12
    assert join["mix_stray"] > WIPE_NOISE
    assert not join["clean"], join


@pytest.mark.parametrize("rate", [24, 60])
def test_the_wipe_drawn_on_the_proxies_is_the_one_ffmpeg_renders(rate: int, tmp_path: Path) -> None:
    """``crossfade_stretch`` of a wipe against a real one's frames (``xfade``'s ``wipeleft``):
    within ``WIPE_NOISE`` grey levels on every frame."""
    strays, _ = drawn_and_rendered(tmp_path, "wipe:0.5", rate)
    assert max(strays) <= WIPE_NOISE, strays


def test_a_wipe_that_hides_both_shots_bright_parts_draws_its_own_black(tmp_path: Path) -> None:
    """Two dark shots, each lit only by its bar: mid-wipe both bars are wiped out of sight and
    the frames are black, as the wipe draws them. Before, a run of black the sources did not have
    (explorer seed 12092: a 0.2 s wipe out of a dark first frame, 2 black frames; here 50)."""
    result = _wiped(tmp_path, (8, 10))
    join = result.verification["checks"]["joins_clean"]["joins"][0]
    assert join["source_black_run"] == 0
    assert join["black_run"] >= 2
    assert join["mixed_black_run"] == join["black_run"], join
    assert join["clean"], join


def test_black_beyond_the_drawn_wipe_is_refused(tmp_path: Path) -> None:
    """The same wipe with every judged frame blacked out: black the drawing does not have."""
    result = _wiped(tmp_path, (8, 10))
    shot = result.plan.shots[1]
    timeline = range(result.plan.total_frames)
    frames = gray_frames(result.path, timeline, PROFILE.rate)
    black = np.zeros_like(frames[0])
    window = range(shot.timeline_in - 6, shot.timeline_in + shot.transition_frames + 6)
    frames |= dict.fromkeys(window, black)
    _, clean = join_checks(result.plan, frames, PROFILE.verify_margin)
    join = clean["joins"][0]
    assert join["black_run"] > join["mixed_black_run"] + 1
    assert not join["clean"], join
