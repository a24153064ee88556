"""Pipeline benchmark on the embedded engine against emulated providers.

    .venv/bin/python benchmarks/bench_pipeline.py

(a) A 12-shot storyboard with a fixed 2 s render latency at the provider: wall time divided by the
    critical path (the slowest shot from job start to its gate verdict, plus the stitch), goal
    <= 1.1x; and the same job run with one I/O thread over the parallel run (no longer one shot
    at a time: a pending poll is a scheduled step, not a sleeping thread).
(b) Engine overhead per shot with zero-latency providers: CPU milliseconds the process spends per
    shot outside media work (download and probe, gate analysis, normalise, stitch), i.e. routing,
    state rows, events, polling, ledger. Media work is timed in the thread that calls it, and the
    threads it starts (PyAV's decoder threads, the stitcher's helper pools) count as media too: the
    engine's CPU is that of the process's Python threads alive at the end (the scheduler's step
    threads, its loop, the main thread) minus the media work timed in them. "Zero latency" is the
    emulator's setting; its renders still take real time, so the row of provider polls per shot
    says how many pending polls the engine's CPU includes. The database's schema is made before the
    measured window (once per database, not per shot). Run at the short poll interval of (a),
    which polls a render up to 20 times a second, and at the default interval.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml
from sqlalchemy import select

import pipeline.consistency
import quality.consistency
import quality.gate
import stitching
from emulators import Scenario, start_emulator, urls_for
from foundation.settings import Settings
from foundation.storyboard import parse_storyboard
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import migrate, session_scope
from store.models import Event

MODEL = "google/veo-3.1-lite"
LOOKS = ["forest", "ocean", "sunset", "snow", "fire", "desert", "city", "neon", "space", "studio"]


def storyboard(shots: int) -> Any:
    board = {
        "title": "bench",
        "mode": "preview",
        "output": {"size": "320x180", "fps": 24},
        "scenes": [
            {"id": "s", "shots": [
                {"id": f"shot{i:02d}", "prompt": f"a {LOOKS[i % len(LOOKS)]} scene number {i}",
                 "duration": 2, "model": MODEL} for i in range(shots)
            ]}
        ],
    }  # fmt: skip
    return parse_storyboard(board)


def context(
    work: Path, urls: tuple[dict[str, str], dict[str, str]], io_workers: int, poll_s: float = 0.05
) -> RunContext:
    registry = (
        work / "registry.yaml"
    )  # lift the model's limits: the engine, not the quota, is measured
    registry.write_text(
        yaml.safe_dump({"models": [{"id": MODEL, "limits": {"concurrency": 64, "rpm": 6000}}]})
    )
    settings = Settings(
        data_dir=work / f"data-{io_workers}-{time.monotonic_ns()}", registry=registry
    )
    settings.io_workers, settings.poll_interval_s = io_workers, poll_s
    ctx = RunContext.create("emulated", settings)
    ctx.base_urls, ctx.judge_base_urls = urls
    return ctx


def event_times(ctx: RunContext, job_id: str) -> dict[tuple[str, str | None], float]:
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(select(Event).where(Event.job_id == job_id).order_by(Event.id))
        return {(e.kind, e.shot_key): e.created_at.timestamp() for e in rows}


def critical_path(ctx: RunContext, job_id: str) -> tuple[float, float]:
    """(wall, critical path) in seconds from the job's own event rows."""
    times = event_times(ctx, job_id)
    start, end = times[("job.running", None)], times[("job.delivered", None)]
    slowest = max(t for (kind, _), t in times.items() if kind == "shot.accepted") - start
    stitch = end - times[("job.stitching", None)]
    return end - start, slowest + stitch


def run_job(ctx: RunContext, shots: int, out: Path) -> str:
    job_id = create_job(ctx, storyboard(shots), output=out)
    status = EmbeddedEngine(ctx).run(job_id)
    assert status == "delivered", status
    return job_id


def critical_path_bench(work: Path) -> None:
    scenario = Scenario.model_validate(
        {
            "seed": 1,
            "media": {"max_side": 320},
            "defaults": {"latency": {"dist": "fixed", "seconds": 2.0}},
        }
    )
    with start_emulator(scenario) as emulator:
        urls = (emulator.base_urls, emulator.judge_base_urls)
        parallel = context(work, urls, io_workers=16)
        wall, critical = critical_path(parallel, run_job(parallel, 12, work / "par.mp4"))
        sequential = context(work, urls, io_workers=1)
        seq_wall, _ = critical_path(sequential, run_job(sequential, 12, work / "seq.mp4"))
    print("| 12 shots, 2 s provider latency | seconds | ratio |")
    print("|---|---:|---:|")
    print(f"| critical path (slowest shot to its verdict + stitch) | {critical:.2f} | 1.00 |")
    print(
        f"| parallel wall time | {wall:.2f} | {wall / critical:.2f}x the critical path (goal <= 1.1x) |"
    )
    print(
        f"| one I/O thread (`io_workers=1`; polls hold no thread) | {seq_wall:.2f} | {seq_wall / wall:.1f}x the parallel run |"
    )


class MediaClock:
    """Thread CPU time spent inside the wrapped media functions."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds += time.thread_time() - start
                    self.calls += 1

        return timed


def python_threads_cpu() -> dict[tuple[int, int | None], float] | None:
    """CPU seconds of each live Python thread (None where the platform cannot tell)."""
    if not hasattr(time, "pthread_getcpuclockid"):
        return None
    seconds = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            clock = time.pthread_getcpuclockid(thread.ident)
            seconds[(thread.ident, thread.native_id)] = time.clock_gettime(clock)
    return seconds


DEFAULT_POLL_S = Settings.model_fields["poll_interval_s"].default


def overhead_bench(work: Path, shots: int = 24) -> None:
    """Part (b), at the short poll interval of part (a) and at the default one."""
    clock = MediaClock()
    for module, name in (
        (quality.gate, "evaluate"),
        (stitching, "normalise"),
        (stitching, "normalise_fanout"),  # what the pipeline calls (normalise_between inside)
        (stitching, "prerender"),
        (stitching, "assemble"),
        (quality.consistency, "check_joins"),
        (pipeline.consistency, "profile"),
    ):
        setattr(module, name, clock.wrap(getattr(module, name)))
    setattr(pipeline.consistency, "check_joins", quality.consistency.check_joins)  # noqa: B010
    runs = [overhead_run(work, shots, clock, poll_s) for poll_s in (0.05, DEFAULT_POLL_S)]
    print()
    print(
        f"| {shots} shots, zero-latency providers (emulator in its own process) | "
        f"poll interval 0.05 s | {DEFAULT_POLL_S:g} s (the default) |"
    )
    print("|---|---:|---:|")
    for label, key, fmt in OVERHEAD_ROWS:
        print(f"| {label} | " + " | ".join(fmt.format(run[key]) for run in runs) + " |")


OVERHEAD_ROWS = (
    ("this process, in all (CPU ms)", "process", "{:.0f}"),
    (
        "media work in the engine's threads (download+probe, gate, normalise, stitch)",
        "media",
        "{:.0f}",
    ),
    ("media work in the threads it starts (decoders, stitcher pools)", "helpers", "{:.0f}"),
    ("provider polls per shot (the emulator renders for real)", "polls", "{:.1f}"),
    (
        "**engine overhead per shot** (routing, rows, events, polling, ledger; CPU ms)",
        "engine",
        "{:.1f}",
    ),
)


def overhead_run(work: Path, shots: int, clock: MediaClock, poll_s: float) -> dict[str, float]:
    """One job of ``shots`` shots polled every ``poll_s`` at the least; its ``OVERHEAD_ROWS``."""
    polls, media_before = MediaClock(), clock.seconds
    with emulator_process(work, {"seed": 1, "media": {"max_side": 160}}) as root:
        ctx = context(work, urls_for(root), io_workers=8, poll_s=poll_s)
        migrate(ctx.db_url)  # the schema is made once per database, not per shot
        adapter = ctx.adapter("google")
        adapter.fetch = clock.wrap(adapter.fetch)  # type: ignore[method-assign]
        adapter.poll = polls.wrap(adapter.poll)  # type: ignore[method-assign]
        before, threads_before = resource.getrusage(resource.RUSAGE_SELF), python_threads_cpu()
        run_job(ctx, shots, work / f"overhead-{poll_s:g}.mp4")
        after, threads_after = resource.getrusage(resource.RUSAGE_SELF), python_threads_cpu()
    process = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if threads_before is None or threads_after is None:  # no per-thread clocks: all but the timed
        threads = process
    else:
        threads = sum(cpu - threads_before.get(t, 0.0) for t, cpu in threads_after.items())
    media = clock.seconds - media_before
    return {
        "process": process * 1000,
        "media": media * 1000,
        "helpers": (process - threads) * 1000,
        "polls": polls.calls / shots,
        "engine": max(0.0, threads - media) * 1000 / shots,
    }


@contextlib.contextmanager
def emulator_process(work: Path, scenario: dict[str, Any]) -> Iterator[str]:
    """``shotline emulate`` in a child process, so its CPU is not counted as the engine's."""
    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "shotline",
        "emulate",
        "--port",
        str(port),
        "--scenario",
        str(path),
    ]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{root}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield root
    finally:
        child.terminate()
        child.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "--overhead-only" not in sys.argv:
            critical_path_bench(Path(tmp))
        overhead_bench(Path(tmp))
    print(f"\n2 CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
