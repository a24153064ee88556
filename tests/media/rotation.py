"""Make a copy of a clip tagged with a display rotation, with whichever FFmpeg is configured."""

from __future__ import annotations

from pathlib import Path

from media.errors import FFmpegError
from media.runner import run_ffmpeg


def rotated_copy(source: Path, target: Path, degrees: int = 90) -> Path:
    """``-display_rotation`` (FFmpeg 6+); FFmpeg 5.1 knows only the older ``rotate`` tag."""
    try:
        run_ffmpeg(
            ["-display_rotation", str(degrees), "-i", str(source), "-c", "copy", str(target)]
        )
    except FFmpegError as exc:
        if "display_rotation" not in exc.stderr_tail:
            raise
        tag = ["-metadata:s:v:0", f"rotate={(360 - degrees) % 360}"]
        run_ffmpeg(["-i", str(source), "-c", "copy", *tag, str(target)])
    return target
