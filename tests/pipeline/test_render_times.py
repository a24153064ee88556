"""Measured render times come from the attempts' rows, read once per model per refresh."""

from __future__ import annotations

from pipeline import render_times
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
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
