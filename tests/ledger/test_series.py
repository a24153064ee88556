"""``ledger.series``: bucket sizes by range, bucket boundaries (UTC, weeks from Monday), empty
buckets kept, the bucket cap, waste by cause, and narrowing by model or provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger import series
from store.models import AttemptCost

T0 = datetime(2026, 11, 19, 10, 30, tzinfo=UTC)


def _row(at: datetime, spend: float = 1.0, **fields: object) -> AttemptCost:
    values: dict[str, object] = {
        "attempt_id": 1,
        "job_id": "j",
        "tenant": "t",
        "shot_key": "a",
        "mode": "final",
        "model_id": "google/veo-3.1",
        "provider": "google",
        "fallback": False,
        "settled_usd": spend,
        "judge_usd": 0.0,
        "quoted_usd": spend,
        "seconds_requested": 4.0,
        "seconds_accepted": 4.0,
        "verdict": "accepted",
        "defects": [],
        "error_kind": None,
        "billing_uncertain": False,
        "drift_flagged": False,
        "render_seconds": None,
        "created_at": at,
    }
    return AttemptCost(**(values | fields))


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(hours=3), "hour"),
        (timedelta(days=2), "hour"),
        (timedelta(days=2, seconds=1), "day"),
        (timedelta(days=92), "day"),
        (timedelta(days=93), "week"),
    ],
)
def test_bucket_follows_the_span(span, bucket):
    assert series.bucket_for(span) == bucket


def test_floor_is_utc_and_weeks_start_on_monday():
    naive = datetime(2026, 11, 19, 10, 30)  # a Thursday, stored without a zone: UTC
    assert series.floor(naive, "hour") == datetime(2026, 11, 19, 10, tzinfo=UTC)
    assert series.floor(T0, "day") == datetime(2026, 11, 19, tzinfo=UTC)
    assert series.floor(T0, "week") == datetime(2026, 11, 16, tzinfo=UTC)


def test_empty_buckets_are_kept_and_sums_reconcile():
    rows = [_row(T0), _row(T0 + timedelta(minutes=10), 2.0), _row(T0 + timedelta(hours=3), 4.0)]
    size, groups = series.series(rows, None, None)
    assert size == "hour"
    assert [(g.key[11:16], float(g.spend_usd), g.attempts) for g in groups] == [
        ("10:00", 3.0, 2),
        ("11:00", 0.0, 0),
        ("12:00", 0.0, 0),
        ("13:00", 4.0, 1),
    ]
    assert groups[1].cost_per_accepted_second is None
    assert sum(g.spend_usd for g in groups) == 7.0


def test_the_window_comes_from_the_filter_when_given():
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    size, groups = series.series([_row(T0)], since, until)
    assert (size, len(groups)) == ("day", 30)
    assert [g.key[:10] for g in groups if g.attempts] == ["2026-11-19"]
    assert series.series([], None, None) == ("day", [])


def test_a_forced_bucket_too_fine_for_the_range_is_coarsened():
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    size, groups = series.series([_row(T0)], since, until, "hour")
    assert (size, len(groups)) == ("day", 365), "8760 hours are too many; 365 days are not"
    assert sum(g.attempts for g in groups) == 1


def test_waste_by_cause():
    rows = [
        _row(T0, 1.0),
        _row(T0, 2.0, verdict="rejected", defects=["black_middle", "frozen"]),
        _row(T0, 0.5, verdict="rejected", defects=["frozen"]),
        _row(T0, 0.0, verdict="failed", error_kind="safety_refusal"),
        _row(T0, 0.7, verdict="cancelled"),
    ]
    causes = [(g.key, g.attempts, float(g.waste_usd)) for g in series.waste_by_cause(rows)]
    assert causes == [
        ("black_middle", 1, 2.0),
        ("cancelled", 1, 0.7),
        ("frozen", 1, 0.5),
        ("safety_refusal", 1, 0.0),
    ]
    assert series.cause_of(rows[0]) is None


def test_matching():
    rows = [_row(T0), _row(T0, model_id="kling/v3-pro", provider="kling")]
    assert len(series.matching(rows)) == 2
    assert [r.provider for r in series.matching(rows, provider="kling")] == ["kling"]
    assert series.matching(rows, model="kling/v3-pro", provider="google") == []
