"""A verified webhook makes a scheduled poll run now, however far away it was due."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pipeline import wakeups
from pipeline.celery_app import CeleryRunner
from pipeline.planning import create_job
from pipeline.steps import Dispatch
from store.db import session_scope
from store.models import Attempt, Shot
from tests.pipeline.conftest import shot, tiny_board

FAR_S = 3600.0


class Broker:
    """Stands in for the Celery app: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], float | None]] = []

    def send_task(
        self,
        name: str,
        args: list[Any],
        queue: str,
        countdown: float | None,
        priority: int | None,
    ) -> None:
        self.sent.append((name, args, countdown))


def _waiting_for_a_far_poll(ctx, driver, scripted, tmp_path):
    """A submitted attempt whose next poll is an hour away; returns (job id, attempt id)."""
    ctx.settings.poll_interval_s = FAR_S
    adapter = scripted(hold=True)
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    driver.submit(job_id)
    while not any(m.step == "poll" and m.delay_s >= FAR_S for m in driver.sent):
        driver.step_next()  # the first poll is at once (nothing measured), the next far away
    adapter.hold = False  # the provider finished; its webhook is on the way
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        attempt_id = session.scalars(select(Attempt.id).where(Attempt.shot_id == shot_pk)).one()
    return job_id, attempt_id


class TestWake:
    def test_a_webhook_polls_now_instead_of_in_an_hour(self, ctx, driver, scripted, tmp_path):
        job_id, attempt_id = _waiting_for_a_far_poll(ctx, driver, scripted, tmp_path)
        due = wakeups.hasten_poll(ctx.db_url, attempt_id, ctx.settings.reap_after_s)
        assert isinstance(due, Dispatch)
        assert (due.step, due.ref, due.delay_s) == ("poll", str(attempt_id), 0.0)
        driver.send(due)
        assert driver.run(job_id, timeout=30.0) == "delivered"
        stale = [m for m in driver.sent if m.step == "poll" and m.delay_s >= FAR_S]
        assert len(stale) == 1
        assert stale[0] not in driver.ran  # the hour-away poll never ran

    def test_the_celery_runner_sends_the_poll_without_a_countdown(
        self, ctx, driver, scripted, tmp_path
    ):
        _, attempt_id = _waiting_for_a_far_poll(ctx, driver, scripted, tmp_path)
        far = next(m for m in driver.sent if m.step == "poll" and m.delay_s >= FAR_S)
        broker = Broker()
        CeleryRunner(ctx, app=broker).wake(attempt_id, "job-1")  # type: ignore[arg-type]
        assert broker.sent == [("pipeline.poll", [str(attempt_id), far.version + 1], None)]

    def test_an_attempt_that_waits_for_no_poll_is_left_alone(self, ctx, driver, scripted, tmp_path):
        job_id, attempt_id = _waiting_for_a_far_poll(ctx, driver, scripted, tmp_path)
        due = wakeups.hasten_poll(ctx.db_url, attempt_id, 1.0)
        assert isinstance(due, Dispatch)
        driver.send(due)
        assert driver.run(job_id, timeout=30.0) == "delivered"
        assert wakeups.hasten_poll(ctx.db_url, attempt_id, 1.0) == "idle"
