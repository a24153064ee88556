"""The one place FFmpeg runs. Argv lists are built elsewhere by pure functions."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

from stitching.errors import FFmpegError

BASE_ARGS = ["-nostdin", "-y", "-hide_banner", "-v", "error"]


@cache
def ffmpeg_exe() -> str:
    """FFmpeg from PATH when present, else the binary shipped in the ``imageio-ffmpeg`` wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(args: list[str], timeout: float = 600.0) -> str:
    """Run ffmpeg with ``BASE_ARGS`` + ``args``; return stderr; raise ``FFmpegError`` on failure."""
    argv = [ffmpeg_exe(), *BASE_ARGS, *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(-1, f"timed out after {timeout:g}s", argv) from exc
    if done.returncode != 0:
        raise FFmpegError(done.returncode, done.stderr[-4000:], argv)
    return done.stderr
