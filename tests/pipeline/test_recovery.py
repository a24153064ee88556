"""A create whose answer was lost (the process died between "request sent" and "job id stored"):
held as ``submission_unknown`` where the provider offers no way to find it, with its reservation,
until an operator resolves it; the job then continues."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from foundation.errors import InvalidInputError
from foundation.states import AttemptStatus, JobStatus
from pipeline import assembly, attempts, recovery
from pipeline.celery_app import CeleryRunner
from pipeline.context import RunContext
from pipeline.engine import HELD, EmbeddedEngine
from pipeline.planning import create_job
from registry import BillingOutcome, BillingRules
from shotline.commands.render import follow
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot
from tests.journal import journal_total
from tests.pipeline.conftest import lost_create, shot, tiny_board


def _state(ctx: RunContext, job_id: str) -> tuple[str, list[str], float]:
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        rows = session.scalars(
            select(Attempt.status).join(Shot).where(Shot.job_id == job_id).order_by(Attempt.id)
        )
        return job.status, list(rows), job.reserved_usd


class TestNoMechanism:
    def test_held_with_its_reservation_until_resolved_not_submitted(self, ctx, scripted, tmp_path):
        adapter = scripted()
        job_id, attempt_id = lost_create(ctx, tmp_path, "none")
        assert EmbeddedEngine(ctx).run(job_id) == HELD
        status, rows, reserved = _state(ctx, job_id)
        assert rows == [AttemptStatus.SUBMISSION_UNKNOWN]
        assert status == JobStatus.RUNNING
        assert reserved == pytest.approx(0.5)
        assert adapter.submitted == []  # never resubmitted automatically
        assert [r["attempt_id"] for r in recovery.unknown_attempts(ctx, job_id)] == [attempt_id]

        recovery.resolve(ctx, attempt_id, None)
        assert EmbeddedEngine(ctx).run(job_id) == JobStatus.DELIVERED
        status, rows, _ = _state(ctx, job_id)
        assert rows[0] == AttemptStatus.FAILED
        assert rows[1] == AttemptStatus.ACCEPTED
        assert len(adapter.submitted) == 1

    def test_resolved_with_the_provider_job_polls_it(self, ctx, scripted, tmp_path):
        adapter = scripted()
        job_id, attempt_id = lost_create(ctx, tmp_path, "none")
        assert EmbeddedEngine(ctx).run(job_id) == HELD
        with session_scope(ctx.db_url) as session:
            request = attempts._request_of(
                ctx, session, session.get_one(Attempt, attempt_id),
                session.get_one(Job, job_id),
                session.scalars(select(Shot).where(Shot.job_id == job_id)).one(),
            )  # fmt: skip
        lost_job = adapter.inner.submit(request)  # the create that did reach the provider
        recovery.resolve(ctx, attempt_id, lost_job)
        assert EmbeddedEngine(ctx).run(job_id) == JobStatus.DELIVERED
        with session_scope(ctx.db_url) as session:
            attempt = session.get_one(Attempt, attempt_id)
            assert (attempt.status, attempt.provider_job_id) == (AttemptStatus.ACCEPTED, lost_job)
        assert adapter.submitted == []

    @pytest.mark.parametrize(
        "claimed",
        ["../../v1/organization", "abc?limit=1000", "a/../b", "/v1/tasks", "a b", "a#",
         f"sheet:{'5e' * 32}", f"tts:{'0a' * 32}", "keyframe:x", "music:y"],
    )  # fmt: skip
    def test_a_claimed_job_id_that_is_not_an_id_is_refused(self, ctx, scripted, tmp_path, claimed):
        """The id is polled as ``GET {base}/v1/tasks/{id}`` with the operator's key: before, a
        tenant's ``../../v1/organization`` made the server call that endpoint instead. A stage's
        cache key (``sheet:<hash of the description>``) is refused before any lookup: a 409
        "belongs to another attempt" told a tenant that another had drawn a guessed character."""
        scripted()
        job_id, attempt_id = lost_create(ctx, tmp_path, "none")
        assert EmbeddedEngine(ctx).run(job_id) == HELD
        with pytest.raises(InvalidInputError) as caught:
            recovery.resolve(ctx, attempt_id, claimed)
        assert [p.path for p in caught.value.problems] == ["provider_job_id"]
        assert _state(ctx, job_id)[1] == [AttemptStatus.SUBMISSION_UNKNOWN]  # still held

    def test_provider_job_ids_of_every_shape_are_taken(self):
        for claimed in ("3f2c9a1e-7b1d-4c55-9d4e-2a6f1b0c8e11", "video_68d7", "860123456789",
                        "models/veo-3.1-generate-preview/operations/abc123",
                        "projects/p/locations/us-central1/publishers/google/models/veo-3.1"
                        "-generate-001/operations/1a2b"):  # fmt: skip
            assert recovery.provider_job_id_problem(claimed) is None, claimed

    def test_only_a_held_attempt_can_be_resolved(self, ctx, scripted, tmp_path):
        scripted()
        _, attempt_id = lost_create(ctx, tmp_path, "none")
        with pytest.raises(Exception, match="not submission_unknown"):
            recovery.resolve(ctx, attempt_id, None)


def test_resubmit_mechanism_submits_again(ctx, scripted, tmp_path):
    adapter = scripted()
    job_id, _ = lost_create(ctx, tmp_path, "resubmit")
    assert EmbeddedEngine(ctx).run(job_id) == JobStatus.DELIVERED
    assert len(adapter.submitted) == 1


def test_the_celery_runner_and_the_render_follower_stop_at_a_held_job(ctx, scripted, tmp_path):
    scripted()
    job_id, _ = lost_create(ctx, tmp_path, "none")
    assert EmbeddedEngine(ctx).run(job_id) == HELD
    assert CeleryRunner(ctx).wait(job_id, timeout=10) == HELD
    started = time.monotonic()
    follow(ctx, job_id, None, every_s=0.01)  # returns: the job waits for an operator
    assert time.monotonic() - started < 10


def test_a_lost_create_never_adopts_a_job_another_tenants_attempt_holds(ctx, scripted, tmp_path):
    """The provider's job list is the platform account's: an identical create of another tenant
    matches the lost one's input, but its attempt holds it; it is not the lost create."""
    adapter = scripted()
    theirs = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "theirs.mp4", tenant="b")
    assert EmbeddedEngine(ctx).run(theirs) == JobStatus.DELIVERED
    with session_scope(ctx.db_url) as session:
        their_job = session.scalars(
            select(Attempt.provider_job_id).join(Shot).where(Shot.job_id == theirs)
        ).one()
    adapter.find_submission = lambda request, since: [their_job]
    adapter.submitted.clear()
    job_id, _ = lost_create(ctx, tmp_path, "reconcile", tenant="a")
    assert EmbeddedEngine(ctx).run(job_id) == JobStatus.DELIVERED
    assert len(adapter.submitted) == 1  # created anew: the create never reached the provider


def test_a_job_cancelled_while_held_settles_the_found_create_by_its_billing_rules(
    ctx, scripted, tmp_path
):
    """The operator finds the create after its job was cancelled: the provider job is cancelled
    and settled as any cancelled attempt is, by the provider's ``cancel_queued`` rule (here
    billed, as Kling's), not released for nothing."""
    adapter = scripted()
    job_id, attempt_id = lost_create(ctx, tmp_path, "none")
    _bill_a_cancelled_queue(ctx)
    assert EmbeddedEngine(ctx).run(job_id) == HELD
    assembly.cancel_job(ctx, job_id)
    recovery.resolve(ctx, attempt_id, "lost-job")
    assert adapter.cancelled == ["lost-job"]
    _assert_settled_as_billed(ctx, job_id, attempt_id)


def test_a_create_that_answers_after_its_job_was_cancelled_is_settled_by_its_billing_rules(
    ctx, scripted, tmp_path
):
    """The job is cancelled while its create is in flight: closing finds no provider job and
    settles nothing; when the create then answers with a job, that job is cancelled at the
    provider and the attempt settled by the provider's ``cancel_queued`` rule (here billed)."""
    adapter = scripted()
    job_id, attempt_id = lost_create(ctx, tmp_path, "resubmit")
    _bill_a_cancelled_queue(ctx)
    assembly.cancel_job(ctx, job_id)  # the attempt is closed while ``submitting``
    with session_scope(ctx.db_url) as session:
        shot_row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
    attempts._store_job_id(ctx, attempt_id, "late-job", shot_row)  # the create answers
    assert adapter.cancelled == ["late-job"]
    _assert_settled_as_billed(ctx, job_id, attempt_id)


def _bill_a_cancelled_queue(ctx: RunContext) -> None:
    """The local provider's rules say a job cancelled while queued is billed (the quote)."""
    specs = dict(ctx.registry.provider_specs)
    billed = BillingRules({BillingOutcome.CANCEL_QUEUED: "billed"}, source="test")
    specs["local"] = replace(specs["local"], billing=billed)
    ctx.registry = replace(ctx.registry, provider_specs=specs)


def _assert_settled_as_billed(ctx: RunContext, job_id: str, attempt_id: int) -> None:
    """The attempt was cancelled and settled at its quote ($0.50) by the cancel_queued rule, on
    the attempt, its job, its cost record and the ledger alike."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        job = session.get_one(Job, job_id)
        cost = session.get_one(AttemptCost, attempt_id)
        assert attempt.status == AttemptStatus.CANCELLED
        assert attempt.settled_usd == pytest.approx(0.5)
        assert job.spent_usd == pytest.approx(0.5)
        assert job.reserved_usd == pytest.approx(0.0)
        assert cost.settled_usd == pytest.approx(0.5)
        assert (cost.billing_outcome, cost.billing_basis) == ("cancel_queued", "billed")
        assert journal_total(session, job_id) == pytest.approx(0.5)
