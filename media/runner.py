"""The one place FFmpeg runs. Argv lists are built elsewhere by pure functions."""

from __future__ import annotations

import subprocess

from foundation.settings import get_settings
from media.errors import FFmpegError
from media.ffmpeg import ffmpeg_exe
from media.priority import make_nicer

BASE_ARGS = ["-nostdin", "-y", "-hide_banner", "-v", "error"]


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
    pipe = subprocess.PIPE
    with subprocess.Popen(
        argv, stdin=None if stdin is None else pipe, stdout=pipe, stderr=pipe
    ) as proc:
        _yield_cpu(proc.pid)
        try:
            stdout, raw = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise FFmpegError(-1, f"timed out after {timeout:g}s", argv) from exc
    stderr = raw.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, stderr[-4000:], argv)
    return stdout, stderr


def _yield_cpu(pid: int) -> None:
    """Lower FFmpeg's CPU priority by ``SHOTLINE_FFMPEG_NICE`` (default 5) so that, on a busy
    machine, media work yields to the API's request handling; it costs nothing on an idle one."""
    make_nicer(pid, get_settings().ffmpeg_nice)
