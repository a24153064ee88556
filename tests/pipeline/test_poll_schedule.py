"""The poll schedule: no poll before a job can plausibly be done, then polls backing off so a
finish is noticed within a tenth of its render time, always within the bounds."""

from __future__ import annotations

import pytest

from pipeline.poll_schedule import PRIOR_SPREAD, PollBounds, RenderTimes, compensated, poll_delay
from pipeline.render_times import measured

BOUNDS = PollBounds(min_s=2.0, max_s=30.0, timeout_s=900.0)
STEADY = RenderTimes(count=50, p50_s=60.0, p95_s=66.0)  # a model that takes about a minute


def poll_times(times: RenderTimes, bounds: PollBounds, until_s: float) -> list[float]:
    """When the polls of a job that never finishes happen, up to ``until_s``."""
    at, polls, out = 0.0, 0, []
    while at < until_s:
        at += poll_delay(times, at, polls, bounds)
        polls += 1
        out.append(at)
    return out


class TestFirstPoll:
    def test_waits_until_a_measured_model_can_plausibly_be_done(self):
        first = poll_delay(STEADY, 0.0, 0, BOUNDS)
        assert first == pytest.approx(STEADY.earliest_s() * 1.07)  # lateness 10% x margin 0.7
        assert 50.0 < first < 60.0  # near the low tail (54.5 s), before the median

    def test_the_earliest_finish_is_a_cautious_bound_on_the_low_tail(self):
        low_tail = STEADY.p50_s**2 / STEADY.p95_s  # the 5th percentile of a log-normal
        assert 0.9 * low_tail < STEADY.earliest_s() < low_tail

    def test_identical_measured_renders_still_allow_for_some_spread(self):
        steady = RenderTimes(count=8, p50_s=60.0, p95_s=60.0)
        assert 52.0 < steady.earliest_s() < 58.0

    def test_few_measured_renders_leave_it_near_the_prior_spread(self):
        assert RenderTimes(1, 60.0, 66.0).spread_bound() == PRIOR_SPREAD
        assert RenderTimes(2, 60.0, 66.0).spread_bound() == PRIOR_SPREAD
        assert RenderTimes(8, 60.0, 66.0).spread_bound() < RenderTimes(3, 60.0, 66.0).spread_bound()

    def test_trusts_the_measured_tail_more_with_more_renders(self):
        delays = [poll_delay(RenderTimes(n, 60.0, 66.0), 0.0, 0, BOUNDS) for n in (1, 2, 3, 8, 200)]
        assert 0.0 < delays[0] < 20.0
        assert delays == sorted(delays)

    def test_a_model_never_measured_is_polled_at_once(self):
        prior_only = RenderTimes(count=0, p50_s=120.0, p95_s=360.0)
        assert poll_delay(prior_only, 0.0, 0, BOUNDS) == 0.0
        assert poll_delay(prior_only, 0.0, 1, BOUNDS) == BOUNDS.min_s

    def test_a_model_faster_than_the_shortest_interval_is_polled_when_done(self):
        instant = RenderTimes(count=40, p50_s=0.3, p95_s=0.4)
        assert 0.0 < poll_delay(instant, 0.0, 0, BOUNDS) < 0.3

    def test_a_widely_spread_model_is_polled_earlier(self):
        spread = RenderTimes(count=50, p50_s=60.0, p95_s=240.0)
        assert poll_delay(spread, 0.0, 0, BOUNDS) < poll_delay(STEADY, 0.0, 0, BOUNDS) / 3

    def test_a_resumed_attempt_counts_the_time_already_waited(self):
        assert poll_delay(STEADY, 40.0, 0, BOUNDS) == pytest.approx(
            poll_delay(STEADY, 0.0, 0, BOUNDS) - 40.0
        )
        assert poll_delay(STEADY, 500.0, 0, BOUNDS) == 0.0

    def test_the_skip_is_not_capped_by_the_longest_interval(self):
        slow = RenderTimes(count=50, p50_s=300.0, p95_s=330.0)
        assert poll_delay(slow, 0.0, 0, BOUNDS) > BOUNDS.max_s


class TestBackoff:
    def test_intervals_grow_with_the_time_waited(self):
        delays = [poll_delay(STEADY, at, 3, BOUNDS) for at in (10.0, 60.0, 120.0, 240.0)]
        assert delays == sorted(delays)
        assert delays[0] == BOUNDS.min_s < delays[2]

    def test_stays_within_the_shortest_and_longest_interval(self):
        assert poll_delay(STEADY, 0.5, 1, BOUNDS) == BOUNDS.min_s
        assert poll_delay(STEADY, 800.0, 9, BOUNDS) == BOUNDS.max_s

    def test_polls_when_the_attempt_times_out(self):
        assert poll_delay(STEADY, 895.0, 9, BOUNDS) == pytest.approx(5.0)
        assert poll_delay(STEADY, 899.5, 9, BOUNDS) == BOUNDS.min_s
        assert poll_delay(STEADY, 880.0, 0, BOUNDS) == 0.0  # a first poll past the skip: at once

    @pytest.mark.parametrize("render_s", [3.0, 25.0, 58.0, 61.0, 75.0, 200.0, 700.0])
    def test_a_finish_is_noticed_within_a_tenth_of_its_render_time(self, render_s):
        bounds = PollBounds(min_s=0.2, max_s=120.0, timeout_s=900.0)
        noticed = next(at for at in poll_times(STEADY, bounds, 900.0) if at >= render_s)
        if render_s >= poll_delay(STEADY, 0.0, 0, bounds):  # after the first poll's skip
            assert noticed - render_s <= 0.1 * render_s
        else:  # a render faster than this model ever was waits for the first poll only
            assert noticed == poll_delay(STEADY, 0.0, 0, bounds)

    def test_a_typical_render_costs_a_handful_of_polls(self):
        assert len(poll_times(STEADY, BOUNDS, 62.0)) <= 4
        never_measured = RenderTimes(count=0, p50_s=60.0, p95_s=240.0)
        assert len(poll_times(never_measured, BOUNDS, 62.0)) <= 28  # the price of knowing nothing


class TestMeasured:
    def test_quantiles_of_the_measured_render_times(self):
        times = measured([float(s) for s in range(1, 101)])
        assert times.count == 100
        assert times.p50_s == pytest.approx(50.5)
        assert times.p95_s == pytest.approx(95.05)

    def test_nothing_measured_counts_zero(self):
        assert measured([]).count == 0
        assert RenderTimes(0, 60.0, 240.0).earliest_s() == 0.0

    def test_the_spread_of_a_log_normal_from_its_quantiles(self):
        # p95 / p50 = 4: sigma = ln 4 / 1.645 = 0.843; 200 renders bound it 9% above that
        assert RenderTimes(200, 60.0, 240.0).spread_bound() == pytest.approx(0.843 * 1.09, rel=0.01)


class TestQueueingLag:
    """A poll that ran late (queued behind other steps on a busy machine) schedules the next one
    that much earlier, so it runs when it is due; a step that ran very late does not turn into a
    burst of polls."""

    def test_a_late_poll_pulls_the_next_one_in_by_its_lag(self):
        assert compensated(4.8, 1.5, BOUNDS) == pytest.approx(3.3)

    def test_a_poll_on_time_or_early_keeps_its_delay(self):
        assert compensated(4.8, 0.0, BOUNDS) == 4.8
        assert compensated(4.8, -0.2, BOUNDS) == 4.8

    def test_never_below_half_the_delay_nor_the_shortest_interval(self):
        assert compensated(4.8, 60.0, BOUNDS) == pytest.approx(2.4)
        assert compensated(3.0, 60.0, BOUNDS) == BOUNDS.min_s


def test_a_claimed_step_knows_when_it_was_due(tmp_path):
    """The claim returns the cursor's due time (plus the reaper's grace), from which the poll
    step measures its lag; both engines claim through it."""
    from foundation.settings import Settings
    from foundation.storyboard import parse_storyboard
    from pipeline import steps
    from pipeline.context import RunContext
    from pipeline.planning import create_job
    from store.db import session_scope
    from store.models import PipelineStep

    ctx = RunContext.create("local", Settings(data_dir=tmp_path))
    board = {"title": "t", "scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "p",
                                                              "duration": 1}]}]}  # fmt: skip
    job_id = create_job(ctx, parse_storyboard(board))
    with session_scope(ctx.db_url) as session:
        session.add(
            PipelineStep(key=steps.job_key(job_id), job_id=job_id, name="start", ref=job_id,
                         version=3, due_at=1234.5, since=None, reaped=0)
        )  # fmt: skip
    cursor = steps.claim(ctx.db_url, "start", job_id, 3, 60.0, "me")
    assert cursor is not None
    assert cursor.due_at == 1234.5
