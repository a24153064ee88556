"""The one place FFmpeg runs. Argv lists are built elsewhere by pure functions."""

from __future__ import annotations

import subprocess

from media.ffmpeg import ffmpeg_exe
from stitching.errors import FFmpegError

BASE_ARGS = ["-nostdin", "-y", "-hide_banner", "-v", "error"]

__all__ = ["BASE_ARGS", "ffmpeg_exe", "run_ffmpeg", "run_ffmpeg_stdout"]


def run_ffmpeg(
    args: list[str],
    timeout: float = 600.0,
    *,
    stdin: bytes | None = None,
    loglevel: str = "error",
) -> str:
    """Run ffmpeg with ``BASE_ARGS`` + ``args``; return stderr; raise ``FFmpegError`` on failure.

    ``stdin`` feeds bytes to an ``-i pipe:0`` input; ``loglevel="info"`` keeps filter summaries
    (``ebur128``) on stderr.
    """
    return _run(args, timeout, stdin, loglevel)[1]


def run_ffmpeg_stdout(
    args: list[str], timeout: float = 600.0, *, stdin: bytes | None = None
) -> bytes:
    """Like ``run_ffmpeg`` for a ``pipe:1`` output: return what ffmpeg wrote to stdout."""
    return _run(args, timeout, stdin, "error")[0]


def _run(args: list[str], timeout: float, stdin: bytes | None, loglevel: str) -> tuple[bytes, str]:
    base = BASE_ARGS if stdin is None else [a for a in BASE_ARGS if a != "-nostdin"]
    argv = [ffmpeg_exe(), *base[:-1], loglevel, *args]
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(-1, f"timed out after {timeout:g}s", argv) from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise FFmpegError(done.returncode, stderr[-4000:], argv)
    return done.stdout, stderr
