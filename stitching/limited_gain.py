"""The gain that brings a programme to its target loudness through the true-peak limiter.

Under heavy limiting the loudness need not rise with the gain: boosting a quiet bed under a
limited voice lets the bed's 400 ms blocks past BS.1770's relative gate, and the integrated
loudness falls before it rises again (the local animatic's 1.25 s line over its bed, asked for
-10 LUFS: -11.9 at +12 dB, -13.2 at +14 dB, -10.8 at +24 dB, -8.7 at +28 dB). Secant steps from
the plain gain reach most programmes in a try or two; when they miss, a gain too quiet next to
one too loud is found (among the tries, else scanning on from them) and the bracket halved.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import numpy as np

from stitching.loudness import PEAK_HEADROOM_DB, Pcm, limit, measure_pcm
from stitching.profile import OutputProfile

CLOSE_LU = 0.3  # a try this close to the target ends the search
SECANT_TRIES = 4
SCAN_STEP_DB = 6.0
SCAN_STEPS = 8
HALVINGS = 6
PLATEAU_LU = 0.05  # a scan step that moves the loudness less than this ends the scan


class _Search:
    """``pcm`` gained and limited, measured once per gain; the try closest to the target kept."""

    def __init__(self, pcm: Pcm, profile: OutputProfile) -> None:
        self.pcm, self.profile = pcm, profile
        self.errors: dict[float, float] = {}  # gain -> target minus the loudness reached
        self.best: tuple[float, Pcm, float] | None = None

    def limited(self, gain: float) -> Pcm:
        gained = (self.pcm * np.float32(10 ** (gain / 20))).astype(np.float32)
        ceiling = self.profile.true_peak_db - PEAK_HEADROOM_DB
        return limit(gained, ceiling, self.profile.sample_rate)

    def error(self, gain: float) -> float:
        if gain not in self.errors:
            limited = self.limited(gain)
            error = (
                self.profile.loudness_lufs
                - measure_pcm(limited, self.profile.sample_rate).integrated
            )
            self.errors[gain] = error
            if self.best is None or abs(error) < self.best[0]:
                self.best = (abs(error), limited, gain)
        return self.errors[gain]

    @property
    def close(self) -> bool:
        return self.best is not None and self.best[0] < CLOSE_LU


class Limited(NamedTuple):
    pcm: Pcm
    gain: float
    reachable_lufs: float | None
    """The loudest the limiter let the programme be, when that stays short of the target however
    much gain (None: the target is within reach)."""


def limited_to_target(pcm: Pcm, gain: float, profile: OutputProfile) -> Limited:
    """``pcm`` gained and limited under the true-peak ceiling, and the gain, closest to the
    target of the tries: secant steps from ``gain`` (each divides the error by the loudness gained
    per dB in the last step: limiting makes it less than one), then a halved bracket."""
    search = _Search(pcm, profile)
    slope, before = 1.0, None
    for _ in range(SECANT_TRIES):
        error = search.error(gain)
        if search.close:
            break
        if before is not None and gain != before[0]:
            slope = min(1.0, max(0.25, (before[1] - error) / (gain - before[0])))
        before = (gain, error)
        gain += error / slope
    if not search.close and _bracketed(search):
        return _least_limited(search)
    assert search.best is not None
    return Limited(search.best[1], search.best[2], None)


def _least_limited(search: _Search) -> Limited:
    """Out of reach: the least gain that comes within ``CLOSE_LU`` of the loudest try (more gain
    would only squash the programme harder for a fraction of a LU)."""
    loudest = min(search.errors.values())
    gain = min(g for g, error in search.errors.items() if error <= loudest + CLOSE_LU)
    reached = search.profile.loudness_lufs - search.errors[gain]
    return Limited(search.limited(gain), gain, reached)


def _bracketed(search: _Search) -> bool:
    """Halve a bracket of gains whose errors differ in sign: two neighbouring tries, else the
    highest try and one ``SCAN_STEP_DB`` steps above it (still too quiet at the top), or the
    lowest and one below (already too loud at the bottom). True when the scan up found no gain
    loud enough: the limiter holds the programme under the target."""
    gains = sorted(search.errors)
    pairs = [(a, b) for a, b in pairwise(gains) if (search.errors[a] > 0) != (search.errors[b] > 0)]
    if pairs:
        low, high = pairs[0]
    else:
        step = SCAN_STEP_DB if search.errors[gains[-1]] > 0 else -SCAN_STEP_DB
        low = high = gains[-1] if step > 0 else gains[0]
        sign = search.errors[low] > 0
        for _ in range(SCAN_STEPS):
            low, high = high, high + step
            if (search.error(high) > 0) != sign:
                break
            if abs(search.errors[high] - search.errors[low]) < PLATEAU_LU:
                return step > 0  # the limiter holds the loudness: no gain reaches the target
        else:
            return step > 0
    for _ in range(HALVINGS):
        if search.close:
            break
        middle = (low + high) / 2
        if (search.error(middle) > 0) == (search.error(low) > 0):
            low = middle
        else:
            high = middle
    return False
