"""A transition window in the cache is copied into a programme only when it holds the frames the
plan gives it: one made ahead beside a normalise came out a frame short at 112.686 fps (an
explorer board, twice in one programme), and the output failed its check against the plan after
every shot was paid for. A short one is rendered again at assembly; and one made beside a
normalise is now the window made from the files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from foundation.storyboard import Transition
from media.frames import gray_frames
from media.runner import run_ffmpeg
from stitching import OutputProfile, assemble, plan_edit, prerender
from stitching.assembly import keyframe_hints
from stitching.pieces import WindowPiece
from stitching.video import plan_pieces, windows_argv
from stitching.windows import normalise_between, window_path
from tests.stitching.conftest import PROFILE, make_clip, normalise_all


def _video_packets(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def _drop_last_frame(path: Path) -> None:
    """The same stream, its last frame left out (encoder parameters unchanged)."""
    short = path.with_name("short.mp4")
    with av.open(str(path)) as source, av.open(str(short), "w") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        packets: list[Any] = [p for p in source.demux(video=0) if p.size]
        last = max(packets, key=lambda p: p.pts)
        for packet in packets:
            if packet is not last:
                packet.stream = stream
                out.mux(packet)
    short.replace(path)


def test_a_cached_window_a_frame_short_is_rendered_again(shots: list[Path], tmp_path: Path) -> None:
    items = normalise_all(shots, ["cut", "crossfade:0.25", "cut"], tmp_path / "seg")
    prerender(PROFILE, items, tmp_path, starts_edit=True)
    plan = plan_edit(items, PROFILE)
    window = next(p for p in plan_pieces(plan) if isinstance(p, WindowPiece))
    cached = window_path(plan, window)
    assert cached is not None
    assert _video_packets(cached) == window.frames
    _drop_last_frame(cached)
    assert _video_packets(cached) == window.frames - 1

    result = assemble(plan, tmp_path / "out.mp4")

    assert result.verification["passed"], result.verification
    assert _video_packets(result.path) == plan.total_frames
    assert _video_packets(cached) == window.frames, "rendered again into the cache"


@pytest.mark.parametrize("rate", [Fraction(30000, 1001), Fraction(56343, 500)])
def test_a_crossfade_made_beside_a_normalise_is_the_one_made_from_the_files(
    rate: Fraction, tmp_path: Path
) -> None:
    """The window into a shot, made in the run that normalises it, has the plan's frames, each
    the mix the window made from the two segment files has. The normalised picture's frames
    were stamped ``N/FRAME_RATE/TB`` in floating point, truncated: at 112.686 fps most of them
    one frame early, and the crossfade's overlay, timing the two pictures against each other,
    mixed each head frame a frame late and ended a frame short; at 29.97 fps frame 11 shared
    frame 10's time, which the overlay happened to absorb. Flat pictures, the head's a new
    grey level every frame, so that the mixes can be told apart after x264."""
    profile = OutputProfile(64, 36, rate)
    tail = make_clip(tmp_path / "tail.mp4", "color=c=0x303030:s=64x36:r=120", None, seconds=1.6)
    head = make_clip(tmp_path / "head.mp4", "nullsrc=s=64x36:r=120", None, seconds=1.6,
                     vf="geq=lum='mod(N*7,200)+20':cb=128:cr=128")  # fmt: skip
    cut, fade = Transition.parse("cut"), Transition.parse("crossfade:0.5")
    counts = [profile.frames_for(1.2), profile.frames_for(1.3)]
    hints = keyframe_hints([cut, fade], counts, profile)
    first = normalise_between(tail, profile, counts[0], tmp_path / "a.mp4",
                              hints=hints[0], sample_offset=0)  # fmt: skip
    second = normalise_between(head, profile, counts[1], tmp_path / "b.mp4",
                               hints=hints[1], sample_offset=0, before=(first, fade))  # fmt: skip
    plan = plan_edit([("a", first, cut), ("b", second, fade)], profile)
    (window,) = [p for p in plan_pieces(plan) if isinstance(p, WindowPiece)]
    cached = window_path(plan, window)
    assert cached is not None
    assert cached.is_file(), "made beside the normalise and kept"
    assert _video_packets(cached) == window.frames == profile.transition_frames(fade)
    run_ffmpeg(windows_argv(plan, [window], tmp_path / "from-files.mp4"))
    frames = range(window.frames)
    made = list(gray_frames(cached, frames, profile.rate).values())
    reference = list(gray_frames(tmp_path / "from-files.mp4", frames, profile.rate).values())
    off = [
        i
        for i, (a, b) in enumerate(zip(made, reference, strict=True))
        if np.abs(a - b).mean() > 0.5
    ]
    assert off == [], f"frames mixed from other frames than the files': {off}"
