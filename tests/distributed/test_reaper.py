"""Lost messages, dead workers, duplicates and stale messages delay work but never lose it or do
it twice; a step that never makes progress ends its shot; committed jobs never enqueued are adopted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import flow, reaper
from pipeline import steps as cursors
from pipeline.planning import create_job
from pipeline.steps import Dispatch, shot_key
from store.db import session_scope
from store.models import Job, JobApi, PipelineStep, Shot
from tests.distributed.conftest import rows
from tests.pipeline.conftest import shot, tiny_board


def _job(ctx, tmp_path, *keys):
    return create_job(ctx, tiny_board(*(shot(k) for k in keys)), output=tmp_path / "out.mp4")


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@contextmanager
def _zombie() -> Iterator[int]:
    """A child that has exited and is not reaped until the block ends."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    try:
        yield process.pid
    finally:
        process.wait()


def _run_until(driver, step):
    """Run messages until one for ``step`` is next; return it without running it."""
    while driver.queue[0][2].step != step:
        driver.step_next()
    return driver.queue[0][2]


class TestLostMessages:
    def test_a_lost_message_is_resent_and_the_job_completes(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        lost: list[Dispatch] = []

        def drop_first_submit(message):
            if message.step == "submit" and not lost:
                lost.append(message)
                return True
            return False

        driver.drop = drop_first_submit
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        assert driver.run(job_id, reap=True) == "delivered"
        again = [m for m in driver.ran if m.step == "submit"]
        assert (again[0].ref, again[0].version) == (lost[0].ref, lost[0].version)
        assert len(adapter.submitted) == 1

    def test_a_step_that_never_progresses_fails_its_shot(self, ctx, driver, tmp_path, scripted):
        scripted()
        ctx.settings.reap_after_s, ctx.settings.max_reaps = 0.02, 2
        driver.drop = lambda message: message.step == "submit"
        job_id = _job(ctx, tmp_path, "a", "b")
        driver.submit(job_id)
        assert driver.run(job_id, reap=True) == "failed"
        _, shots, _, _ = rows(ctx.db_url, job_id)
        assert {s.status for s in shots} == {"failed"}
        assert "made no progress after 2 resends" in (shots[0].error or "")


class TestDuplicatesAndStaleMessages:
    def test_a_duplicate_message_does_nothing(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "submit")
        driver.step_next()
        assert flow.run_step(ctx, "submit", message.ref, message.version, "other|1", 30) == []
        assert len(adapter.submitted) == 1
        assert driver.run(job_id) == "delivered"

    def test_a_message_naming_nothing_in_this_database_is_warned_about(
        self, ctx, driver, tmp_path, scripted, caplog
    ):
        """A worker on another database than the API acknowledged such messages in silence
        ("succeeded: None") while the job waited (distributed walkthrough); a stale message of
        a job it knows stays quiet."""
        scripted()
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "submit")
        driver.step_next()
        with caplog.at_level("DEBUG", logger="pipeline.flow"):
            assert flow.run_step(ctx, "submit", message.ref, message.version, "w|1", 30) == []
            assert flow.run_step(ctx, "submit", "987654", 1, "w|1", 30) == []
            assert flow.run_step(ctx, "begin", "987654", 1, "w|1", 30) == []
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warned) == 2
        assert all("names no job or attempt in this database" in text for text in warned)
        assert all("987654" in text for text in warned)

    def test_a_step_held_by_a_live_worker_is_not_run_again(self, ctx, driver, tmp_path):
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "begin")
        held = cursors.claim(ctx.db_url, "begin", message.ref, message.version, 30, "w|1")
        assert held is not None
        assert flow.run_step(ctx, "begin", message.ref, message.version, "w|2", 30) == []
        time.sleep(ctx.settings.reap_after_s + 0.05)
        assert reaper.reap(ctx) == []


class TestDeadWorkers:
    def test_an_expired_lease_is_resent_after_its_due_time(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "submit")
        driver.queue.clear()  # the worker took the message...
        # a 1 s lease: under load more than 0.3 s once passed between the claim and the reap
        assert cursors.claim(ctx.db_url, "submit", message.ref, message.version, 1.0, "w|1")
        assert reaper.reap(ctx) == []  # ...and died holding it
        time.sleep(1.05 + ctx.settings.reap_after_s)
        assert reaper.reap(ctx) == [message]
        driver.send(message)
        assert driver.run(job_id) == "delivered"
        assert len(adapter.submitted) == 1

    def test_a_running_step_keeps_its_short_lease_and_a_dead_workers_ends_soon(
        self, ctx, driver, tmp_path
    ):
        """A Celery step's lease is short and renewed while its worker lives
        (``steps.kept_alive``): a step running past its lease is not sent again, and once its
        worker is gone (no more renewals) the reaper sends it after that short lease, not after
        the task's whole time limit (30 minutes for a CPU step)."""
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "begin")
        driver.queue.clear()
        # renewed every third of the lease: a 0.3 s lease once lapsed between two renewals on a
        # loaded machine (the suite's four workers on two cores)
        lease = 1.0
        held = cursors.claim(ctx.db_url, "begin", message.ref, message.version, lease, "w|1")
        assert held is not None
        with cursors.kept_alive(ctx.db_url, held, "w|1", lease):
            time.sleep(lease + 0.05 + ctx.settings.reap_after_s)  # past the lease claimed with
            assert reaper.reap(ctx) == []
        time.sleep(lease + 0.05 + ctx.settings.reap_after_s)  # the worker died: nobody renews it
        assert reaper.reap(ctx) == [message]
        moved = cursors.claim(ctx.db_url, "begin", message.ref, message.version, 30, "w|2")
        assert moved is not None
        assert not cursors.renew(ctx.db_url, held, "w|1", lease)  # another holder has it now

    def test_a_restarted_worker_frees_what_its_dead_run_held(self, ctx, driver, tmp_path):
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "begin")
        driver.queue.clear()
        holder = f"w1@host|{_dead_pid()}"
        assert cursors.claim(ctx.db_url, "begin", message.ref, message.version, 600, holder)
        assert reaper.release_dead(ctx, "w2@host") == 0
        assert reaper.release_dead(ctx, "w1@host") == 1
        time.sleep(ctx.settings.reap_after_s + 0.05)
        assert reaper.reap(ctx) == [message]

    def test_a_dead_run_left_as_a_zombie_counts_as_dead(self, ctx, driver, tmp_path):
        """A SIGKILLed worker's pool children are zombies until their new parent reaps them
        (late, in a container whose PID 1 reaps slowly): their leases are freed all the same."""
        job_id = _job(ctx, tmp_path, "a")
        driver.submit(job_id)
        message = _run_until(driver, "begin")
        driver.queue.clear()
        with _zombie() as pid:
            holder = f"w1@host|{pid}"
            assert cursors.claim(ctx.db_url, "begin", message.ref, message.version, 600, holder)
            assert reaper.release_dead(ctx, "w1@host") == 1


class TestAdoption:
    def _age(self, ctx, job_id, api):
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            job.updated_at = datetime.now(UTC) - timedelta(minutes=5)
            if api:
                session.add(JobApi(job_id=job_id, tenant="local"))

    def test_an_api_job_committed_but_never_enqueued_is_adopted(self, ctx, driver, tmp_path):
        job_id = _job(ctx, tmp_path, "a")
        self._age(ctx, job_id, api=True)
        sent = reaper.reap(ctx)
        assert [(m.step, m.ref) for m in sent] == [("start", job_id)]
        assert reaper.reap(ctx) == []  # adopted once
        for message in sent:
            driver.send(message)
        assert driver.run(job_id) == "delivered"

    def test_jobs_of_the_embedded_engine_are_left_alone(self, ctx, tmp_path):
        job_id = _job(ctx, tmp_path, "a")
        self._age(ctx, job_id, api=False)
        assert reaper.reap(ctx) == []


class TestCursors:
    def test_every_shot_and_the_job_end_with_a_done_cursor(self, ctx, driver, tmp_path):
        job_id = _job(ctx, tmp_path, "a", "b")
        driver.submit(job_id)
        driver.run(job_id)
        with session_scope(ctx.db_url) as session:
            names = dict(
                session.execute(
                    select(PipelineStep.key, PipelineStep.name).where(PipelineStep.job_id == job_id)
                ).all()
            )
            shot_pks = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).all()
        assert names == {f"job:{job_id}": "done"} | {shot_key(pk): "done" for pk in shot_pks}
