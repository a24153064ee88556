"""``shotline stitch`` on clips that are not what they claim: each is refused before any work,
naming the clip and what is wrong with it (exit 2), and nothing is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from media.runner import run_ffmpeg
from shotline.commands import stitch as stitch_cmd
from tests.media.cover_art import with_cover_art
from tests.media.oversized import REFUSAL, write_over_8k

app = typer.Typer()
stitch_cmd.register(app)


@app.callback()
def _root() -> None:
    """Keep ``stitch`` as a named sub-command."""


def _refused(clip: Path, tmp_path: Path) -> str:
    out = tmp_path / "o.mp4"
    result = CliRunner().invoke(app, ["stitch", str(clip), "-o", str(out), "--json"])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    problems: list[str] = json.loads(result.output)["problems"]
    assert len(problems) == 1
    assert problems[0].startswith(f"CLIP[0]: {clip}: ")
    return problems[0]


def test_a_clip_declaring_more_pixels_than_any_output_is_not_decoded(tmp_path: Path):
    clip = write_over_8k(tmp_path / "over-8k.mp4")
    assert clip.stat().st_size < 200_000  # 36 MP a frame in 100 KB
    problem = _refused(clip, tmp_path)
    assert problem.endswith(REFUSAL)


def test_a_still_image_is_not_a_clip(tmp_path: Path):
    """A PNG (here under a video's name, as a provider's error page or a user's mix-up) was
    refused mid-work as 'a segment needs at least one frame, got 0'."""
    still = tmp_path / "still.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(still)])
    clip = still.rename(tmp_path / "shot.mp4")
    assert _refused(clip, tmp_path).endswith("is a still image (png_pipe), not a video clip")


def test_an_empty_file_is_named_empty(tmp_path: Path):
    """It was 'cannot open: [Errno 1094995529] Invalid data found when processing input'."""
    clip = tmp_path / "shot.mp4"
    clip.touch()
    assert _refused(clip, tmp_path) == f"CLIP[0]: {clip}: it is empty (0 bytes)"


def test_a_truncated_clip_is_named_truncated(tmp_path: Path):
    """Bytes cut off a clip whose index is at its start (the header still declares 2 s): it was
    refused mid-work by its shortfall, 'normalised to 10 frames, plan needs 48 (38 short at 24
    fps)'. The gate calls it ``truncated`` too (``corrupt_tail`` in ``tests/quality/corpus.py``)."""
    whole = tmp_path / "whole.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=s=64x36:r=24:d=2", "-c:v", "libx264", "-preset",
                "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(whole)])  # fmt: skip
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    problem = _refused(clip, tmp_path)
    assert re.fullmatch(
        rf"CLIP\[0\]: {re.escape(str(clip))}: it is truncated: its video stops at 0\.\d\d s of "
        r"the 2\.00 s its header declares \(\d+ of 48 frames\)",
        problem,
    ), problem


def test_a_song_with_cover_art_has_no_video_stream(tmp_path: Path):
    """Its artwork (a one-frame ``attached_pic`` stream) failed inside FFmpeg: ``error: ffmpeg
    exited 234: ... Summary:``, exit 1."""
    clip = with_cover_art(tmp_path)
    assert _refused(clip, tmp_path) == f"CLIP[0]: {clip}: no video stream"
