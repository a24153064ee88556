"""A transition window in the cache is copied into a programme only when it holds the frames the
plan gives it: one made ahead beside a normalise came out a frame short at 112.686 fps (an
explorer board, twice in one programme), and the output failed its check against the plan after
every shot was paid for. A short one is rendered again at assembly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from stitching import assemble, plan_edit, prerender
from stitching.pieces import WindowPiece
from stitching.video import plan_pieces
from stitching.windows import window_path
from tests.stitching.conftest import PROFILE, normalise_all


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
