"""An FFmpeg run ended by the process's stop (``media.runner.stop_all``, or Ctrl-C reaching FFmpeg
through the terminal just before the stop is requested) raises ``Stopped``, which no step catches,
instead of ``FFmpegError``, which a step would record as a failed shot or job."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from foundation import stopping
from media import runner
from media.errors import FFmpegError

LONG = ["-f", "lavfi", "-re", "-i", "testsrc=s=64x36:r=10:d=60", "-f", "null", "-"]
"""An FFmpeg run of a minute in real time (``-re``), to be stopped."""


@pytest.fixture(autouse=True)
def fresh_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stop flag is the process's: each test gets its own, and leaves the suite's unset."""
    monkeypatch.setattr(stopping, "_requested", threading.Event())


def _run_in_thread(args: list[str]) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def run() -> None:
        try:
            runner.run_ffmpeg(args)
        except BaseException as exc:  # what the run raised is the result
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


def _started() -> list[int]:
    deadline = time.monotonic() + 10
    while not runner._live:
        assert time.monotonic() < deadline, "ffmpeg never started"
        time.sleep(0.02)
    return [proc.pid for proc in runner._live]


def _stop_and_join(stop: Callable[[], None]) -> list[BaseException]:
    thread, raised = _run_in_thread(LONG)
    pids = _started()
    started = time.monotonic()
    stop()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    for pid in pids:  # reaped: nothing left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    return raised


def test_stop_all_ends_a_run_as_stopped() -> None:
    raised = _stop_and_join(runner.stop_all)
    assert [type(exc) for exc in raised] == [stopping.Stopped]


def test_ctrl_c_reaching_ffmpeg_first_is_a_stop_not_a_failure() -> None:
    def terminal_then_stop() -> None:
        for proc in list(runner._live):
            os.kill(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C, to the whole group
        time.sleep(0.3)  # Python's handler runs a moment later
        stopping.request()

    raised = _stop_and_join(terminal_then_stop)
    assert [type(exc) for exc in raised] == [stopping.Stopped]


def test_a_failure_without_a_stop_is_still_a_failure(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FFmpegError):
        runner.run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"])
    thread, raised = _run_in_thread(LONG)  # SIGINT with no stop: a failure, after the wait
    for pid in _started():
        os.kill(pid, signal.SIGINT)
    thread.join(10)
    assert [type(exc) for exc in raised] == [FFmpegError]
    assert time.monotonic() - started < runner.TTY_SIGNAL_WAIT_S + 5
