"""An FFmpeg run ended by the process's stop (``media.runner.stop_all``, or Ctrl-C reaching FFmpeg
through the terminal just before the stop is requested) raises ``Stopped``, which no step catches,
instead of ``FFmpegError``, which a step would record as a failed shot or job."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(autouse=True)
def foreground_sigint() -> Iterator[None]:
    """Ctrl-C reaches a process in the terminal's foreground. One started in the background by a
    shell without job control (``pytest ... &`` in a script) ignores SIGINT, and so does the
    FFmpeg it starts until FFmpeg installs its own handler: a SIGINT sent in that moment was lost
    and the run went on for its minute. These tests are of the foreground process."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


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


def _started(before: set[int]) -> list[int]:
    """The pids of the runs started since ``before`` (a run another test's thread left going in
    this worker is not this test's)."""
    deadline = time.monotonic() + 10
    while not (started := [proc.pid for proc in list(runner._live) if proc.pid not in before]):
        assert time.monotonic() < deadline, "ffmpeg never started"
        time.sleep(0.02)
    return started


def _signal_masks(pid: int) -> str:
    """What ``/proc`` says of the process's blocked, ignored and caught signals."""
    status = Path(f"/proc/{pid}/status").read_text()
    return " ".join(line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn")))


def _live_pids() -> set[int]:
    return {proc.pid for proc in list(runner._live)}


def _stop_and_join(stop: Callable[[int], None]) -> list[BaseException]:
    before = _live_pids()
    thread, raised = _run_in_thread(LONG)
    pids = _started(before)
    started = time.monotonic()
    signals = {pid: _signal_masks(pid) for pid in pids}
    for pid in pids:
        stop(pid)
    thread.join(10)
    assert not thread.is_alive(), f"ffmpeg's signal masks when it was stopped: {signals}"
    assert time.monotonic() - started < 5
    for pid in pids:  # reaped: nothing left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    return raised


def test_stop_all_ends_a_run_as_stopped() -> None:
    raised = _stop_and_join(lambda _pid: runner.stop_all())
    assert [type(exc) for exc in raised] == [stopping.Stopped]


def test_ctrl_c_reaching_ffmpeg_first_is_a_stop_not_a_failure() -> None:
    def terminal_then_stop(pid: int) -> None:
        os.kill(pid, signal.SIGINT)  # the terminal's Ctrl-C, to the whole group
        time.sleep(0.3)  # Python's handler runs a moment later
        stopping.request()

    raised = _stop_and_join(terminal_then_stop)
    assert [type(exc) for exc in raised] == [stopping.Stopped]


def test_a_failure_without_a_stop_is_still_a_failure(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FFmpegError):
        runner.run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"])
    before = _live_pids()
    thread, raised = _run_in_thread(LONG)  # SIGINT with no stop: a failure, after the wait
    for pid in _started(before):
        os.kill(pid, signal.SIGINT)
    thread.join(10)
    assert [type(exc) for exc in raised] == [FFmpegError]
    assert time.monotonic() - started < runner.TTY_SIGNAL_WAIT_S + 5


def test_a_run_asked_for_once_the_stop_is_requested_is_not_started() -> None:
    stopping.request()
    started = time.monotonic()
    with pytest.raises(stopping.Stopped, match="not started"):
        runner.run_ffmpeg(LONG)
    assert time.monotonic() - started < 1


def test_a_run_starting_while_stop_all_runs_is_ended_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """``stop_all`` lists the live runs; one whose process was being made then (not in the list
    yet) ends as soon as it is, instead of running to its end."""
    popen = subprocess.Popen

    def stop_all_while_starting(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = popen(*args, **kwargs)
        runner.stop_all()  # before the run is in runner._live
        return proc

    monkeypatch.setattr(subprocess, "Popen", stop_all_while_starting)
    started = time.monotonic()
    with pytest.raises(stopping.Stopped):
        runner.run_ffmpeg(LONG)
    assert time.monotonic() - started < 5
