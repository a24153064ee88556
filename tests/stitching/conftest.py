"""Awkward inputs made with FFmpeg: tiny (160x90 or smaller), 1-2 s, generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.storyboard import Transition
from media.frames import Gray, gray_frames
from media.runner import run_ffmpeg
from stitching import OutputProfile, Segment, normalise, stitch
from stitching.assembly import keyframe_hints, sample_offsets
from stitching.crossed import crossfade_stretch
from stitching.edges import mad

PROFILE = OutputProfile(160, 90, 24)
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def make_clip(
    path: Path,
    video: str = "testsrc2=s=160x90:r=24",
    audio: str | None = "sine=f=440:r=48000",
    seconds: float = 1.5,
    encode: tuple[str, ...] = tuple(X264),
    extra_in: tuple[str, ...] = (),
    vf: str | None = None,
) -> Path:
    args = ["-f", "lavfi", "-i", f"{video}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"{audio}:d={seconds}"]
    if vf:
        args += ["-vf", vf]
    run_ffmpeg([*extra_in, *args, *encode, "-t", str(seconds), str(path)])
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def shots(media: Path) -> list[Path]:
    """Three 1.5 s sources with clearly different pictures and tones."""
    return [
        make_clip(media / "a.mp4", "testsrc2=s=160x90:r=30", "sine=f=440:r=44100"),
        make_clip(media / "b.mp4", "smptebars=s=160x90:r=24", "sine=f=660:r=48000"),
        make_clip(media / "c.mp4", "rgbtestsrc=s=160x90:r=25", "sine=f=880:r=22050"),
    ]


def normalise_all(
    sources: list[Path],
    transitions: list[str],
    out_dir: Path,
    frames: int = 30,
    hints: bool = True,
    profile: OutputProfile = PROFILE,
) -> list[tuple[str, Segment, Transition]]:
    parsed = [Transition.parse(t) for t in transitions]
    counts = [frames] * len(sources)
    edges = keyframe_hints(parsed, counts, profile) if hints else [(0, 0)] * len(sources)
    offsets = sample_offsets(parsed, counts, profile) if hints else [0] * len(sources)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for i, (src, n, (h, t), tr) in enumerate(zip(sources, counts, edges, parsed, strict=True)):
        out = out_dir / f"s{i}.mp4"
        segment = normalise(src, profile, n, out, head_frames=h, tail_frames=t,
                            sample_offset=offsets[i])  # fmt: skip
        items.append((f"s{i}", segment, tr))
    return items


def drawn_and_rendered(
    tmp_path: Path, transition: str, rate: int
) -> tuple[list[float], dict[int, Gray]]:
    """A real ``transition`` from a test pattern into colour bars at 160x90 and ``rate``: how far
    each frame around it strays from the one ``crossfade_stretch`` draws on the segments'
    proxies, and the rendered frames' proxies."""
    profile = OutputProfile(160, 90, rate)
    first = make_clip(tmp_path / "a.mp4", "testsrc2=s=160x90:r=30", None, seconds=2)
    second = make_clip(tmp_path / "b.mp4", "smptebars=s=160x90:r=30", None, seconds=2)
    clips = [
        ("a", first, Transition.parse("cut"), 1.5),
        ("b", second, Transition.parse(transition), 1.5),
    ]
    result = stitch(clips, profile, tmp_path / "out.mp4", tmp_path / "work")
    previous, shot = result.plan.shots
    timeline = range(shot.timeline_in - 3, shot.timeline_in + shot.transition_frames + 3)
    drawn = crossfade_stretch(previous, shot, timeline, profile)
    assert drawn is not None
    rendered = gray_frames(result.path, timeline, profile.rate)
    return [mad(rendered[t], frame) for t, frame in zip(timeline, drawn, strict=True)], rendered
