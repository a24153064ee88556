"""Typed findings: what the gate saw, where (closed intervals in seconds) and how bad."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Severity = Literal["info", "warning", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Finding:
    """One defect or observation. ``start``/``end`` bound a closed interval in seconds, or are None
    for whole-clip findings such as ``wrong_size``. ``value`` is the measured number behind it."""

    code: str
    message: str
    start: float | None = None
    end: float | None = None
    severity: Severity = "error"
    value: float | None = None

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.end - self.start

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("start", "end", "value"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 4)
        return data


@dataclass(frozen=True)
class Run:
    """A run of consecutive frames ``first..last`` (inclusive indexes)."""

    first: int
    last: int


def runs(mask: npt.NDArray[np.bool_], min_len: int = 1) -> list[Run]:
    """Maximal runs of True in ``mask`` that are at least ``min_len`` long."""
    if mask.size == 0:
        return []
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    return [Run(int(a), int(b) - 1) for a, b in zip(starts, stops, strict=True) if b - a >= min_len]


def run_interval(run: Run, times: npt.NDArray[np.float64], end_s: float) -> tuple[float, float]:
    """Closed interval of a frame run: from the first frame's time to the start of the next frame,
    or to ``end_s`` (the end of the last frame) when the run reaches EOF, so it closes exactly there."""
    start = float(times[run.first])
    end = float(times[run.last + 1]) if run.last + 1 < times.size else end_s
    return start, max(start, end)


def subtract(
    interval: tuple[float, float], holes: Iterable[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``interval`` minus every hole, as a list of remaining closed intervals."""
    pieces = [interval]
    for h_start, h_end in holes:
        nxt: list[tuple[float, float]] = []
        for start, end in pieces:
            if h_end <= start or h_start >= end:
                nxt.append((start, end))
                continue
            if h_start > start:
                nxt.append((start, h_start))
            if h_end < end:
                nxt.append((h_end, end))
        pieces = nxt
    return pieces


def position(start: float, end: float, clip_end: float, eps: float) -> str:
    """'head', 'tail', 'whole' or 'middle' for an interval inside ``[0, clip_end]``."""
    at_head = start <= eps
    at_tail = end >= clip_end - eps
    if at_head and at_tail:
        return "whole"
    if at_head:
        return "head"
    if at_tail:
        return "tail"
    return "middle"


def worst(findings: Sequence[Finding]) -> Severity:
    best: Severity = "info"
    for finding in findings:
        if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[best]:
            best = finding.severity
    return best
