"""The one place FFmpeg runs. Argv lists are built elsewhere by pure functions."""

from __future__ import annotations

import errno
import signal
import subprocess
import threading

from foundation import stopping
from foundation.settings import get_settings
from media.errors import FFmpegError
from media.ffmpeg import ffmpeg_exe
from media.priority import make_nicer

BASE_ARGS = ["-nostdin", "-y", "-hide_banner", "-v", "error"]
STOP_EXITS = {255, -signal.SIGINT, -signal.SIGTERM}
"""How FFmpeg ends on SIGINT or SIGTERM: 255 once its own handler has closed the output (fftools
``ffmpeg.c``: ``received_nb_signals ? 255 : main_return_code``), or killed by the signal; a signal
while it opens its input can also end it with 0 and no output (``Exiting normally, received signal
2.`` at loglevel info). A run that ends once the stop is requested raises ``Stopped`` whatever its
exit: its result is not used."""
TTY_SIGNAL_WAIT_S = 2.0
"""Ctrl-C in a terminal reaches FFmpeg (same process group) as it reaches Python, so FFmpeg may end
before the stop is requested: a run that ended as a signalled one waits this long for the stop
before it counts as a failure."""
DISK_FULL_EXIT = 256 - errno.ENOSPC
"""FFmpeg's exit status after a write failed with ENOSPC (it exits with AVERROR(ENOSPC), -28, as
an unsigned byte; seen with the bundled FFmpeg 9.0 on a full tmpfs); ``DISK_FULL_SAID`` is its
message."""
DISK_FULL_SAID = "No space left on device"
_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


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
    if stopping.requested():
        raise stopping.Stopped("ffmpeg not started: this process is stopping")
    pipe = subprocess.PIPE
    with subprocess.Popen(
        argv, stdin=None if stdin is None else pipe, stdout=pipe, stderr=pipe
    ) as proc:
        with _live_lock:
            _live.add(proc)
            if stopping.requested():  # stop_all took its list before this run was in it
                proc.terminate()
        try:
            _yield_cpu(proc.pid)
            stdout, raw = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise FFmpegError(-1, f"timed out after {timeout:g}s", argv) from exc
        finally:
            with _live_lock:
                _live.discard(proc)
    stderr = raw.decode("utf-8", "replace")
    signalled = proc.returncode in STOP_EXITS or "received signal" in stderr
    if stopping.requested(TTY_SIGNAL_WAIT_S if signalled else 0.0):
        raise stopping.Stopped(f"ffmpeg stopped ({proc.returncode}): this process is stopping")
    if proc.returncode == DISK_FULL_EXIT or (proc.returncode != 0 and DISK_FULL_SAID in stderr):
        raise stopping.disk_full(f"FFmpeg could not write its output ({argv[-1]})")
    if proc.returncode != 0:
        raise FFmpegError(proc.returncode, stderr[-4000:], argv)
    return stdout, stderr


def _yield_cpu(pid: int) -> None:
    """Lower FFmpeg's CPU priority by ``SHOTLINE_FFMPEG_NICE`` (default 5) so that, on a busy
    machine, media work yields to the API's request handling; it costs nothing on an idle one."""
    make_nicer(pid, get_settings().ffmpeg_nice)


def stop_all() -> None:
    """The process is stopping: request the stop and end every FFmpeg run now (SIGTERM, which
    FFmpeg handles by closing its output); each raises ``stopping.Stopped`` in its caller."""
    stopping.request()
    with _live_lock:
        running = list(_live)
    for proc in running:
        if proc.poll() is None:
            proc.terminate()
