"""An audio file with its artwork, which FFmpeg reads as a video stream of one frame."""

from __future__ import annotations

from pathlib import Path

from media.runner import run_ffmpeg


def with_cover_art(tmp_path: Path) -> Path:
    """A song with its artwork: the picture is a one-frame video stream marked ``attached_pic``."""
    cover, path = tmp_path / "cover.png", tmp_path / "song.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(cover)])
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=1", "-i", str(cover), "-map", "0", "-map", "1",
                "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", str(path)])  # fmt: skip
    return path
