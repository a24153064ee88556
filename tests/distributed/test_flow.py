"""The distributed flow (one step per message) against the embedded engine: the same rows and
outcomes for delivery, retries, continuity, budget, consistency and cancellation."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from adapters.errors import SafetyRefusalError, TransientError
from media.probe import count_frames
from pipeline import attempts, closing, verdicts
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot
from tests.distributed.conftest import rows
from tests.journal import journal_total
from tests.pipeline.conftest import shot, tiny_board


def _job(ctx, board, tmp_path, name="out.mp4"):
    return create_job(ctx, board, output=tmp_path / name)


def _outcome(ctx, job_id):
    job, shots, tries, kinds = rows(ctx.db_url, job_id)
    return {
        "status": job.status,
        "shots": [(s.key, s.status, s.model_id) for s in shots],
        "attempts": {
            k: [(t.model_id, t.status, t.error_kind) for t in v] for k, v in tries.items()
        },
        "events": Counter(kinds),
        "spent": round(job.spent_usd, 6),
        "reserved": round(job.reserved_usd, 6),
    }


class TestSameAsEmbedded:
    def test_delivery_leaves_the_rows_the_embedded_engine_leaves(self, ctx, driver, tmp_path):
        board = tiny_board(shot("a", audio="ambient"), shot("b", duration=1.5))
        embedded = _job(ctx, board, tmp_path, "embedded.mp4")
        assert EmbeddedEngine(ctx).run(embedded) == "delivered"
        board = tiny_board(shot("c", audio="ambient"), shot("d", duration=1.5))
        distributed = _job(ctx, board, tmp_path, "distributed.mp4")
        driver.submit(distributed)
        assert driver.run(distributed) == "delivered"
        one, other = _outcome(ctx, embedded), _outcome(ctx, distributed)
        assert one["events"] == other["events"]
        assert [a for a in one["attempts"].values()] == [a for a in other["attempts"].values()]
        assert (one["spent"], one["reserved"]) == (other["spent"], other["reserved"])
        assert count_frames(tmp_path / "distributed.mp4") == round(2.5 * 24)

    def test_transient_error_retries_the_same_model(self, ctx, driver, tmp_path, scripted):
        adapter = scripted(failures={"a": [TransientError("502 bad gateway", "local")]})
        job_id = _job(ctx, tiny_board(shot("a")), tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "delivered"
        _, _, tries, _ = rows(ctx.db_url, job_id)
        assert [t.error_kind for t in tries["a"]] == ["transient", None]
        assert len(adapter.submitted) == 2

    def test_safety_refusal_without_fallback_fails_the_job(self, ctx, driver, tmp_path, scripted):
        ctx.settings.fallback_on_safety = False
        scripted(failures={"a": [SafetyRefusalError("refused", "local")]})
        job_id = _job(ctx, tiny_board(shot("a"), shot("b")), tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "failed"
        job, shots, _, _ = rows(ctx.db_url, job_id)
        assert job.error_shot == "a"
        assert [s.status for s in shots] == ["failed", "normalised"]

    def test_reservation_refused_fails_without_submitting(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        job_id = _job(ctx, tiny_board(shot("a")), tmp_path)
        with session_scope(ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            job.budget_usd, job.spent_usd = 1.0, 1.0
            row = session.scalars(select(Shot).where(Shot.job_id == job_id)).one()
            row.route = dict(row.route or {}) | {
                "candidates": [row.route["candidates"][0] | {"quote_usd": 0.5}]  # type: ignore[index]
            }
        driver.submit(job_id)
        assert driver.run(job_id) == "failed"
        _, _, tries, _ = rows(ctx.db_url, job_id)
        assert tries["a"][0].error_kind == "over_budget"
        assert adapter.submitted == []

    def test_ledger_reconciles_with_the_attempts(self, ctx, driver, tmp_path):
        job_id = _job(ctx, tiny_board(shot("a"), shot("b")), tmp_path)
        driver.submit(job_id)
        driver.run(job_id)
        job, _, tries, _ = rows(ctx.db_url, job_id)
        with session_scope(ctx.db_url) as session:
            total = journal_total(session, job_id)
        assert total == pytest.approx(sum(t.settled_usd or 0 for ts in tries.values() for t in ts))
        assert job.reserved_usd == pytest.approx(0.0)


class TestContinuity:
    def test_continuing_shot_waits_for_the_previous_clip(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        board = tiny_board(shot("a"), shot("b", continues=True), shot("c"))
        job_id = _job(ctx, board, tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "delivered"
        by_shot = {r.shot_id: r for r in adapter.submitted}
        assert by_shot["b"].reference_image is not None
        assert by_shot["b"].reference_image.name.startswith("lastframe-b-")
        with session_scope(ctx.db_url) as session:
            events = [
                (e.kind, e.shot_key)
                for e in session.scalars(
                    select(Event).where(Event.job_id == job_id).order_by(Event.id)
                )
            ]
        assert events.index(("shot.normalised", "a")) < events.index(("attempt.reserved", "b"))

    def test_shot_after_a_failed_shot_fails_without_rendering(
        self, ctx, driver, tmp_path, scripted
    ):
        ctx.settings.fallback_on_safety = False
        adapter = scripted(failures={"a": [SafetyRefusalError("refused", "local")]})
        board = tiny_board(shot("a"), shot("b", continues=True))
        job_id = _job(ctx, board, tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "failed"
        _, shots, tries, _ = rows(ctx.db_url, job_id)
        assert shots[1].error == "the shot it continues from has no clip"
        assert tries["b"] == []
        assert [r.shot_id for r in adapter.submitted] == ["a"]


class TestConsistency:
    def test_rerender_policy_renders_the_offending_shot_once(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        board = tiny_board(
            shot("a", prompt="a snowy field at noon"),
            shot("b", prompt="deep space, black void"),
            consistency="rerender",
        )
        job_id = _job(ctx, board, tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "delivered"
        _, _, _, kinds = rows(ctx.db_url, job_id)
        assert kinds.count("shot.consistency_rerender") == 1
        assert kinds.count("job.consistency") == 2
        assert len(adapter.submitted) == 3


class TestPolling:
    def test_waiting_for_a_provider_reschedules_polls(
        self, ctx, driver, tmp_path, scripted, monkeypatch
    ):
        from pipeline import shot_steps

        # the backoff alone: a poll that ran late on a busy machine pulls the next one in by its
        # lag (tests/pipeline/test_poll_schedule.py), which would unsort the delays below
        monkeypatch.setattr(shot_steps, "_lag", lambda ctx, cur, now: 0.0)
        adapter = scripted(hold=True)
        job_id = _job(ctx, tiny_board(shot("a")), tmp_path)
        driver.submit(job_id)
        for _ in range(40):
            driver.step_next()
        polls = [m for m in driver.sent if m.step == "poll"]
        assert len(polls) >= 5
        delays = [m.delay_s for m in polls[1:]]  # none measured: from the shortest, backing off
        assert delays == sorted(delays)
        assert ctx.settings.poll_interval_s <= delays[0] <= delays[-1]
        assert delays[-1] <= 15 * ctx.settings.poll_interval_s
        adapter.hold = False
        assert driver.run(job_id) == "delivered"
        assert len(adapter.submitted) == 1


class TestCancel:
    def test_cancelled_job_stops_at_its_next_step(self, ctx, driver, tmp_path, scripted):
        adapter = scripted(hold=True)
        job_id = _job(ctx, tiny_board(shot("a"), shot("b")), tmp_path)
        driver.submit(job_id)
        while len(adapter.submitted) < 2:
            driver.step_next()
        closing.cancel_inflight(ctx, job_id)  # what the API does when no runner holds the job
        with session_scope(ctx.db_url) as session:
            session.get_one(Job, job_id).status = "cancelled"
        while driver.queue:
            driver.step_next()
        job, _, tries, _ = rows(ctx.db_url, job_id)
        assert job.status == "cancelled"
        assert job.reserved_usd == pytest.approx(0.0)
        assert all(t.status == "cancelled" for ts in tries.values() for t in ts)
        assert len(adapter.submitted) == 2


class TestCrashInsideAStep:
    def test_a_bug_fails_the_shot_and_the_job_ends(self, ctx, driver, tmp_path, monkeypatch):
        def broken(*_args, **_kwargs):
            raise RuntimeError("gate exploded")

        monkeypatch.setattr(verdicts, "judge", broken)
        job_id = _job(ctx, tiny_board(shot("a")), tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "failed"
        _, shots, _, _ = rows(ctx.db_url, job_id)
        assert "gate exploded" in (shots[0].error or "")


@pytest.mark.services
class TestOnPostgres:
    def test_continuity_and_delivery_on_postgres(
        self, ctx, driver, tmp_path, scripted, fresh_postgres_url
    ):
        ctx.settings.database_url = fresh_postgres_url
        scripted(failures={"a": [TransientError("502 bad gateway", "local")]})
        board = tiny_board(shot("a"), shot("b", continues=True), shot("c"))
        job_id = _job(ctx, board, tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "delivered"
        job, shots, tries, _ = rows(fresh_postgres_url, job_id)
        assert [s.status for s in shots] == ["normalised"] * 3
        assert [t.error_kind for t in tries["a"]] == ["transient", None]
        assert job.verification is not None


class TestResume:
    def _open(self, ctx, tmp_path):
        job_id = _job(ctx, tiny_board(shot("a")), tmp_path)
        with session_scope(ctx.db_url) as session:
            shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        attempt_id, _ = attempts.begin(ctx, shot_pk)
        assert attempt_id is not None
        return job_id, attempt_id

    def test_a_submitted_attempt_is_polled_not_submitted_again(
        self, ctx, driver, tmp_path, scripted
    ):
        adapter = scripted()
        job_id, attempt_id = self._open(ctx, tmp_path)
        attempts.submit(ctx, attempt_id)  # ...and the worker dies here
        driver.submit(job_id)
        assert driver.run(job_id) == "delivered"
        assert len(adapter.submitted) == 1

    def test_an_attempt_killed_while_gating_is_gated_again(self, ctx, driver, tmp_path, scripted):
        adapter = scripted()
        job_id, attempt_id = self._open(ctx, tmp_path)
        attempts.submit(ctx, attempt_id)
        verdicts.fetch(ctx, attempt_id)
        with session_scope(ctx.db_url) as session:
            session.get_one(Attempt, attempt_id).status = "gating"  # killed inside the gate
        driver.submit(job_id)
        assert driver.run(job_id, timeout=20) == "delivered"
        _, _, tries, _ = rows(ctx.db_url, job_id)
        assert [t.status for t in tries["a"]] == ["accepted"]
        assert len(adapter.submitted) == 1


class TestFailedBed:
    def test_a_failed_bed_ends_the_job_before_its_shots_are_sent(
        self, ctx, driver, tmp_path, scripted, monkeypatch
    ):
        from adapters.errors import RejectedInputError
        from adapters.music import MusicClient

        def refuse(self, request):
            raise RejectedInputError("HTTP 400: bad_prompt", self.provider)

        monkeypatch.setattr(MusicClient, "compose", refuse)
        adapter = scripted(hold=True)
        board = tiny_board(shot("a"), shot("b"), shot("c"), music={"prompt": "pulse"})
        job_id = _job(ctx, board, tmp_path)
        driver.submit(job_id)
        assert driver.run(job_id) == "failed"
        while driver.queue:  # the steps still queued end without sending anything
            driver.step_next()
        job, shots, tries, _ = rows(ctx.db_url, job_id)
        assert job.stage == "music"
        assert job.reserved_usd == pytest.approx(0.0)
        assert "bad_prompt" in (job.error or "")
        assert [s.status for s in shots] == ["cancelled"] * 3
        assert all(t.status == "cancelled" for k in "abc" for t in tries[k] if t.stage == "video")
        assert adapter.submitted == []  # the bed failed before any shot was sent
