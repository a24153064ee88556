"""The embedded engine's dispatcher: the step graph of ``pipeline.flow`` run in-process.

One ``Scheduler`` per process (per pool configuration) serves every job in it: a heap of due
steps under a condition variable, one thread handing due steps to an I/O pool or a bounded CPU
pool (``flow.STEP_QUEUE``, the CPU pool in ``flow.STEP_PRIORITY`` order), and the workers running ``flow.run_step`` and scheduling the messages
it returns. A pending poll is a scheduled message, never a sleeping thread, so one process holds
any number of in-flight provider jobs. Per job it counts the steps queued or running; when none
is left the job has ended (or, rarely, another process holds its cursors and the job is looked
at again shortly).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from foundation import stopping
from media import runner as ffmpeg_runner
from media.priority import make_nicer
from pipeline import flow, wakeups
from pipeline.context import RunContext
from pipeline.errors import disk_full_in
from pipeline.steps import Dispatch

log = logging.getLogger(__name__)
LEASE_MARGIN_S = 10.0
RETRY_CAP_S = 30.0
RECHECK_S = 1.0
MAX_TRIES = 8

T = TypeVar("T")
Resume = Callable[[], list[Dispatch]]
"""Reads a job's cursors and returns the messages that drive it on (see ``engine.resume``)."""
Ended = Callable[[], str | None]
"""The job's terminal status, or None while it is not over (see ``engine.ended``)."""


@dataclass
class _Job:
    ctx: RunContext
    resume: Resume
    ended: Ended
    future: Future[str] = field(default_factory=Future)
    outstanding: int = 0
    ending: bool = False  # cancelled or failed: every step of it runs now, and ends


@dataclass(eq=False)
class _Entry:
    due: float
    job_id: str
    message: Dispatch | None  # None: resume the job from its cursors
    tries: int = 0
    dead: bool = False  # replaced by an earlier copy (a webhook, a cancellation)


def holder_node() -> str:
    """The lease holder prefix of this machine's embedded engines (``reaper.release_dead`` frees
    the leases of dead processes under it)."""
    return f"embedded@{socket.gethostname()}"


class PriorityPool:
    """A fixed set of worker threads running submitted calls lowest ``priority`` first, in order
    of submission within one priority (a ``ThreadPoolExecutor`` is first in, first out)."""

    def __init__(self, workers: int, name: str, initializer: Callable[[], None]) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None]]] = (
            queue.PriorityQueue()
        )
        self._seq = itertools.count()
        for index in range(max(1, workers)):
            threading.Thread(
                target=self._work, args=(initializer,), name=f"{name}_{index}", daemon=True
            ).start()

    def submit(self, fn: Callable[..., T], *args: Any, priority: int = 0) -> Future[T]:
        future: Future[T] = Future()

        def call() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)

        self._queue.put((priority, next(self._seq), call))
        return future

    def _work(self, initializer: Callable[[], None]) -> None:
        initializer()
        while True:
            _, _, call = self._queue.get()
            call()


class Scheduler:
    def __init__(
        self,
        io_workers: int,
        cpu_workers: int,
        io_initializer: Callable[[], None],
        cpu_initializer: Callable[[], None],
    ) -> None:
        self._io = ThreadPoolExecutor(
            max(1, io_workers), thread_name_prefix="step-io", initializer=io_initializer
        )
        self._cpu = PriorityPool(cpu_workers, "step-cpu", cpu_initializer)
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._polls: dict[str, _Entry] = {}
        self._running = 0  # steps running now
        self._stopping = False  # the process is stopping: nothing more runs
        self.holder = f"{holder_node()}|{os.getpid()}"
        wakeups.listen(self.wake)  # a scheduler lives as long as its process
        wakeups.listen_ended(self.expedite)
        threading.Thread(target=self._loop, name="step-scheduler", daemon=True).start()

    # --- jobs ----------------------------------------------------------------------------------

    def drive(self, ctx: RunContext, job_id: str, resume: Resume, ended: Ended) -> Future[str]:
        """Drive a job until it ends; the future holds its final status. A job this process
        already drives keeps its future."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.future
            job = self._jobs[job_id] = _Job(ctx, resume, ended)
            self._push(_Entry(time.time(), job_id, None), job)
        return job.future

    def expedite(self, job_id: str) -> None:
        """Run every queued step of the job now, and every step queued from now on (it was
        cancelled or has failed: each one only ends; a step running now may still queue one)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:  # not driven by this scheduler
                return
            job.ending = True
            entries = [e for _, _, e in self._heap if e.job_id == job_id and not e.dead]
            for entry in entries:
                self._replace(entry, time.time())

    def wake(self, attempt_id: int) -> None:
        """A verified webhook: the attempt's scheduled poll runs now instead of at its time."""
        with self._cond:
            entry = self._polls.get(str(attempt_id))
            if entry is not None and not entry.dead and entry.due > time.time():
                self._replace(entry, time.time())

    # --- the heap ------------------------------------------------------------------------------

    def _push(self, entry: _Entry, job: _Job) -> None:
        """Queue one entry (the caller holds the condition)."""
        if job.ending:
            entry.due = min(entry.due, time.time())
        job.outstanding += 1
        if entry.message is not None and entry.message.step == "poll":
            self._polls[entry.message.ref] = entry
        heapq.heappush(self._heap, (entry.due, next(self._seq), entry))
        self._cond.notify()

    def _replace(self, entry: _Entry, due: float) -> None:
        entry.dead = True
        job = self._jobs[entry.job_id]
        job.outstanding -= 1
        self._push(replace(entry, due=due, dead=False), job)

    def halt(self) -> None:
        """The process is stopping: run nothing more (queued steps stay in their cursors for the
        next process)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def idle_by(self, deadline: float) -> bool:
        """Wait until the steps running now have ended, or until ``deadline`` (monotonic); False
        when one still runs."""
        with self._cond:
            while self._running and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return self._running == 0

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._stopping or not self._heap or self._heap[0][0] > time.time():
                    timeout = self._heap[0][0] - time.time() if self._heap else None
                    timeout = None if self._stopping else timeout
                    self._cond.wait(timeout)
                _, _, entry = heapq.heappop(self._heap)
                if entry.dead:
                    continue
                message = entry.message
                if message is not None and self._polls.get(message.ref) is entry:
                    del self._polls[message.ref]
                job = self._jobs[entry.job_id]
            if message is not None and flow.STEP_QUEUE[message.step] == "cpu":
                self._cpu.submit(self._run, entry, job, priority=flow.STEP_PRIORITY[message.step])
            else:
                self._io.submit(self._run, entry, job)

    # --- the workers ---------------------------------------------------------------------------

    def _run(self, entry: _Entry, job: _Job) -> None:
        with self._cond:
            if self._stopping:  # handed to a pool before the stop: its cursor keeps it
                return
            self._running += 1
        try:
            self._run_counted(entry, job)
        finally:  # a step cut short by the stop (``Stopped``) ends here too
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _run_counted(self, entry: _Entry, job: _Job) -> None:
        try:
            follow = self._step(entry, job)
        except (Exception, stopping.DiskFull) as exc:  # the database is unreachable, the disk
            _log_failure(entry, exc)  # is full, or a bug outside any step
            delay = min(RETRY_CAP_S, 0.5 * 2**entry.tries)
            retry = replace(entry, due=time.time() + delay, tries=entry.tries + 1)
            follow = [retry] if retry.tries <= MAX_TRIES else []
        with self._cond:
            for nxt in follow:
                self._push(nxt, job)
            job.outstanding -= 1
            idle = job.outstanding == 0
        if idle:
            self._settle(entry.job_id, job)

    def _step(self, entry: _Entry, job: _Job) -> list[_Entry]:
        if entry.message is None:
            messages = job.resume()
        else:
            message, settings = entry.message, job.ctx.settings
            pool = flow.STEP_QUEUE[message.step]
            limit = settings.cpu_time_limit_s if pool == "cpu" else settings.io_time_limit_s
            messages = flow.run_step(
                job.ctx, message.step, message.ref, message.version, self.holder,
                limit + LEASE_MARGIN_S,
            )  # fmt: skip
        now = time.time()
        return [_Entry(now + m.delay_s, entry.job_id, m) for m in messages]

    def _settle(self, job_id: str, job: _Job) -> None:
        """Nothing of the job is queued or running: resolve its future, or look again shortly
        (its cursors are held elsewhere). A job whose rows cannot be read any more stops here
        with the error; it stays resumable."""
        try:
            status, error = job.ended(), None
        except Exception as exc:
            status, error = None, exc
        with self._cond:
            if job.outstanding:
                return
            if status is None and error is None:
                self._push(_Entry(time.time() + RECHECK_S, job_id, None), job)
                return
            del self._jobs[job_id]
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(status or "")


def _log_failure(entry: _Entry, exc: BaseException) -> None:
    """Log a step that failed outside its own handling; a full disk in one line (a process that
    watches its job stops on it: ``stopping.disk_full``)."""
    full = str(exc) if isinstance(exc, stopping.DiskFull) else disk_full_in(exc)
    if full is None:
        log.exception("step %s of job %s failed", entry.message, entry.job_id, exc_info=exc)
        return
    if not isinstance(exc, stopping.DiskFull):
        stopping.disk_full(full)
    log.error("step %s of job %s: %s", entry.message, entry.job_id, full)


def background_priority(nice: int) -> None:
    """Make the calling thread ``nice`` nicer. On Linux niceness is per thread and inherited by the
    threads and processes it starts, so step threads and their FFmpeg runs yield the CPU to the
    API's event loop and request threads in the same process; elsewhere this does nothing."""
    if sys.platform == "linux" and nice:
        make_nicer(threading.get_native_id(), nice)


_schedulers: dict[tuple[int, int, int], Scheduler] = {}
_lock = threading.Lock()
MEDIA_NICE = 5
"""How much nicer the CPU pool's steps (gate, normalise, stitch) run than the I/O pool's (polls,
submits, fetches): on a saturated machine a poll that waits for the CPU notices a finished render
late, while media work loses nothing by yielding a moment."""


def scheduler(io_workers: int, cpu_workers: int, nice: int = 0) -> Scheduler:
    """This process's scheduler for the pool sizes (and the niceness of its I/O threads; its CPU
    threads run ``MEDIA_NICE`` nicer still)."""
    key = (io_workers, cpu_workers, nice)
    with _lock:
        if key not in _schedulers:
            _schedulers[key] = Scheduler(
                io_workers,
                cpu_workers,
                lambda: background_priority(nice),
                lambda: background_priority(nice + MEDIA_NICE),
            )
        return _schedulers[key]


def stop(grace_s: float) -> bool:
    """Stop every scheduler of this process before it exits (a step still running when the
    interpreter finalises, in native decoders or onnxruntime, can abort the process): nothing
    more starts, the FFmpeg runs in hand end (``media.runner.stop_all``), and the steps running
    get ``grace_s`` in all to end. False when one still runs then."""
    with _lock:
        running = list(_schedulers.values())
    for scheduler in running:
        scheduler.halt()
    ffmpeg_runner.stop_all()
    deadline = time.monotonic() + grace_s
    return all([scheduler.idle_by(deadline) for scheduler in running])
