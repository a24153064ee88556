"""When to poll a provider job next, from how long the model's renders take.

Pure arithmetic, no I/O. The first poll waits until the job can plausibly be done: a cautious
earliest finish, the lower ~95% confidence bound on the 5th percentile of the model's measured
render times (log-normal; the spread bounded from above by the chi-square interval of the measured
spread, so few renders or widely spread ones move it earlier), and then as much later as the
lateness bound allows, since a render finishing at that earliest time is still noticed in time. A
model with no measured renders is polled at once, not at the registry's prior: the prior describes
the hosted provider, the same model id may answer in a second (an emulator), and a first poll later
than the finish breaks the lateness bound below. Models faster than the shortest interval are
polled when done (a local renderer is done when its submit returns). After that, polls back off in
proportion to the time already waited, so a finish is noticed at most ``lateness`` (a fraction) of
the render's own duration after it happened: a job that took 60 s is noticed within 6 s, while only
a handful of polls is spent on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.645  # the standard normal's 95th percentile
PRIOR_SPREAD = 0.5  # log-normal sigma assumed of a model measured once (hosted renders: 0.5x-2x)
MIN_SPREAD = 0.02  # no two renders take the same time: a measured spread under 2% is taken as 2%


@dataclass(frozen=True)
class RenderTimes:
    """A model's render times: how many were measured and their median and 95th percentile.

    ``count == 0``: none measured; the quantiles then set nothing.
    """

    count: int
    p50_s: float
    p95_s: float

    def spread_bound(self) -> float:
        """An upper ~95% confidence bound on the log-normal sigma of the render times: the measured
        sigma (from p50 and p95) over the chi-square interval of ``count - 1`` degrees of freedom
        (Wilson-Hilferty), at least ``MIN_SPREAD``; never above ``PRIOR_SPREAD``, the spread assumed
        of a single render (which measures none), or twice the measured sigma when that is wider."""
        if self.count < 2 or self.p50_s <= 0:
            return PRIOR_SPREAD
        sigma = max(MIN_SPREAD, math.log(max(self.p95_s, self.p50_s) / self.p50_s) / Z95)
        dof = self.count - 1
        step = 2.0 / (9.0 * dof)
        chi2_low = dof * max(1e-9, 1.0 - step - Z95 * math.sqrt(step)) ** 3
        return min(sigma * math.sqrt(dof / chi2_low), max(PRIOR_SPREAD, 2 * sigma))

    def earliest_s(self) -> float:
        """A cautious earliest finish: the lower ~95% bound on the 5th percentile, the median's
        own uncertainty (``sigma / sqrt(count)``) included; 0 when nothing was measured."""
        if self.count <= 0 or self.p50_s <= 0:
            return 0.0
        sigma = self.spread_bound()
        return self.p50_s * math.exp(-sigma * Z95 * (1.0 + 1.0 / math.sqrt(self.count)))


@dataclass(frozen=True)
class PollBounds:
    """The limits every delay stays within.

    ``min_s``/``max_s``: shortest and longest interval between two polls; ``timeout_s``: the
    attempt's timeout (a poll is due when it passes, so the timeout is noticed on time);
    ``lateness``: how late a finish may be noticed, as a fraction of the time it took.
    """

    min_s: float
    max_s: float
    timeout_s: float
    lateness: float = 0.1
    # the share of ``lateness`` an interval between polls may take; the rest (3% of the render
    # time, 1.8 s of a 60 s render) is left for the poll's own round trip and its queueing (a
    # thousand polls due together queued 1.2 s in ``bench_inflight.py``, 2026-12-05)
    margin: float = 0.7


def poll_delay(times: RenderTimes, elapsed_s: float, polls: int, bounds: PollBounds) -> float:
    """Seconds from now to the next poll of a job submitted ``elapsed_s`` ago and polled
    ``polls`` times so far (0: the coming poll is the first)."""
    elapsed = max(0.0, elapsed_s)
    until_timeout = max(0.0, bounds.timeout_s - elapsed)
    if polls == 0:  # not capped by ``max_s`` (nothing to see yet), nor raised to ``min_s``
        plausible = first_poll_s(times, bounds) - elapsed
        return min(max(0.0, plausible), until_timeout) if math.isfinite(plausible) else 0.0
    return max(bounds.min_s, min(backoff_s(elapsed, bounds), until_timeout))


def first_poll_s(times: RenderTimes, bounds: PollBounds) -> float:
    """Seconds from submission to the first poll: the earliest plausible finish, stretched by the
    lateness a finish at that moment may have (``lateness * margin``): later finishes are seen by
    this poll or the backed-off ones after it, each in time."""
    return times.earliest_s() * (1.0 + bounds.lateness * bounds.margin)


def compensated(delay_s: float, lag_s: float, bounds: PollBounds) -> float:
    """``delay_s`` shortened by ``lag_s``, how late this poll ran after it was due (queued behind
    other steps on a busy machine), so that the next one, queued as long, runs when it is due;
    never below half the delay nor the shortest interval, so a step that ran very late (reaped,
    resumed) does not turn into a burst of polls."""
    return max(bounds.min_s, delay_s / 2, delay_s - max(0.0, lag_s))


def backoff_s(elapsed_s: float, bounds: PollBounds) -> float:
    """The interval between two polls of a job waited on for ``elapsed_s`` seconds."""
    low, high = bounds.min_s, max(bounds.min_s, bounds.max_s)
    return min(high, max(low, bounds.lateness * bounds.margin * elapsed_s))
