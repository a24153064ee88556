"""Statistics start at the registry's priors and learn from history, enough to move a choice."""

from __future__ import annotations

import pytest

from foundation.storyboard import Mode
from router import ModelStats, Outcome, StatsBook
from tests.router.conftest import board, plan_for, shot


class TestStatsBook:
    def test_starts_from_priors(self, registry):
        stats = StatsBook(registry).stats_for("google/veo-3.1", "dialogue")
        assert stats.from_prior
        assert stats.acceptance_rate == 0.92  # by-type prior
        assert stats.render_p50_s == 120
        assert StatsBook(registry).stats_for("google/veo-3.1", "broll").acceptance_rate == 0.9

    def test_blends_history_with_the_prior(self, registry):
        book = StatsBook(registry, prior_weight=5)
        book.ingest(
            Outcome(
                "luma/ray-2",
                "action",
                accepted=i % 2 == 0,
                render_seconds=30.0 + i,
                cost_usd=0.71,
                accepted_seconds=5.0,
            )
            for i in range(10)
        )
        stats = book.stats_for("luma/ray-2", "action")
        assert stats.attempts == 10
        assert stats.accepted == 5
        assert stats.acceptance_rate == pytest.approx((5 + 5 * 0.84) / 15)
        assert stats.render_p50_s == pytest.approx((5 * 90 + 10 * 34.5) / 15)
        assert stats.cost_per_accepted_s == pytest.approx(7.1 / 25)
        assert book.stats_for("luma/ray-2", "broll").from_prior

    def test_ingests_mappings_and_keeps_a_window(self, registry):
        book = StatsBook(registry, window=3)
        count = book.ingest(
            {
                "model_id": "kling/v3-std",
                "shot_type": "broll",
                "accepted": True,
                "render_seconds": s,
                "cost_usd": 0.5,
                "accepted_seconds": 5,
            }
            for s in (100.0, 200.0, 10.0, 20.0, 30.0)
        )
        assert count == 5
        stats = book.stats_for("kling/v3-std", "broll")
        assert stats.attempts == 5
        assert stats.render_p50_s == pytest.approx((5 * 90 + 3 * 20) / 8)
        assert book.snapshot()[0]["model"] == "kling/v3-std"

    def test_unknown_model_gets_a_neutral_prior(self):
        stats = StatsBook().stats_for("someone/else", "broll")
        assert isinstance(stats, ModelStats)
        assert stats.acceptance_rate == 0.8


def test_history_moves_the_choice(registry):
    b = board([shot("a car chase through the docks", 8)])
    before = plan_for(b, registry, Mode.FINAL).decisions["shot1"]
    chosen = before.candidates[0].model_id
    assert before.shot_type == "action"
    book = StatsBook(registry)
    book.ingest(
        Outcome(chosen, "action", accepted=False, render_seconds=400, cost_usd=3.2)
        for _ in range(30)
    )
    after = plan_for(b, registry, Mode.FINAL, stats=book).decisions["shot1"]
    assert after.candidates[0].model_id != chosen
    moved = (
        next(c for c in after.candidates if c.model_id == chosen)
        if any(c.model_id == chosen for c in after.candidates)
        else None
    )
    assert moved is None or moved.acceptance < 0.3
    # other shot types of the same model are unaffected
    calm = plan_for(board([shot("leaves in the wind", 8)]), registry, Mode.FINAL, stats=book)
    assert calm.decisions["shot1"].candidates[0].model_id == chosen


def test_learned_cost_per_accepted_second_raises_the_expected_cost(registry):
    b = board([shot("leaves in the wind", 8)])
    base = plan_for(b, registry, Mode.PREVIEW).decisions["shot1"].candidates[0]
    book = StatsBook(registry)
    book.ingest(
        Outcome(
            base.model_id,
            "broll",
            accepted=True,
            render_seconds=30,
            cost_usd=base.quote_usd * 3,
            accepted_seconds=8,
        )
        for _ in range(20)
    )
    learned = plan_for(b, registry, Mode.PREVIEW, stats=book).decisions["shot1"]
    entry = next((c for c in learned.candidates if c.model_id == base.model_id), None)
    assert entry is None or entry.expected_cost_usd > base.expected_cost_usd * 2


def test_a_cheap_history_never_puts_the_expected_cost_under_one_render(registry):
    """Clips rendered cheaper than this shot's quote (a smaller size, no audio, a reuse at $0)
    put a shot's expected cost, and the plan's "expected with retakes", under its own "if every
    shot passes first time" (distributed walkthrough: $0.25 expected under $0.30)."""
    b = board([shot("leaves in the wind", 8)])
    base = plan_for(b, registry, Mode.PREVIEW).decisions["shot1"].candidates[0]
    book = StatsBook(registry)
    book.ingest(
        Outcome(
            base.model_id,
            "broll",
            accepted=True,
            render_seconds=30,
            cost_usd=0.0,
            accepted_seconds=8,
        )
        for _ in range(30)
    )
    learned = plan_for(b, registry, Mode.PREVIEW, stats=book).decisions["shot1"]
    again = next(c for c in learned.candidates if c.model_id == base.model_id)
    assert again.expected_cost_usd >= again.quote_usd > 0
