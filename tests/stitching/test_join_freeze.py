"""Frozen runs at a crossfade join: a long crossfade at a high rate is the mix of its sources, and
holds still where the mix does; a window that repeats one picture is still refused."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from foundation.storyboard import Transition
from media.frames import gray_frames
from media.runner import run_ffmpeg
from stitching import OutputProfile, StitchResult, stitch
from stitching.crossed import crossfade_stretch
from stitching.edges import FREEZE_MAD, mad
from stitching.verify import check_joins
from tests.stitching.conftest import make_clip

RATE = 120
PROFILE = OutputProfile(160, 90, RATE)
SECONDS = 2.0
CROSSFADE = "crossfade:1.69"  # 203 frames at 120 fps: the weight moves by 1/203 a frame
HOLD = 9


def _bursty_bar(path: Path, phase: int) -> Path:
    """A faint 30 px bar moving 1 px a frame for ``HOLD`` frames, then holding for ``HOLD``;
    ``phase`` frames later than another such clip, one moves while the other holds."""
    n = f"(N+{phase})"
    position = f"(floor({n}/{2 * HOLD})*{HOLD}+min(mod({n},{2 * HOLD}),{HOLD}))"
    lum = f"100+40*between(X-{position},0,29)"
    return make_clip(path, f"color=c=gray:s=160x90:r={RATE}", seconds=SECONDS,
                     vf=f"geq=lum='{lum}':cb=128:cr=128")  # fmt: skip


@pytest.fixture(scope="module")
def crossfaded(tmp_path_factory: pytest.TempPathFactory) -> StitchResult:
    """Two bars taking turns to move, crossfaded over 1.69 s at 120 fps."""
    tmp = tmp_path_factory.mktemp("hifps")
    clips = [
        ("a", _bursty_bar(tmp / "a.mp4", 0), Transition.parse("cut"), SECONDS),
        ("b", _bursty_bar(tmp / "b.mp4", HOLD), Transition.parse(CROSSFADE), SECONDS),
    ]
    return stitch(clips, PROFILE, tmp / "out.mp4", tmp / "work")


def _join_range(result: StitchResult) -> range:
    shot, margin = result.plan.shots[1], PROFILE.verify_margin
    return range(shot.timeline_in - margin, shot.timeline_in + shot.transition_frames + margin)


def test_a_long_crossfade_at_120_fps_delivers_and_verifies(crossfaded: StitchResult) -> None:
    """The mix stands still for longer than either source (a 1.69 s crossfade at 120 fps was
    refused as a frozen run of 11 frames against 9 in the sources, after every shot was paid)."""
    join = crossfaded.verification["checks"]["joins_clean"]["joins"][0]
    assert join["frozen_run"] > join["source_frozen_run"] + 1, join  # what was refused
    assert join["mixed_frozen_run"] + 1 >= join["frozen_run"], join
    assert join["clean"], join
    assert crossfaded.verification["passed"], crossfaded.verification
    with av.open(str(crossfaded.path)) as container:
        frames = sum(1 for p in container.demux(video=0) if p.size)
    assert frames == crossfaded.plan.total_frames == 2 * 240 - 203
    timeline = _join_range(crossfaded)
    ours = gray_frames(crossfaded.path, timeline, PROFILE.rate)
    previous, shot = crossfaded.plan.shots
    mixed = crossfade_stretch(previous, shot, timeline, PROFILE)
    assert mixed is not None
    assert max(mad(ours[t], m) for t, m in zip(timeline, mixed, strict=True)) < 4.0


def test_a_crossfade_window_that_repeats_one_picture_is_refused(
    crossfaded: StitchResult, tmp_path: Path
) -> None:
    """The same output with its crossfade frozen for 40 frames: the mix would have moved there."""
    shot = crossfaded.plan.shots[1]
    first = shot.timeline_in + 80
    last = first + 40
    frozen = tmp_path / "frozen.mp4"
    graph = f"[0:v]split[a][b];[a][b]freezeframes=first={first}:last={last}:replace={first}[v]"
    run_ffmpeg(["-i", str(crossfaded.path), "-filter_complex", graph, "-map", "[v]",
                "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy",
                str(frozen)])  # fmt: skip
    still = gray_frames(frozen, range(first, last + 1), PROFILE.rate)
    assert all(mad(a, b) < FREEZE_MAD for a, b in itertools.pairwise(still.values()))
    _, clean = check_joins(crossfaded.plan, frozen)
    join = clean["joins"][0]
    assert join["frozen_run"] >= 41, join
    assert not join["clean"], join
    assert not clean["passed"]
