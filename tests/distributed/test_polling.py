"""``poll_once``: one non-blocking poll records what the blocking ``wait`` records."""

from __future__ import annotations

import time

from sqlalchemy import select

from adapters.base import JobState, PollResult
from adapters.errors import RejectedInputError, TransientError
from pipeline import attempts
from pipeline.planning import create_job
from pipeline.polling import poll_once
from store.db import session_scope
from store.models import Attempt, AttemptCost, Shot
from tests.pipeline.conftest import shot, tiny_board


def _submitted(ctx, tmp_path) -> int:
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
    attempt_id, _ = attempts.begin(ctx, shot_pk)
    assert attempt_id is not None
    attempts.submit(ctx, attempt_id)
    return attempt_id


def _attempt(ctx, attempt_id) -> Attempt:
    with session_scope(ctx.db_url) as session:
        return session.get_one(Attempt, attempt_id)


def _timed_out_as_lost(ctx, attempt_id, started) -> Attempt:
    """Poll past the timeout: the attempt failed as a timeout, settled as ``lost`` (uncertain)."""
    assert poll_once(ctx, attempt_id, started) == "failed"
    row = _attempt(ctx, attempt_id)
    assert (row.status, row.error_kind) == ("failed", "timeout")
    with session_scope(ctx.db_url) as session:
        cost = session.scalars(
            select(AttemptCost).where(AttemptCost.attempt_id == attempt_id)
        ).one()
    assert (cost.billing_outcome, cost.billing_uncertain) == ("lost", True)
    return row


class TestPollOnce:
    def test_finished_job_succeeds(self, ctx, tmp_path, scripted):
        scripted()
        attempt_id = _submitted(ctx, tmp_path)
        assert poll_once(ctx, attempt_id) == "succeeded"
        # the job ran: a close before its clip is fetched settles it as running, not queued
        assert _attempt(ctx, attempt_id).status == "rendering"

    def test_running_job_is_pending_and_marked_rendering(self, ctx, tmp_path, scripted):
        scripted(hold=True)
        attempt_id = _submitted(ctx, tmp_path)
        assert poll_once(ctx, attempt_id) == "pending"
        assert poll_once(ctx, attempt_id) == "pending"
        assert _attempt(ctx, attempt_id).status == "rendering"

    def test_timeout_cancels_the_provider_job_and_fails(self, ctx, tmp_path, scripted):
        adapter = scripted(hold=True)
        attempt_id = _submitted(ctx, tmp_path)
        started = time.time() - ctx.settings.attempt_timeout_s - 1
        assert poll_once(ctx, attempt_id, started) == "failed"
        row = _attempt(ctx, attempt_id)
        assert (row.status, row.error_kind) == ("failed", "timeout")
        assert adapter.cancelled == [row.provider_job_id]
        assert row.settled_usd == 0.0

    def test_a_timeout_whose_cancel_fails_still_ends_the_attempt(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """The provider down when the timeout cancels: the attempt is given up all the same (it
        does not wait on a cancel that may never pass), settled at its quote as possibly billed."""
        adapter = scripted(hold=True)
        attempt_id = _submitted(ctx, tmp_path)

        def down(_job):
            raise TransientError("HTTP 503: unavailable", "local")

        monkeypatch.setattr(adapter, "cancel", down)
        started = time.time() - ctx.settings.attempt_timeout_s - 1
        row = _timed_out_as_lost(ctx, attempt_id, started)
        assert "its cancel failed (local: HTTP 503: unavailable)" in (row.error or "")
        assert row.settled_usd == row.quoted_usd  # the local model quotes 0: the rule is the check

    def test_failed_provider_job_is_recorded(self, ctx, tmp_path, scripted, monkeypatch):
        adapter = scripted()
        attempt_id = _submitted(ctx, tmp_path)
        ended = PollResult(JobState.FAILED, error=RejectedInputError("bad prompt", "local"))
        monkeypatch.setattr(adapter, "poll", lambda _job: ended)
        assert poll_once(ctx, attempt_id) == "failed"
        assert _attempt(ctx, attempt_id).error_kind == "rejected_input"

    def test_transient_poll_error_stays_pending(self, ctx, tmp_path, scripted, monkeypatch):
        adapter = scripted()
        attempt_id = _submitted(ctx, tmp_path)

        def flaky(_job):
            raise TransientError("502", "local")

        monkeypatch.setattr(adapter, "poll", flaky)
        assert poll_once(ctx, attempt_id) == "pending"
        monkeypatch.setattr(adapter, "poll", lambda _job: PollResult(JobState.SUCCEEDED))
        assert poll_once(ctx, attempt_id) == "succeeded"

    def test_an_attempt_past_rendering_is_not_polled(self, ctx, tmp_path, scripted, monkeypatch):
        adapter = scripted()
        attempt_id = _submitted(ctx, tmp_path)
        with session_scope(ctx.db_url) as session:
            session.get_one(Attempt, attempt_id).status = "fetched"

        def must_not_poll(_job):
            raise AssertionError("polled an attempt that was already fetched")

        monkeypatch.setattr(adapter, "poll", must_not_poll)
        assert poll_once(ctx, attempt_id) == "succeeded"

    def test_a_timeout_on_a_provider_that_cannot_cancel_settles_as_lost(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """Kling and OpenAI's videos have no cancel: the job given up at its timeout goes on, and
        may be billed; it settled as a cancelled job (free where a queued cancel is)."""
        adapter = scripted(hold=True)
        attempt_id = _submitted(ctx, tmp_path)
        monkeypatch.setattr(adapter, "cancel", lambda _job: False)
        started = time.time() - ctx.settings.attempt_timeout_s - 1
        row = _timed_out_as_lost(ctx, attempt_id, started)
        assert "cannot be cancelled: it may still run" in (row.error or "")

    def test_a_job_still_queued_stays_submitted_until_a_poll_sees_it_run(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """A poll that found the job queued (Runway PENDING, fal IN_QUEUE) marked the attempt
        rendering, so a cancel settled it by the cancel_running rule (fal: billed, uncertain)
        where the provider's cancel_queued rule applies (fal: free)."""
        adapter = scripted(hold=True)
        monkeypatch.setattr(adapter, "poll", lambda _job: PollResult(JobState.QUEUED))
        attempt_id = _submitted(ctx, tmp_path)
        assert poll_once(ctx, attempt_id) == "pending"
        assert _attempt(ctx, attempt_id).status == "submitted"
        monkeypatch.setattr(adapter, "poll", lambda _job: PollResult(JobState.RUNNING, 0.2))
        assert poll_once(ctx, attempt_id) == "pending"
        assert _attempt(ctx, attempt_id).status == "rendering"

    def test_a_failure_of_an_attempt_its_job_closed_is_not_held_against_the_model(
        self, ctx, tmp_path, scripted, monkeypatch
    ):
        """A poll racing the job's cancel meets the cancelled job's 404 (Runway deletes it): the
        attempt is closed already, and the model's breaker counted a ``job_lost`` all the same."""
        from adapters.errors import JobLostError
        from pipeline.attempts import record_failure

        scripted(hold=True)
        attempt_id = _submitted(ctx, tmp_path)
        with session_scope(ctx.db_url) as session:
            session.get_one(Attempt, attempt_id).status = "cancelled"
        counted: list[str] = []
        monkeypatch.setattr(ctx.health, "record_failure", lambda model, kind: counted.append(kind))
        record_failure(ctx, attempt_id, JobLostError("gone", "local"))
        assert counted == []
        assert _attempt(ctx, attempt_id).status == "cancelled"
