"""When to poll a provider job next, from how long the model's renders take.

Pure arithmetic, no I/O. The first poll waits until the job can plausibly be done: the low tail
(about the 5th percentile) of the model's measured render times, trusted more the more renders were
measured. A model with no measured renders is polled at once, not at the registry's prior: the
prior describes the hosted provider, the same model id may answer in a second (an emulator), and a
first poll later than the finish breaks the lateness bound below. Models faster than the shortest
interval are polled when done (a local renderer is done when its submit returns). After that, polls back off in proportion to the time already waited, so a
finish is noticed at most ``lateness`` (a fraction) of the render's own duration after it happened:
a job that took 60 s is noticed within 6 s, while only a handful of polls is spent on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.645  # the standard normal's 95th percentile
TRUST_WEIGHT = 2.0  # measured renders needed for half trust in the measured low tail


@dataclass(frozen=True)
class RenderTimes:
    """A model's render times: how many were measured and their median and 95th percentile.

    ``count == 0``: none measured; the quantiles then set nothing.
    """

    count: int
    p50_s: float
    p95_s: float

    def low_tail_s(self) -> float:
        """About the 5th percentile, assuming log-normal render times (``p50**2 / p95``)."""
        if self.p50_s <= 0:
            return 0.0
        return self.p50_s * self.p50_s / max(self.p95_s, self.p50_s)

    def trust(self) -> float:
        """How far the measured low tail is believed, from 0 (nothing measured) towards 1."""
        return self.count / (self.count + TRUST_WEIGHT) if self.count > 0 else 0.0


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
    margin: float = 0.8  # of ``lateness``, left for the poll's own round trip and queueing


def poll_delay(times: RenderTimes, elapsed_s: float, polls: int, bounds: PollBounds) -> float:
    """Seconds from now to the next poll of a job submitted ``elapsed_s`` ago and polled
    ``polls`` times so far (0: the coming poll is the first)."""
    elapsed = max(0.0, elapsed_s)
    until_timeout = max(0.0, bounds.timeout_s - elapsed)
    if polls == 0:  # not capped by ``max_s`` (nothing to see yet), nor raised to ``min_s``
        plausible = times.trust() * times.low_tail_s() - elapsed
        return min(max(0.0, plausible), until_timeout) if math.isfinite(plausible) else 0.0
    return max(bounds.min_s, min(backoff_s(elapsed, bounds), until_timeout))


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
