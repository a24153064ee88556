"""Measured render times come from the attempts' rows, read once per model per refresh."""

from __future__ import annotations

import time

import pytest

from pipeline import admission, render_times
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.poll_schedule import RenderTimes
from store.db import session_scope
from store.models import Attempt
from tests.pipeline.conftest import shot, tiny_board


def test_a_finished_attempt_is_a_measured_render(ctx, tmp_path, monkeypatch):
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    monkeypatch.setattr(render_times, "_cache", {})  # what the run read before its render ended
    with session_scope(ctx.db_url) as session:
        model_id = session.query(Attempt.model_id).scalar()
    times = render_times.render_times(ctx, model_id)
    assert times.count == 1
    assert 0.0 < times.p50_s == times.p95_s


def test_a_wait_for_a_concurrency_slot_is_not_render_time(ctx, tmp_path, monkeypatch):
    """Under load, attempts queue for their model's slots; a render time that counted the queue
    would delay the polls that free the slots (the load benchmark's stall)."""
    real_admit, waited = admission.admit, set()

    def admit_after_a_queue(context: RunContext, attempt_id: int) -> float:
        if attempt_id not in waited:  # every attempt waits 1.5 s for a slot first
            waited.add(attempt_id)
            return 1.5
        return real_admit(context, attempt_id)

    monkeypatch.setattr(admission, "admit", admit_after_a_queue)
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "o.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    with session_scope(ctx.db_url) as session:
        attempt = session.query(Attempt).one()
        assert attempt.render_seconds is not None
        opened_to_now = time.time() - attempt.created_at.timestamp()
    assert opened_to_now > 1.5
    assert attempt.render_seconds < 1.0


def test_an_unmeasured_model_counts_zero_and_is_read_once_per_refresh(ctx, monkeypatch):
    first = render_times.render_times(ctx, "nobody/never")
    assert first.count == 0

    def unreachable(*_args, **_kwargs):
        raise AssertionError("read again within the refresh")

    monkeypatch.setattr(render_times, "session_scope", unreachable)
    assert render_times.render_times(ctx, "nobody/never") is first


def test_bounds_come_from_settings(ctx):
    ctx.settings.poll_interval_s, ctx.settings.attempt_timeout_s = 2.0, 600.0
    ctx.settings.poll_max_interval_s = None
    assert (render_times.bounds(ctx).min_s, render_times.bounds(ctx).max_s) == (2.0, 30.0)
    ctx.settings.poll_max_interval_s = 10.0
    assert render_times.bounds(ctx).max_s == 10.0
    assert render_times.bounds(ctx).timeout_s == 600.0


def test_a_finish_is_placed_halfway_back_to_the_poll_before(ctx):
    """A poll sees a finish only after it happened; counting the poll's own time would feed its
    lateness (and queueing under load) into the schedule, and render times would creep up."""
    ctx.settings.poll_interval_s, ctx.settings.poll_max_interval_s = 2.0, 30.0
    assert render_times.finished_after(ctx, "nobody/never", 8.0, first_poll=True) == 4.0
    # after 60 s the polls are 4.2 s apart (7% of the time waited): the finish lies in the last gap
    assert render_times.finished_after(ctx, "m", 60.0, first_poll=False) == pytest.approx(57.9)
    # early on the shortest interval (2 s) sets the gap
    assert render_times.finished_after(ctx, "m", 5.0, first_poll=False) == pytest.approx(4.0)


def test_a_first_poll_places_the_finish_after_the_earliest_plausible_one(ctx, monkeypatch):
    """The schedule's first poll of a measured model comes just after its earliest plausible
    finish; a finish it sees lies between the two, not halfway back to the submission (which
    would halve the next measured render time and pull every first poll earlier)."""
    steady = RenderTimes(count=8, p50_s=60.0, p95_s=61.0)
    monkeypatch.setattr(render_times, "render_times", lambda _ctx, _model: steady)
    seen_at = 61.0
    placed = render_times.finished_after(ctx, "m", seen_at, first_poll=True)
    assert placed == pytest.approx((steady.earliest_s() + seen_at) / 2)
    assert steady.earliest_s() < placed < seen_at
    # a poll that came before the earliest plausible finish (the times moved since) halves back
    assert render_times.finished_after(ctx, "m", 20.0, first_poll=True) == 10.0
