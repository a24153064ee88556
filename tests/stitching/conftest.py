"""Awkward inputs made with FFmpeg: tiny (160x90 or smaller), 1-2 s, generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.storyboard import Transition
from media.runner import run_ffmpeg
from stitching import OutputProfile, Segment, normalise
from stitching.assembly import keyframe_hints, sample_offsets

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
