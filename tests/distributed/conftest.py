"""The distributed flow driven in this process: messages go to an in-memory queue ordered by due
time instead of Redis, so the state machine, the reaper and lost or duplicated messages are
tested without a broker. Celery itself is tested in ``test_celery.py``."""

from __future__ import annotations

import contextlib
import heapq
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis.exceptions import RedisError
from sqlalchemy import select

from foundation.settings import get_settings
from foundation.states import JOB_ENDED
from pipeline import flow, reaper
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.steps import ABSENT, Dispatch, Move, job_key
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot
from tests.conftest import redis_test_url
from tests.distributed.cluster import forget_queues
from tests.pipeline.conftest import ScriptedAdapter

HOLDER = f"local|{os.getpid()}"


class LocalDriver:
    """One worker in this process. ``drop`` decides which sent messages get lost."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.queue: list[tuple[float, int, Dispatch]] = []
        self.sent: list[Dispatch] = []
        self.ran: list[Dispatch] = []
        self.drop: Callable[[Dispatch], bool] = lambda _message: False
        self._seq = 0

    def send(self, message: Dispatch) -> None:
        self.sent.append(message)
        if self.drop(message):
            return
        self._seq += 1
        heapq.heappush(self.queue, (time.monotonic() + message.delay_s, self._seq, message))

    def submit(self, job_id: str) -> None:
        start = Move(job_key(job_id), job_id, "start", job_id, when=frozenset({ABSENT, "done"}))
        for message in cursors.apply(
            self.ctx.db_url, None, [start], self.ctx.settings.reap_after_s
        ):
            self.send(message)

    def step(self, message: Dispatch, lease_s: float = 30.0) -> None:
        self.ran.append(message)
        for follow in flow.run_step(
            self.ctx, message.step, message.ref, message.version, HOLDER, lease_s
        ):
            self.send(follow)

    def step_next(self) -> Dispatch:
        """Run the earliest queued message now, due or not; returns it."""
        message = heapq.heappop(self.queue)[2]
        self.step(message)
        return message

    def run(self, job_id: str, timeout: float = 60.0, reap: bool = False) -> str:
        """Run messages until the job ends; with ``reap``, the reaper runs whenever idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(job_id)
            if status in JOB_ENDED:
                return status
            if self.queue and self.queue[0][0] <= time.monotonic():
                self.step(heapq.heappop(self.queue)[2])
                continue
            if reap:
                for message in reaper.reap(self.ctx):
                    self.send(message)
            time.sleep(0.005)
        raise AssertionError(f"job {job_id} did not end: {self.status(job_id)}")

    def status(self, job_id: str) -> str:
        with session_scope(self.ctx.db_url) as session:
            return session.get_one(Job, job_id).status


@pytest.fixture
def ctx() -> RunContext:
    context = RunContext.create("local", get_settings())
    context.settings.poll_interval_s = 0.01
    context.settings.backoff_base_s = 0.01
    context.settings.reap_after_s = 0.2
    return context


@pytest.fixture
def driver(ctx: RunContext) -> LocalDriver:
    return LocalDriver(ctx)


@pytest.fixture
def scripted(ctx: RunContext) -> Callable[..., ScriptedAdapter]:
    def install(**kwargs: Any) -> ScriptedAdapter:
        adapter = ScriptedAdapter(ctx.settings.work_dir, **kwargs)
        ctx._adapters["local"] = adapter
        return adapter

    return install


def rows(url: str, job_id: str) -> tuple[Job, list[Shot], dict[str, list[Attempt]], list[str]]:
    """The job, its shots, each shot's attempts and the event kinds, in order."""
    with session_scope(url) as session:
        job = session.get_one(Job, job_id)
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
        tries = {
            s.key: list(
                session.scalars(
                    select(Attempt).where(Attempt.shot_id == s.id).order_by(Attempt.number)
                )
            )
            for s in shots
        }
        kinds = list(
            session.scalars(select(Event.kind).where(Event.job_id == job_id).order_by(Event.id))
        )
        return job, shots, tries, kinds


@pytest.fixture
def isolated_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A queue prefix of its own, so parallel or repeated runs never share messages; its keys are
    dropped from the test broker afterwards (when one is reachable)."""
    prefix = f"t{os.getpid()}-{time.monotonic_ns()}."
    monkeypatch.setenv("SHOTLINE_QUEUE_PREFIX", prefix)
    get_settings.cache_clear()
    yield prefix
    with contextlib.suppress(OSError, RedisError):
        forget_queues(redis_test_url(), prefix)
