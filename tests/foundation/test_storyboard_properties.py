"""Refuse before spending, as properties over drawn storyboards (validation only, no rendering):
a refused storyboard names, for every problem, a path into what was submitted and a reason; an
accepted one is one the stitcher takes as it is: its profile builds with a timescale FFmpeg's mov
muxer keeps, its transitions pass the edit plan's own rule, its edit files can be written, every
variant crops at least the smallest side, and its loudness is within the limiter's reach.

The rendering explorer these came from is ``benchmarks/explore_boards.py`` (it renders each
accepted board under emulated providers); this keeps its cheap half as a regression guard.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundation import limits as lim
from foundation.storyboard import Storyboard, StoryboardError, Transition, parse_storyboard
from foundation.timeline import frames_for
from stitching import OutputProfile, Segment, interchange, plan_edit

SIZES = ["160x90", "90x160", "32x32", "34x32", "256x32", "32x256", "48x270", "162x90", " 160X90 "]
BAD_SIZES = ["33x33", "30x30", "160x90x2", "7682x4320", "3840x320"]
FPS = [10, 10.5, 12, 13.37, 14.985, 23.976, 24, 25, 29.97, 47.952, 59.94, 59.95, 65.376, 72,
       119.88, 120]  # fmt: skip
BAD_FPS = [9.99, 120.01, 0]
DURATIONS = [0.25, 0.26, 0.3, 1 / 3, 0.5, 0.75, 1, 1.5, 2, 3, 10.5, 120]
BAD_DURATIONS = [0.2, 120.5, 0, -1]
LOUDNESS = [-40, -23, -16, -10]
BAD_LOUDNESS = [-41, -9.99, -5]
ASPECTS = ["9:16", "1:1", "16:9", "1:8", "8:1", "90x160", "32x32", "4:3"]
BAD_ASPECTS = ["0:1", "wide"]
LINES = ["Hello.", "We leave at dawn.", "你好", "100% {0 %s"]
BAD_LINES = ["{b}bold{/b}", "<i>x</i>", "a --> b", "   "]
TRANSITION_KINDS = ["cut", "crossfade", "fade", "wipe"]


class Draw:
    """One board's draws: a ``wild`` board also draws values validation must refuse."""

    def __init__(self, draw: Any) -> None:
        self.draw, self.wild = draw, draw(st.integers(0, 3)) == 0

    def one(self, good: list[Any], bad: list[Any]) -> Any:
        if self.wild and self.draw(st.integers(0, 3)) == 0:
            return self.draw(st.sampled_from(bad))
        return self.draw(st.sampled_from(good))

    def shots(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index in range(self.draw(st.integers(1, 4))):
            seconds = self.draw(
                st.floats(0.25, 3.0).map(lambda v: round(v, 3))
                | st.sampled_from(DURATIONS)
            ) if not self.wild else self.one(DURATIONS, BAD_DURATIONS)  # fmt: skip
            spec: dict[str, Any] = {"id": f"k{index}", "prompt": "a calm sea", "duration": seconds}
            kind = (
                self.draw(st.sampled_from(TRANSITION_KINDS)) if self.draw(st.booleans()) else "cut"
            )
            if kind != "cut":
                previous = out[-1]["duration"] if out else seconds
                lengths = [0.01, 0.1, 0.125, 0.25, 0.5, seconds, seconds / 2, previous]
                length = self.draw(st.sampled_from(lengths))
                spec["transition"] = f"{kind}:{length:.6f}".rstrip("0").rstrip(".")
            if self.draw(st.integers(0, 4)) == 0:
                spec["audio"], spec["dialogue"] = "dialogue", self.one(LINES, BAD_LINES)
            out.append(spec)
        return out


@st.composite
def boards(draw: Any) -> dict[str, Any]:
    d = Draw(draw)
    fps = d.one(FPS, BAD_FPS) if draw(st.booleans()) else round(draw(st.floats(10, 120)), 3)
    output: dict[str, Any] = {
        "size": d.one(SIZES, BAD_SIZES),
        "fps": fps,
        "loudness_lufs": draw(
            st.sampled_from(BAD_LOUDNESS if d.draw(st.integers(0, 5)) == 0 else LOUDNESS)
        ),
    }
    variants = draw(st.lists(st.just(None), max_size=3)) if draw(st.integers(0, 2)) == 0 else []
    if variants:
        output["variants"] = [d.one(ASPECTS, BAD_ASPECTS) for _ in variants]
    return {"title": "t", "output": output, "scenes": [{"id": "s", "shots": d.shots()}]}


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _resolves(data: Any, path: str) -> bool:
    """Whether the dotted ``path`` (``scenes[0].shots[1].duration``) names a part of ``data``."""
    node = data
    for name, index in _STEP.findall(path):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        elif isinstance(node, dict) and name in node:
            node = node[name]
        else:
            return False
    return True


def _segment(profile: OutputProfile, name: str, frames: int) -> Segment:
    return Segment(
        path=Path(f"/srv/{name}.mp4"), audio_path=Path(f"/srv/{name}.f32"), frames=frames,
        samples=profile.samples_for(frames), width=profile.width, height=profile.height,
        fps=str(profile.rate), codec="h264", codec_profile="High", pix_fmt="yuv420p", sar="1:1",
        time_base=f"1/{profile.timescale}", extradata_sha="e", audio_codec="aac",
        audio_rate=48000, audio_layout="stereo", keyframes=(0,), source=f"/srv/{name}.src.mp4",
    )  # fmt: skip


def _stitchable(board: Storyboard) -> None:
    """What the stitcher asks of the accepted board, with its own code."""
    out = board.output
    profile = OutputProfile(out.width, out.height, out.fps, loudness_lufs=out.loudness_lufs)
    assert profile.timescale >= 10_000  # FFmpeg's mov muxer would rescale a smaller one
    assert profile.timescale % profile.rate == 0  # whole ticks a frame
    items = []
    for _, shot in board.shots():
        frames = frames_for(shot.duration, profile.rate)
        assert frames >= lim.MIN_SHOT_FRAMES
        items.append(
            (shot.id, _segment(profile, shot.id, frames), Transition.parse(shot.transition))
        )
    plan = plan_edit(items, profile)  # raises PlanError where validation let a join through
    assert plan.total_frames > 0
    rate = float(profile.rate)
    for fmt in interchange.FORMATS:  # the edit files written beside the output
        if fmt != "edl" or interchange.edl_problem(rate) is None:
            assert interchange.render(plan, fmt, "t")
    assert out.loudness_lufs <= lim.MAX_LOUDNESS_LUFS
    for variant in out.variant_list():
        assert min(variant.crop_width, variant.crop_height, variant.width, variant.height) >= 32


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(boards())
def test_refused_with_paths_or_stitchable(data: dict[str, Any]) -> None:
    try:
        board = parse_storyboard(data)
    except StoryboardError as refused:
        _located(data, refused)
        return
    _stitchable(board)


def _located(data: dict[str, Any], refused: StoryboardError) -> None:
    """Every problem of a refusal has a reason and a path into the submitted storyboard."""
    assert refused.problems
    for problem in refused.problems:
        assert problem.message.strip(), problem
        assert _resolves(data, problem.path), f"{problem.path!r} is not in the storyboard"
