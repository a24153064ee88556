"""Aggregates by model, provider, tenant, job and day: spend incl. waste, cost per accepted second,
rates, p50/p95 render time, window filters, and the preview-then-commit figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from ledger import aggregates, previews
from ledger.aggregates import CostFilter
from store.db import session_scope
from store.models import Job, JobApi, JobCommit
from tests.ledger.conftest import seed_attempt

DAY1 = datetime(2026, 11, 19, 9, tzinfo=UTC)
DAY2 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _seed(url: str) -> None:
    ok: dict[str, Any] = {"verdict": "accepted", "seconds_requested": 4.0, "seconds_accepted": 4.0}
    seed_attempt(url, settled_usd=1.6, render_seconds=100.0, created_at=DAY1, **ok)
    seed_attempt(
        url,
        settled_usd=1.6,
        render_seconds=300.0,
        created_at=DAY2,
        verdict="rejected",
        defects=["frozen"],
        seconds_requested=4.0,
    )
    seed_attempt(
        url, shot="b", settled_usd=1.6, judge_usd=0.01, render_seconds=200.0, created_at=DAY2, **ok
    )
    seed_attempt(
        url,
        job="job2",
        shot="a",
        model="runway/gen4.5",
        provider="runway",
        settled_usd=0.0,
        verdict="failed",
        error_kind="safety_refusal",
        seconds_requested=5.0,
        created_at=DAY2,
    )
    seed_attempt(
        url,
        job="job2",
        shot="a",
        model="kling/v3-pro",
        provider="kling",
        fallback=True,
        settled_usd=0.5,
        render_seconds=60.0,
        created_at=DAY2,
        verdict="accepted",
        seconds_requested=5.0,
        seconds_accepted=5.0,
    )
    seed_attempt(
        url,
        job="job3",
        tenant="globex",
        settled_usd=9.0,
        created_at=DAY2,
        verdict="accepted",
        seconds_requested=2.0,
        seconds_accepted=2.0,
    )


def _groups(url: str, by, **flt):
    with session_scope(url) as session:
        rows = aggregates.load(session, CostFilter(**flt))
        return {g.key: g for g in aggregates.group(rows, by)}, aggregates.summarise("all", rows)


class TestAggregates:
    def test_by_model(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'a.db'}"
        _seed(url)
        groups, total = _groups(url, "model", tenant="acme")
        veo = groups["google/veo-3.1"]
        assert (veo.attempts, veo.accepted, veo.rejected) == (3, 2, 1)
        assert (veo.spend_usd, veo.waste_usd) == (Decimal("4.81"), Decimal("1.6"))
        assert veo.seconds_accepted == 8.0
        assert veo.cost_per_accepted_second == Decimal("4.81") / 8
        assert veo.acceptance_rate == pytest.approx(2 / 3)
        assert veo.render_p50_s == pytest.approx(float(np.percentile([100, 300, 200], 50)))
        assert veo.render_p95_s == pytest.approx(float(np.percentile([100, 300, 200], 95)))
        runway = groups["runway/gen4.5"]
        assert (runway.refused, runway.refusal_rate, runway.cost_per_accepted_second) == (
            1,
            1.0,
            None,
        )
        assert groups["kling/v3-pro"].fallbacks == 1
        assert (total.attempts, total.fallbacks, total.refused) == (5, 1, 1)
        assert total.spend_usd == Decimal("5.31")
        assert total.to_dict()["spend_usd"] == 5.31

    @pytest.mark.parametrize(
        ("by", "keys"),
        [
            ("provider", {"google", "runway", "kling"}),
            ("tenant", {"acme", "globex"}),
            ("job", {"job1", "job2", "job3"}),
            ("day", {"2026-11-19", "2026-11-20"}),
        ],
    )
    def test_group_keys_partition_the_total(self, tmp_path, by, keys):
        url = f"sqlite:///{tmp_path / 'a.db'}"
        _seed(url)
        groups, total = _groups(url, by)
        assert set(groups) == keys
        assert sum(g.spend_usd for g in groups.values()) == total.spend_usd, "exactly"
        assert sum(g.attempts for g in groups.values()) == total.attempts == 6

    def test_window_is_from_inclusive_to_exclusive(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'a.db'}"
        _seed(url)
        _, day1 = _groups(url, "day", since=DAY1, until=DAY2)
        _, day2 = _groups(url, "day", since=DAY2)
        assert (day1.attempts, day2.attempts) == (1, 5)


class TestPreviewStats:
    def test_conversion_declined_avoided_and_agreement(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'p.db'}"
        with session_scope(url) as session:
            for job_id, mode in (("p", "preview"), ("f1", "final"), ("f2", "final")):
                session.add(Job(id=job_id, tenant="acme", title=job_id, mode=mode, storyboard={}))
            session.flush()
            prices = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 8.0}
            session.add(
                JobCommit(
                    preview_job_id="p",
                    final_job_id="f1",
                    tenant="acme",
                    shots=["a"],
                    kept=["b", "c", "d"],
                    rejected=["b", "c"],
                    quote={},
                    final_usd_by_shot=prices,
                    agreement={"a": 0.9},
                )
            )
            session.add(
                JobCommit(
                    preview_job_id="p",
                    final_job_id="f2",
                    tenant="acme",
                    shots=["b"],
                    kept=["a", "c", "d"],
                    rejected=None,
                    quote={},
                    final_usd_by_shot=prices,
                    agreement={"b": 0.3},
                )
            )
        with session_scope(url) as session:
            stats = previews.preview_stats(session, CostFilter(tenant="acme"))
            other = previews.preview_stats(session, CostFilter(tenant="globex"))
            emulated = previews.preview_stats(session, CostFilter(tenant="acme"), emulated=True)
        assert (stats.previews, stats.preview_shots, stats.committed_shots) == (1, 4, 2)
        assert stats.conversion_rate == 0.5
        # b was declined, then approved by the second commit; d was kept but never reviewed
        assert stats.declined_shots == 1
        assert stats.cost_avoided_usd == Decimal("4"), "only c: reviewed, declined, never final"
        assert emulated.previews == 0, "both finals ran on real providers"
        assert (stats.agreement_scored, stats.agreeing, stats.agreement_rate) == (2, 1, 0.5)
        assert other.previews == 0
        assert other.conversion_rate is None


def test_latest_jobs_are_the_tenants_live_jobs_with_their_figures(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    _seed(url)
    with session_scope(url) as session:
        session.add(JobApi(job_id="job2", tenant="acme", deleted_at=DAY2))
    with session_scope(url) as session:
        rows = aggregates.latest_jobs(session, "acme")
    assert [row["id"] for row in rows] == ["job1"]
    assert rows[0]["spend_usd"] == 4.81
    assert (rows[0]["emulated"], rows[0]["emulated_usd"]) == (False, 0.0)
    assert rows[0]["seconds_accepted"] == 8.0
