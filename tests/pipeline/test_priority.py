"""Background work yields the CPU to request handling: the runner's job threads and the FFmpeg runs
they start are niced (Linux niceness is per thread and inherited)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from foundation.settings import get_settings
from media import runner
from pipeline import dispatch, flow
from pipeline.dispatch import background_priority

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")


@linux_only
def test_a_job_thread_is_nicer_and_so_is_what_it_starts():
    seen: dict[str, int] = {}

    def job() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        background_priority(3)
        seen["job"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before
        child = threading.Thread(
            target=lambda: seen.update(
                child=os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before
            )
        )
        child.start()
        child.join()

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen == {"job": 3, "child": 3}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


def test_ffmpeg_runs_nicer_than_its_caller(monkeypatch):
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr("media.priority.os.setpriority", lambda *args: calls.append(args))
    runner.run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=d=0.1", "-f", "null", "-"])
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert len(calls) == 1
    assert calls[0][0] == os.PRIO_PROCESS
    assert calls[0][2] == min(19, base + get_settings().ffmpeg_nice)


def test_ffmpeg_nice_zero_leaves_priority_alone(monkeypatch):
    monkeypatch.setenv("SHOTLINE_FFMPEG_NICE", "0")
    get_settings.cache_clear()
    calls: list[tuple[int, ...]] = []
    monkeypatch.setattr("media.priority.os.setpriority", lambda *args: calls.append(args))
    runner.run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=d=0.1", "-f", "null", "-"])
    assert calls == []


@linux_only
def test_media_steps_run_nicer_than_polls():
    """A saturated machine runs polls before gate and normalise work, so finishes are noticed on
    time; the I/O pool itself runs the scheduler's niceness above the caller's."""
    sched = dispatch.scheduler(io_workers=1, cpu_workers=1, nice=2)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def own() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    io_nice = sched._io.submit(own).result() - base
    cpu_nice = sched._cpu.submit(own).result() - base
    assert io_nice == min(19 - base, 2)
    assert cpu_nice == min(19 - base, 2 + dispatch.MEDIA_NICE)


def test_the_cpu_pool_runs_the_step_nearest_delivery_first():
    """While its one thread is busy, a gate, an accepted shot's normalise and a job's finish
    wait; they run finish, normalise, then the gates in the order they came."""
    pool = dispatch.PriorityPool(1, "test-cpu", lambda: None)
    busy, ran = threading.Event(), list[str]()
    pool.submit(busy.wait)
    done = [
        pool.submit(ran.append, name, priority=flow.STEP_PRIORITY[step])
        for name, step in (
            ("gate 1", "gate"),
            ("normalise", "normalise"),
            ("gate 2", "gate"),
            ("finish", "finish"),
        )
    ]
    busy.set()
    for future in done:
        future.result(timeout=5)
    assert ran == ["finish", "normalise", "gate 1", "gate 2"]
    failing = pool.submit(int, "not a number")
    with pytest.raises(ValueError, match="invalid literal"):
        failing.result(timeout=5)
