"""The embedded engine's scheduler: a pending poll is a scheduled step that a verified webhook
brings forward, and one process drives many shots without a thread per shot."""

from __future__ import annotations

import threading
import time

import yaml
from sqlalchemy import select

import registry
from pipeline.planning import create_job
from pipeline.runner import JobRunner
from store.db import session_scope
from store.models import Attempt, Shot
from tests.pipeline.conftest import shot, tiny_board


def _submitted(ctx, job_id: str) -> list[int]:
    with session_scope(ctx.db_url) as session:
        return list(
            session.scalars(
                select(Attempt.id)
                .join(Shot, Shot.id == Attempt.shot_id)
                .where(Shot.job_id == job_id, Attempt.provider_job_id.is_not(None))
            )
        )


def test_a_webhook_runs_the_due_poll_now(ctx, tmp_path, scripted):
    adapter = scripted(hold=True)
    ctx.settings.poll_interval_s = 30.0
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    runner = JobRunner(ctx)
    runner.submit(job_id)
    deadline = time.monotonic() + 30
    while not _submitted(ctx, job_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the first poll has run and found the job rendering: the next is in 30 s
    adapter.hold = False
    started = time.monotonic()
    runner.wake(_submitted(ctx, job_id)[0], "")  # what the verified webhook endpoint calls
    assert runner.wait(job_id, timeout=25) == "delivered"
    assert time.monotonic() - started < 20


def test_many_shots_in_flight_hold_no_thread_each(ctx, tmp_path, scripted):
    adapter = scripted(hold=True)
    lifted = tmp_path / "limits.yaml"
    lifted.write_text(
        yaml.safe_dump(
            {"models": [{"id": "local/animatic", "limits": {"concurrency": 64, "rpm": 6000}}]}
        )
    )
    ctx.registry = registry.load_registry(lifted)
    board = tiny_board(*(shot(f"s{i}") for i in range(24)))
    job_id = create_job(ctx, board, output=tmp_path / "o.mp4")
    before = threading.active_count()  # this worker process may hold other tests' pools
    runner = JobRunner(ctx)
    runner.submit(job_id)
    deadline = time.monotonic() + 60
    while len(_submitted(ctx, job_id)) < 24 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_submitted(ctx, job_id)) == 24
    assert threading.active_count() - before < 24
    adapter.hold = False
    runner.cancel(job_id)
    assert runner.wait(job_id, timeout=60) == "cancelled"
