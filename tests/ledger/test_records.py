"""Every attempt is a ledger row that follows it: reserve, settle, verdict, judge fee, drift."""

from __future__ import annotations

import pytest

from ledger import records
from ledger import service as ledger
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot

QUOTE = 1.6


def _attempt(url: str, *, model: str = "google/veo-3.1", budget: float | None = 10.0) -> int:
    with session_scope(url) as session:
        if session.get(Job, "job1") is None:
            board = {"scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "p", "duration": 3}]}]}
            session.add(
                Job(
                    id="job1",
                    tenant="acme",
                    title="t",
                    mode="final",
                    storyboard=board,
                    budget_usd=budget,
                )
            )
            session.add(Shot(job_id="job1", key="a", scene_id="s", position=0))
            session.flush()
        shot = session.query(Shot).filter_by(job_id="job1").one()
        number = session.query(Attempt).filter_by(shot_id=shot.id).count() + 1
        attempt = Attempt(
            shot_id=shot.id,
            number=number,
            model_id=model,
            provider=model.split("/")[0],
            quoted_usd=QUOTE,
            request={"duration_s": 4.0},
        )
        session.add(attempt)
        session.flush()
        assert ledger.reserve(session, "job1", attempt)
        return attempt.id


def _record(url: str, attempt_id: int) -> AttemptCost:
    with session_scope(url) as session:
        return session.get_one(AttemptCost, attempt_id)


def _step(url: str, attempt_id: int, **changes) -> None:
    with session_scope(url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        for key, value in changes.items():
            setattr(attempt, key, value)


class TestRecordFollowsAttempt:
    def test_reserve_settle_verdict_and_judge(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'r.db'}"
        attempt_id = _attempt(url)
        opened = _record(url, attempt_id)
        assert (opened.verdict, opened.reserved_usd, opened.quoted_usd) == ("pending", QUOTE, QUOTE)
        assert (opened.tenant, opened.mode, opened.seconds_planned) == ("acme", "final", 3.0)

        with session_scope(url) as session:
            attempt = session.get_one(Attempt, attempt_id)
            attempt.status, attempt.render_seconds = "fetched", 42.0
            ledger.settle(session, "job1", attempt, QUOTE)
        settled = _record(url, attempt_id)
        assert (settled.settled_usd, settled.reported_usd, settled.drift) == (QUOTE, QUOTE, 0.0)
        assert not settled.drift_flagged
        assert settled.render_seconds == 42.0

        verdict = {"action": "repair", "drivers": [{"code": "black_tail"}, {"code": "black_tail"}]}
        _step(url, attempt_id, status="repaired", verdict=verdict)
        with session_scope(url) as session:
            ledger.book(session, "job1", session.get_one(Attempt, attempt_id), "judge", 0.01)
        done = _record(url, attempt_id)
        assert (done.verdict, done.defects) == ("repaired", ["black_tail"])
        assert done.seconds_requested == 4.0
        assert done.seconds_accepted == 3.0, "accepted seconds are the planned seconds, not the pad"
        assert done.judge_usd == pytest.approx(0.01)

    def test_rejected_and_failed_attempts_accept_nothing(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'r.db'}"
        first = _attempt(url)
        _step(
            url,
            first,
            status="rejected",
            verdict={"action": "escalate", "drivers": [{"code": "frozen"}]},
        )
        second = _attempt(url, model="runway/veo3.1")
        with session_scope(url) as session:
            attempt = session.get_one(Attempt, second)
            attempt.status, attempt.error_kind = "failed", "safety_refusal"
            ledger.settle(session, "job1", attempt, 0.0)
        rejected, refused = _record(url, first), _record(url, second)
        assert (rejected.verdict, rejected.defects, rejected.seconds_accepted) == (
            "rejected",
            ["frozen"],
            0.0,
        )
        assert (refused.verdict, refused.error_kind, refused.reported_usd) == (
            "failed",
            "safety_refusal",
            None,
        )
        assert refused.fallback
        assert not rejected.fallback

    def test_an_attempt_refused_by_the_budget_is_still_recorded(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'r.db'}"
        _attempt(url, budget=2.0)
        with session_scope(url) as session:
            shot = session.query(Shot).one()
            attempt = Attempt(
                shot_id=shot.id,
                number=2,
                model_id="google/veo-3.1",
                provider="google",
                quoted_usd=QUOTE,
            )
            session.add(attempt)
            session.flush()
            assert not ledger.reserve(session, "job1", attempt)
            attempt.status, attempt.error_kind = "failed", "over_budget"
            attempt_id = attempt.id
        row = _record(url, attempt_id)
        assert (row.verdict, row.error_kind, row.reserved_usd) == ("failed", "over_budget", 0.0)


class TestDrift:
    def test_billed_cost_far_from_the_registry_is_flagged(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'r.db'}"
        attempt_id = _attempt(url)
        with session_scope(url) as session:
            attempt = session.get_one(Attempt, attempt_id)
            attempt.status = "fetched"
            ledger.settle(session, "job1", attempt, 2.0)
        row = _record(url, attempt_id)
        assert row.drift == pytest.approx(0.25)
        assert row.drift_flagged

    @pytest.mark.parametrize(
        ("reported", "computed", "expected"),
        [
            (1.05, 1.0, (0.05, False)),
            (0.8, 1.0, (-0.2, True)),
            (0.5, 0.0, (None, True)),
            (0.0, 0.0, (0.0, False)),
        ],
    )
    def test_drift_of(self, reported, computed, expected):
        drift, flagged = records.drift_of(reported, computed)
        assert flagged is expected[1]
        assert drift == (pytest.approx(expected[0]) if expected[0] is not None else None)
