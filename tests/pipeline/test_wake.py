"""The thread-per-shot wait: a webhook (``runner.wake``) cuts a far-away poll short, and so does
a cancellation."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from pipeline import attempts
from pipeline.planning import create_job
from pipeline.runner import JobRunner
from store.db import session_scope
from store.models import Attempt, Shot
from tests.pipeline.conftest import shot, tiny_board

FAR_S = 3600.0


@pytest.fixture
def far_polls(ctx, monkeypatch):
    """Every poll after the first is an hour away, and so is each sleep slice."""
    monkeypatch.setattr(attempts, "next_poll_s", lambda _c, _m, _e, polls: FAR_S if polls else 0.0)
    ctx.settings.poll_interval_s = FAR_S


def _rendering(ctx, tmp_path) -> tuple[int, str]:
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
    attempt_id, _ = attempts.begin(ctx, shot_pk)
    assert attempt_id is not None
    attempts.submit(ctx, attempt_id)
    with session_scope(ctx.db_url) as session:
        return attempt_id, session.get_one(Attempt, attempt_id).provider_job_id or ""


def _waiting(ctx, attempt_id: int, stop=None) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(attempts.wait(ctx, attempt_id, stop)))
    thread.start()
    return thread, result


def _polled_once(ctx, attempt_id: int) -> None:
    """Until the first poll answered "still running" (the attempt is marked rendering)."""
    deadline = time.monotonic() + 10
    while True:
        with session_scope(ctx.db_url) as session:
            if session.get_one(Attempt, attempt_id).status == "rendering":
                return
        assert time.monotonic() < deadline, "the first poll never came"
        time.sleep(0.01)


def test_a_webhook_polls_now_instead_of_in_an_hour(ctx, tmp_path, scripted, far_polls):
    adapter = scripted(hold=True)
    attempt_id, provider_job = _rendering(ctx, tmp_path)
    thread, result = _waiting(ctx, attempt_id)
    _polled_once(ctx, attempt_id)
    adapter.hold = False  # the provider finished; its webhook arrives
    JobRunner(ctx).wake(attempt_id, provider_job)
    thread.join(timeout=10)
    assert result == [True]


def test_a_cancellation_ends_an_hour_long_wait(ctx, tmp_path, scripted, far_polls):
    scripted(hold=True)
    ctx.settings.poll_interval_s = 0.05  # the slice in which a stop is seen
    attempt_id, _ = _rendering(ctx, tmp_path)
    stop = threading.Event()
    thread, result = _waiting(ctx, attempt_id, stop.is_set)
    _polled_once(ctx, attempt_id)
    stop.set()
    thread.join(timeout=10)
    assert result == [False]
